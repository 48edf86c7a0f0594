"""Importers: other libraries' published GAN checkpoints, converted once into ordinary ganzoo folders.

A catalog entry with ``weights="import"`` names an original release in its ``source``. On first
load the file is fetched (huggingface_hub for Hub files, a plain download with a progress bar for
URLs), its sha256 is compared with the pinned value BEFORE anything reads it, it is read with
``torch.load(weights_only=True)`` only (tensors and plain containers, no code; see
ganzoo.pretrained.upstream) or by the reader its importer names (``ImporterSpec.read``: a restricted
unpickler for a format torch.load cannot read safely), converted by the importer a plugin registered for its layout, its
tensors checked against the variant's networks on the meta device before any is built, and saved
with save_pretrained under ``$GANZOO_CACHE/imported``. Later loads read only that folder's
config.json and safetensors.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .building import build_networks, meta_networks
from .config import make_config
from .hf import HUB_PREFIX
from .model import GanModel
from .plugins import get_state
from .pretrained.folder import CONFIG_FILE, WEIGHTS_FILE, check_writable, save_pretrained
from .pretrained.upstream import cache_root, check_pin, fetch, read_checkpoint, record_pin, recorded_pins
from .pretrained.weights import FLOAT_DTYPES, INT_DTYPES, WeightsError, assign_strict, networks_bytes, too_large
from .registry import ImporterSpec, ModelCard, load_ref

__all__ = [
    "Converted",
    "WeightsError",
    "state_dict_of",
    "remap",
    "need",
    "convert",
    "import_checkpoint",
    "fetch",
    "read_checkpoint",
    "catalog_import",
    "cache_root",
    "check_pin",
    "recorded_pins",
    "record_pin",
]

UPSTREAM_DTYPES = {getattr(torch, name) for name in FLOAT_DTYPES + INT_DTYPES}  # what a weight may be stored as


@dataclass
class Converted:
    """An importer's result: the variant's config, its generator tensors under ganzoo's names
    ("G.main.0.weight"), where each came from (ganzoo name -> upstream name), and the data record."""

    config: dict
    tensors: dict[str, torch.Tensor]
    origin: dict[str, str] = field(default_factory=dict)
    data: dict = field(default_factory=dict)  # config.json's "data": spec, kind, class names


# ---- helpers for importers: strict mapping of an upstream state dict --------------------------------


def state_dict_of(checkpoint: Any, key: str | None, importer: str) -> dict[str, torch.Tensor]:
    """The tensors under ``checkpoint[key]`` (the checkpoint itself when ``key`` is None); anything else is refused."""
    state = checkpoint.get(key) if key is not None and isinstance(checkpoint, Mapping) else checkpoint
    if key is not None and not (isinstance(checkpoint, Mapping) and key in checkpoint):
        found = sorted(map(str, checkpoint))[:5] if isinstance(checkpoint, Mapping) else type(checkpoint).__name__
        raise WeightsError(
            f"{importer}: the checkpoint has no {key!r} entry (found {found}): it is not saved in "
            f"the layout this importer reads"
        )
    if not (isinstance(state, Mapping) and all(isinstance(v, torch.Tensor) for v in state.values())):
        raise WeightsError(f"{importer}: the checkpoint's {key or 'top level'} is not a dict of tensors")
    for name, tensor in state.items():
        _check_upstream(importer, key or "top level", name, tensor)
    return dict(state)


def _check_upstream(importer: str, where: str, name: Any, tensor: torch.Tensor) -> None:
    """One upstream tensor: a name, a real float or integer dtype, and stored whole (an expanded view of a few
    stored values could make a tiny file ask for gigabytes): refused before any conversion touches it."""
    if not isinstance(name, str):
        raise WeightsError(
            f"{importer}: the checkpoint's {where} has the key {name!r} ({type(name).__name__}), not a tensor "
            f"name: it is not a saved state dict"
        )
    if tensor.dtype not in UPSTREAM_DTYPES or tensor.layout != torch.strided:
        what = str(tensor.dtype).removeprefix("torch.") if tensor.layout == torch.strided else str(tensor.layout)
        raise WeightsError(
            f"{importer}: tensor {name!r} is {what}, not a float or integer weight: the checkpoint is "
            f"corrupt or not in the layout this importer reads"
        )
    stored = tensor.untyped_storage().nbytes()
    if stored < tensor.numel() * tensor.element_size():
        raise WeightsError(
            f"{importer}: tensor {name!r} of shape {tuple(tensor.shape)} is a view of {stored:,} stored bytes "
            f"repeated (an expanded tensor, not saved weights): refused before anything of its size is allocated"
        )


def remap(
    state: Mapping[str, torch.Tensor],
    mapping: Mapping[str, tuple[str, Callable | None]],
    *,
    importer: str,
    ignore: tuple[str, ...] = (),
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Rename (and transform) upstream tensors: {upstream: (ganzoo, fn)}. Every upstream name must be
    there and none may be left over except under the ``ignore`` prefixes (networks not imported)."""
    missing = [k for k in mapping if k not in state]
    if missing:
        raise WeightsError(
            f"{importer}: the checkpoint lacks tensor {missing[0]!r}"
            + _more(missing)
            + ": it is not the layout this importer reads, or it is truncated"
        )
    extra = sorted(k for k in state if k not in mapping and not k.startswith(ignore))
    if extra:
        raise WeightsError(
            f"{importer}: the checkpoint has unexpected tensor {extra[0]!r}"
            + _more(extra)
            + ": it was saved from another architecture than this importer maps"
        )
    tensors = {name: (fn(state[k]) if fn else state[k]) for k, (name, fn) in mapping.items()}
    return tensors, {name: k for k, (name, _) in mapping.items()}


