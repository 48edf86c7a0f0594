"""What plugins register: variants, pretrained model cards, data sets and metrics.

Entries are plain dataclasses that name their code lazily as "module:attr" strings, so that
listing and inspecting never imports torch. Every entry records the plugin that registered it.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

__all__ = [
    "Variant",
    "ModelCard",
    "DatasetSpec",
    "MetricSpec",
    "ImporterSpec",
    "Registry",
    "UnknownNameError",
    "DuplicateNameError",
    "PluginError",
    "resolve_ref",
    "did_you_mean",
]


class UnknownNameError(KeyError):
    """A name that no plugin registered; the message suggests close matches."""

    def __str__(self) -> str:  # KeyError would print the message with quotes around it
        return str(self.args[0])


class DuplicateNameError(ValueError):
    """Two plugins registered the same name."""


class PluginError(RuntimeError):
    """A plugin's own code failed; the message names the plugin."""


def resolve_ref(ref: Any) -> Any:
    """Import a lazy "package.module:attr" reference; anything else is returned as it is.

    A module that calls sys.exit() while importing raises ImportError here: a plugin cannot end the program.
    """
    if not isinstance(ref, str):
        return ref
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"lazy reference {ref!r} must look like 'package.module:attr'")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except BaseException as exc:
        if isinstance(exc, (Exception, KeyboardInterrupt)):
            raise
        raise ImportError(f"importing {module_name!r} raised {type(exc).__name__}({exc})") from exc
    return obj


def lazy_attribute(namespace: dict[str, Any], table: dict[str, str], owner: str, name: str) -> Any:
    """A module ``__getattr__`` for names imported on first use: resolves ``table[name]`` and keeps it in
    ``namespace`` (the module's globals), so that importing the module itself stays light."""
    ref = table.get(name)
    if ref is None:
        raise AttributeError(f"module {owner!r} has no attribute {name!r}")
    value = resolve_ref(ref)
    namespace[name] = value
    return value


def load_ref(entry: Any, field_name: str) -> Any:
    """Resolve one lazy reference of a registered entry; a failure is that plugin's error, naming the reference."""
    ref = getattr(entry, field_name)
    try:
        return resolve_ref(ref)
    except Exception as exc:
        raise PluginError(
            f"{type(entry).__name__.lower()} {entry.name!r} from plugin {entry.plugin!r}: its {field_name} "
            f"{ref!r} cannot be loaded ({type(exc).__name__}: {exc}); reinstall or update the plugin "
            f"(`ganzoo plugins` lists what is loaded)"
        ) from exc


@dataclass(frozen=True)
class Variant:
    """A GAN family: its config dataclass, network builder and training step, named lazily."""

    name: str  # registry name, e.g. "dcgan"
    summary: str  # one line for `ganzoo list`
    paper: str  # citation and link of the paper it follows
    config: Any  # config dataclass, or "module:ConfigClass"
    build: Any  # build(config) -> dict[str, nn.Module], or "module:build"
    step: Any  # the training step class, or "module:Step"
    data_kind: str = "image"  # "image", "points" (flat vectors), "unpaired" or "paired" (two image domains)
    task: str = "sample"  # "sample" (noise -> data) or "translate" (domain A <-> domain B)
    license: str = "MIT"  # license of the implementation
    suggests: Any = None  # settings this variant wants on some data, keyed by data kind or data spec name
    #                       (the name wins): {"points": {"gp_lambda": 0.1, "ema": 0.99}}; config fields or
    #                       engine options, taken where the user sets nothing else
    plugin: str = ""  # filled in by the registry: the plugin that registered it

    def load_config_class(self) -> type:
        return load_ref(self, "config")

    def load_build(self):
        return load_ref(self, "build")

    def load_step(self) -> type:
        return load_ref(self, "step")


@dataclass(frozen=True)
class ModelCard:
    """A pretrained model in the catalog, and where its weights are.

    ``weights`` is one of: "bundled:<package>/<folder>" (shipped inside a Python package),
    "hf-hub:<org>/<repo>[@<revision>]", "import" (another library's published checkpoint,
    described by ``source`` and converted on first load), or "recipe" (not published yet:
    ``recipe`` trains it).
    """

    name: str  # catalog name, e.g. "dcgan-mnist"
    variant: str  # registered variant that builds its networks
    summary: str  # one line for `ganzoo list`
    weights: str  # where the weights are (see above)
    dataset: str  # data it was trained on, as a data spec
    recipe: str  # the exact command that trains (and publishes) it
    config: dict = field(default_factory=dict)  # variant config overrides
    metrics: dict = field(default_factory=dict)  # measured numbers, each with its protocol
    license: str = "MIT"  # license of the weights
    source: dict = field(default_factory=dict)  # weights="import": {"importer", "url" or "hub" + "file"
    #                                             [+ "revision"], "sha256" (pinned, or its published prefix),
    #                                             "paper", "homepage"}
    plugin: str = ""  # filled in by the registry

    @property
    def availability(self) -> str:
        """ "bundled", "hub", "import" or "recipe only"."""
        if self.weights.startswith("bundled:"):
            return "bundled"
        if self.weights.startswith("hf-hub:"):
            return "hub"
        if self.weights == "import":
            return "import" if self.source.get("sha256") else "import (hash recorded at first download)"
        return "recipe only"