def need(state: Mapping[str, torch.Tensor], key: str, importer: str, ndim: int) -> torch.Tensor:
    """An upstream tensor that a layout is read from, with the number of dimensions it must have."""
    if key not in state:
        raise WeightsError(f"{importer}: the checkpoint lacks tensor {key!r}: it is not the layout this importer reads")
    if state[key].dim() != ndim:
        raise WeightsError(
            f"{importer}: tensor {key!r} has shape {tuple(state[key].shape)}, not the {ndim} dimensions this layout has"
        )
    return state[key]


def _more(names: list) -> str:
    return f" and {len(names) - 1} more" if len(names) > 1 else ""


# ---- converting and saving ----------------------------------------------------------------------------


def convert(
    importer: str | ImporterSpec,
    checkpoint: Any,
    *,
    expect: Mapping[str, Any] | None = None,
    source: str = "the checkpoint",
) -> tuple[GanModel, dict]:
    """The ganzoo model an importer makes of a checkpoint read with weights_only=True, and its data record;
    ``expect`` holds config values it must have (a catalog entry's), refused naming the first that differs.
    The tensors are checked against the networks built on the meta device before the real ones are built."""
    spec = importer if isinstance(importer, ImporterSpec) else get_state().importers.get(importer)
    converted = _run(spec, checkpoint, source)
    variant = get_state().variants.get(spec.variant)
    config = make_config(variant.load_config_class(), converted.config, variant=variant.name)
    for key, value in (expect or {}).items():
        if getattr(config, key, None) != (tuple(value) if isinstance(value, list) else value):
            raise WeightsError(
                f"{source}: {spec.name} reads {key}={getattr(config, key, None)!r} from it, but the "
                f"catalog entry expects {value!r}: it is another release than the entry names"
            )
    nets = sorted({k.split(".", 1)[0] for k in converted.tensors})
    meta = meta_networks(variant, config)
    if meta is not None:  # shapes and sizes first: nothing is allocated for a file that does not fit
        _check_shapes(meta, converted, nets, variant.name, spec.name, source)
        need, held = networks_bytes(meta), _held_bytes(converted.tensors)
        if too_large(need, held):
            raise WeightsError(
                f"{source}: {spec.name} reads a config from it whose networks take {need / 2**20:,.0f} MiB, out of "
                f"proportion with the {held / 2**20:,.1f} MiB of weights it holds: refused before building them"
            )
    model = GanModel(variant, config, build_networks(variant, config), classes=converted.data.get("classes"))
    if meta is None:  # a builder that needs real tensors: the same checks, once they are built
        _check_shapes(model.nets, converted, nets, variant.name, spec.name, source)
    assign_strict(model, converted.tensors, nets, source)
    model.nets.eval()
    return model, converted.data


def _run(spec: ImporterSpec, checkpoint: Any, source: str) -> Converted:
    """The importer's conversion; whatever else than a WeightsError it raises on a file is one line naming both."""
    conversion = load_ref(spec, "convert")  # a plugin that cannot load is that plugin's error
    try:
        return conversion(checkpoint)
    except WeightsError:
        raise
    except Exception as exc:  # a hostile or unexpected file reaching code that did not foresee it
        raise WeightsError(
            f"{source}: importer {spec.name!r} cannot read it ({type(exc).__name__}: {str(exc)[:200]}); it is not "
            f"in the layout {spec.name} reads (if it is, report this to the plugin's authors)"
        ) from None


def _check_shapes(networks: Any, converted: Converted, nets: list[str], variant: str, importer: str, source: str):
    """Each converted tensor's shape against the networks' (meta or real), naming the upstream tensor."""
    unknown = [n for n in nets if n not in networks]
    if unknown:
        raise WeightsError(f"{source}: {importer} gives tensors of network {unknown[0]!r}, which {variant!r} lacks")
    for key, want in ((f"{n}.{k}", v) for n in nets for k, v in networks[n].state_dict().items()):
        got = converted.tensors.get(key)
        if got is not None and tuple(got.shape) != tuple(want.shape):
            raise WeightsError(
                f"{source}: tensor {converted.origin.get(key, key)!r} gives {key} of shape "
                f"{tuple(got.shape)}, but {variant!r} with {importer}'s config needs "
                f"{tuple(want.shape)}: the checkpoint is from another architecture"
            )


def _held_bytes(tensors: Mapping[str, torch.Tensor]) -> int:
    """The bytes of weights a conversion holds: each storage once (views of one storage are not more weights)."""
    storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in tensors.values()}
    return sum(storages.values())


def import_checkpoint(
    importer: str,
    location: str,
    out: str | Path,
    *,
    sha256: str | None = None,
    revision: str | None = None,
    card: ModelCard | None = None,
    prefix: str | None = None,
) -> tuple[Path, str]:
    """Fetch, verify, read, convert and save one checkpoint as a ganzoo folder; (folder, the file's sha256)."""
    spec = get_state().importers.get(importer)  # an unknown importer is refused before any download
    out = Path(out)
    check_writable(out)  # never write over a folder ganzoo did not write, and say so before downloading
    path, digest, temporary = fetch(location, sha256=sha256, revision=revision, prefix=prefix)
    try:
        checkpoint = (load_ref(spec, "read") if spec.read else read_checkpoint)(path)  # after the hash check
    finally:
        if temporary:
            path.unlink(missing_ok=True)
    model, data = convert(spec, checkpoint, expect=card.config if card else None, source=location)
    return _save(model, data, out, spec, location, digest, card), digest


def _save(
    model: GanModel, data: dict, out: Path, spec: ImporterSpec, location: str, digest: str, card: ModelCard | None
) -> Path:
    """save_pretrained: written beside ``out`` and swapped in, so the folder holds the old model or the new one,
    whole, whatever happens (a kill included); hidden folders of killed imports are removed by the next one."""
    metrics = dict(card.metrics) if card else {}
    if card:  # the catalog entry knows the data (and a conditional model's class names) the file does not
        classes = {"classes": card.source["classes"]} if card.source.get("classes") else {}
        data = {"spec": card.dataset, "kind": model.task.data_kinds[0], **data, **classes}
    recipe = f"ganzoo import {spec.name}:{location} --out FOLDER   # sha256 {digest}"
    return save_pretrained(
        model,
        out,
        data=data or None,
        metrics=metrics,
        recipe=recipe,
        name=card.name if card else out.name,
        license=(card.license if card else "other").lower(),
    )


def catalog_import(card: ModelCard) -> Path:
    """The cached folder of a catalog entry with weights="import", made on first use."""
    source = card.source or {}
    if source.get("url"):
        location = source["url"]
    elif source.get("hub") and source.get("file"):
        location = f"{HUB_PREFIX}{source['hub']}/{source['file']}"
    else:
        raise WeightsError(f"catalog entry {card.name!r} names no 'url' nor 'hub' + 'file' to import from")
    importer, revision = source.get("importer", ""), source.get("revision")
    if source.get("sha256"):  # a full hash the upstream publishes: enforced on every download
        pin = check_pin(source["sha256"], f"catalog entry {card.name!r}")
        folder = cache_root() / f"{card.name}-{pin[:16]}"
        if _complete(folder):
            return folder
        return _import_once(folder, importer, location, sha256=pin, revision=revision, card=card)[0]
    # the upstream publishes no full hash: the first download's is recorded, shown, and enforced afterwards
    folder = cache_root() / f"{card.name}-recorded"
    if _complete(folder):
        return folder
    recorded = recorded_pins().get(location, {}).get("sha256")
    folder, digest = _import_once(
        folder, importer, location, sha256=recorded, revision=revision, card=card, prefix=source.get("sha256_prefix")
    )
    if recorded is None and digest:  # (no digest: another process imported it first, and recorded it)
        where = record_pin(location, digest)
        warnings.warn(
            f"{card.name}: the upstream publishes no sha256 for {location}; this first download's, {digest}, is now "
            f"recorded in {where}, and every later download must match it",
            UserWarning,
            stacklevel=2,
        )
    return folder


def _import_once(folder: Path, importer: str, location: str, **options: Any) -> tuple[Path, str]:
    """import_checkpoint into a cache folder; another process that finished the same import first wins."""
    try:
        return import_checkpoint(importer, location, folder, **options)
    except FileExistsError:
        if _complete(folder):
            return folder, ""
        raise


def _complete(folder: Path) -> bool:
    return (folder / CONFIG_FILE).is_file() and (folder / WEIGHTS_FILE).is_file()