@dataclass(frozen=True)
class DatasetSpec:
    """A data spec for ``--data``: "NAME" or "NAME:ARG" (e.g. "mnist-5k", "cifar10:/data")."""

    name: str  # the part before ":" in a spec
    summary: str  # one line for `ganzoo list --datasets`
    load: Any  # load(arg, *, image_size, channels) -> Dataset, or "module:load"
    kind: str = "image"  # "image", "points", "unpaired" or "paired"
    needs_arg: bool = False  # True when the spec must carry ":ARG" (a root folder, say)
    arg: str = "ROOT"  # what ARG is, for messages: "ROOT", "PATH", "ORG/NAME[@REVISION][:SPLIT]"
    suggests: Any = None  # config values that fit this data, e.g. {"channels": 1, "image_size": 32};
    #                       a run takes them where the user sets nothing else (settings that fit only
    #                       some variants belong in those variants' own ``Variant.suggests``)
    options: tuple = ()  # further keywords its load takes (an hf: spec's image_column, say); a run records
    #                      the data set's ``source`` dict and passes it back to load on resume
    plugin: str = ""  # filled in by the registry


@dataclass(frozen=True)
class MetricSpec:
    """A metric for ``ganzoo eval``: compute(samples, reference, *, extractor=None, seed=0, **options) -> dict.

    The first key of the returned dict is the headline number (lower or higher is better, as its
    summary says); ``ganzoo.evaluate`` writes the protocol beside it.
    """

    name: str
    summary: str
    compute: Any  # callable or "module:attr"
    # the data kinds it applies to; on "unpaired"/"paired" compute(model, data, *, seed) scores a translation model
    data_kind: str = "image"
    plugin: str = ""
    conditional: bool = False  # scores class-conditional models only (bench leaves it out for the others)
    uses_reference: bool = True  # False: compute() ignores the reference images, so evaluate() loads none


@dataclass(frozen=True)
class ImporterSpec:
    """A source format for ``ganzoo import``: another library's checkpoint layout mapped onto a variant.

    ``convert(checkpoint) -> ganzoo.importers.Converted`` takes what ``torch.load(weights_only=True)``
    read and returns the variant's config and its generator tensors, refusing any missing, extra or
    mis-shaped upstream tensor by name.
    """

    name: str  # source format, e.g. "mmagic-dcgan"
    summary: str  # one line for `ganzoo list --importers`
    variant: str  # the registered variant its networks are loaded into
    convert: Any  # callable or "module:attr"
    upstream: str = ""  # the library whose checkpoints it reads, e.g. "open-mmlab/mmagic"
    read: Any = ""  # callable or "module:attr" reading the verified file into what convert takes (a format
    #                 torch.load cannot read safely); "" = torch.load(weights_only=True)
    plugin: str = ""  # filled in by the registry


E = TypeVar("E")


class Registry(Generic[E]):
    """Named entries of one kind, with wildcard listing and "did you mean" lookup."""

    def __init__(self, kind: str):
        self.kind = kind  # "variant", "model", ... used in messages
        self._entries: dict[str, E] = {}

    def add(self, entry: E, plugin: str) -> E:
        name = getattr(entry, "name", None)
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.kind} needs a non-empty string name, got {name!r}")
        if name in self._entries:
            owner = getattr(self._entries[name], "plugin", "?")
            raise DuplicateNameError(
                f"{self.kind} {name!r} from plugin {plugin!r} is already registered by plugin "
                f"{owner!r}; rename one of them"
            )
        entry = _with_plugin(entry, plugin)
        self._entries[name] = entry
        return entry

    def names(self, pattern: str = "*") -> list[str]:
        return sorted(n for n in self._entries if fnmatch.fnmatchcase(n, pattern))

    def get(self, name: str) -> E:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        return f"unknown {self.kind} {name!r}{did_you_mean(name, self._entries)} (`ganzoo list` shows them all)"

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[E]:
        return iter(self._entries[n] for n in self.names())

    def __len__(self) -> int:
        return len(self._entries)


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """ "; did you mean 'x'?" naming up to three candidates close to ``name``, or "".

    Case is ignored: "DCGAN" finds "dcgan".
    """
    by_lower: dict[str, list[str]] = {}
    for candidate in candidates:
        by_lower.setdefault(candidate.lower(), []).append(candidate)
    close = [
        c for key in difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.6) for c in by_lower[key]
    ][:3]
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def _with_plugin(entry: Any, plugin: str) -> Any:
    from dataclasses import replace

    return replace(entry, plugin=plugin)
