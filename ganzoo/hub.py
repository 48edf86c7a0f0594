"""Published models: save_pretrained / load / push_to_hub, model cards, and name resolution.

A published model is a folder (local, bundled in a package, or a Hugging Face Hub repo) with
config.json, model.safetensors, README.md and samples.png. Loading never unpickles and never
imports code named by a downloaded file: config.json names a variant that an installed plugin
registered, and the weights are checked tensor by tensor before any is copied in. The networks
are first built on the meta device (shapes, no memory) and compared with the weight file's header,
so a config.json that does not fit its weights is refused before anything large is allocated.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import warnings
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from . import __version__
from .config import make_config
from .meta import meta_networks
from .model import GanModel
from .plugins import get_state
from .registry import ModelCard, UnknownNameError, Variant, did_you_mean

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "README.md"
SAMPLES_FILE = "samples.png"
HUB_PREFIX = "hf-hub:"
PIPELINE_TAGS = {"sample": "unconditional-image-generation", "translate": "image-to-image"}
MAX_CONFIG_BYTES = 1 << 20  # a ganzoo config.json is a few hundred bytes
REVISION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,254}")  # branch, tag, "refs/pr/N" or commit sha
# dtypes a weight may be stored in; each is converted to the network's own dtype when loaded
FLOAT_DTYPES = ("float32", "float16", "bfloat16", "float64")
INT_DTYPES = ("int64", "int32", "int16", "int8", "uint8")  # counters such as num_batches_tracked
HEADER_DTYPES = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64",
                 "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool",
                 "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2", "C64": "complex64", "C128": "complex128"}


class WeightsError(ValueError):
    """A weight file that is corrupt, truncated, or made for other networks."""


class ModelNameError(ValueError):
    """A malformed model name: a Hub repo id or revision that is not valid."""


def generator_names(model: GanModel | dict) -> list[str]:
    """Networks needed to generate: "G", or "G_AB" and "G_BA" (by the naming convention), of a model or a dict of networks."""
    return [name for name in (model.nets if isinstance(model, GanModel) else model) if name == "G" or name.startswith("G_")]


# ---- saving ---------------------------------------------------------------------------------------


def save_pretrained(model: GanModel, folder: str | Path, *, with_discriminator: bool = False,
                    data: dict | None = None, metrics: dict | None = None, recipe: str | None = None,
                    name: str | None = None, license: str = "mit", samples: bool = True) -> Path:
    """Write config.json, model.safetensors (generators; all networks with ``with_discriminator``),
    a README.md model card and a samples.png grid into ``folder``."""
    folder = Path(folder)
    _check_ours(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if model.classes:  # a conditional model's class names travel with it
        data = {**(data or {}), "classes": list(model.classes)}
    nets = list(model.nets) if with_discriminator else generator_names(model)
    tensors = {f"{n}.{k}": v.detach().to("cpu").contiguous() for n in nets for k, v in model.nets[n].state_dict().items()}
    record = {"ganzoo_version": __version__, "variant": model.variant.name, "config": model.config_dict(),
              "networks": nets, "data": data or {}}
    _write_atomic(folder / CONFIG_FILE, json.dumps(record, indent=2) + "\n")
    tmp = folder / f".{WEIGHTS_FILE}.tmp"
    save_file(tensors, str(tmp), metadata={"format": "pt", "ganzoo_variant": model.variant.name})
    os.replace(tmp, folder / WEIGHTS_FILE)
    if samples:
        _write_samples(model, folder / SAMPLES_FILE)
    card = model_card(model, name=name or folder.name, data=data or {}, metrics=metrics or {},
                      recipe=recipe, license=license, networks=nets)
    _write_atomic(folder / CARD_FILE, card)
    return folder


def _check_ours(folder: Path) -> None:
    """Refuse to write into a non-empty folder that is not a ganzoo model folder: its files are the user's."""
    if not folder.is_dir() or not any(folder.iterdir()):
        return
    try:
        record = json.loads((folder / CONFIG_FILE).read_text())
    except (OSError, ValueError):
        record = None
    if not (isinstance(record, dict) and "ganzoo_version" in record and "variant" in record):
        raise FileExistsError(f"{folder} is not empty and is not a ganzoo model folder; save_pretrained writes only "
                              f"into a new or empty folder, or over a model it saved before: choose another folder")


def _write_samples(model: GanModel, path: Path) -> None:
    from .engine.outputs import save_grid

    if model.variant.task == "translate":
        return  # needs input images; the run's own grids show translations
    save_grid(model.sample(64 if model.variant.data_kind != "points" else 2500, seed=0).cpu(), path)


def model_card(model: GanModel, *, name: str, data: dict, metrics: dict, recipe: str | None,
               license: str, networks: list[str]) -> str:
    """README.md with YAML front matter the Hub reads, the metrics with their protocol, and the recipe."""
    v = model.variant
    dataset = str(data.get("spec", "")).split(":")[0]
    tags = ["ganzoo", "gan", v.name, PIPELINE_TAGS[v.task]]
    front = ["---", "library_name: ganzoo", f"license: {license}", "tags:"] + [f"- {t}" for t in tags]
    if dataset:
        front += ["datasets:", f"- {'mnist' if dataset.startswith('mnist') else dataset}"]
    front += [f"pipeline_tag: {PIPELINE_TAGS[v.task]}", "---", ""]
    lines = [f"# {name}", "", f"A **{v.name}** model for [ganzoo](https://pypi.org/project/torch-ganzoo/): {v.summary}.",
             "", f"Paper: {v.paper}", ""]
    lines += ["## Use", "", "```python", "import ganzoo", f'model = ganzoo.load("{name}")',
              "images = model.sample(16, seed=0)  # (16, C, H, W) in [-1, 1]" if v.task == "sample"
              else 'y = model.translate(x, direction="a2b")']
    if model.num_classes:
        first = f'"{model.classes[0]}"' if model.classes else "0"
        lines += [f"images = model.sample(16, seed=0, labels={first})  # one class, by index or name"]
    lines += ["```", ""]
    lines += ["## Config", "", "| key | value |", "|---|---|"]
    lines += [f"| `{k}` | `{val}` |" for k, val in model.config_dict().items()]
    lines += ["", f"Weights in `model.safetensors`: {', '.join(networks)}.", ""]
    if data:
        lines += ["## Data", "", f"Trained on `{data.get('spec')}` ({data.get('kind', 'image')} data).", ""]
    if model.num_classes:
        names = ", ".join(f"{i} = `{c}`" for i, c in enumerate(model.classes)) if model.classes else "unnamed"
        lines += [f"Class-conditional, {model.num_classes} classes: {names}.", ""]
    lines += ["## Metrics", ""]
    lines += _metric_lines(metrics) or ["Not measured."]
    lines += ["", "## Recipe", "", "```", recipe or "(not recorded)", "```", ""]
    return "\n".join(front + lines)


def _metric_lines(metrics: dict) -> list[str]:
    """Card lines for {name: value | {"value", "protocol"}} or a whole ganzoo.evaluate() result: every
    number with the protocol it was measured under."""
    if isinstance(metrics.get("metrics"), dict):  # an evaluate() result
        preset = metrics.get("protocol") or {}
        lines = [f"Protocol `{preset['name']}`: {preset['summary']}.", ""] if preset else []
        for name, entry in metrics["metrics"].items():
            for key, value in entry["values"].items():
                label = name if key == name else f"{name}.{key}"
                lines.append(f"- **{label}**: {value:.6g}" if isinstance(value, float) else f"- **{label}**: {value}")
            lines.append(f"  — {_protocol_text(entry['protocol'])}")
        return lines
    lines = []
    for key, value in metrics.items():
        if isinstance(value, dict):
            protocol = value.get("protocol", "")
            protocol = _protocol_text(protocol) if isinstance(protocol, dict) else protocol
            lines.append(f"- **{key}**: {value.get('value')}" + (f" — protocol: {protocol}" if protocol else ""))
        else:
            lines.append(f"- **{key}**: {value}")
    return lines


def _protocol_text(p: dict) -> str:
    """One line from an evaluate() protocol entry: samples, reference, features and their weights, options."""
    ref = p.get("reference") or {}
    where = ref.get("spec") or ref.get("features_from") or "?"
    size = f" ({ref['size']:,} images)" if ref.get("size") else ""
    features = f", features {p['features']} (weights sha256 {p.get('features_sha256')})" if p.get("features") else ""
    options = ", ".join(f"{k}={v}" for k, v in (p.get("options") or {}).items())
    return (f"{p.get('num_samples', '?'):,} samples (seed {p.get('seed', 0)}) against {where}{size}{features}"
            + (f", options {options}" if options else "") + (f", protocol {p['protocol']}" if p.get("protocol") else ""))


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


# ---- loading --------------------------------------------------------------------------------------


def load(name_or_path: str | Path, *, revision: str | None = None, device: str | torch.device | None = None) -> GanModel:
    """A catalog name, "hf-hub:org/repo[@revision]", a published folder, or a training run folder.

    A bare catalog name always means the catalog entry, even when the working directory holds a
    folder of that name (a warning says how to load the folder: ``./NAME``); a ``pathlib.Path``
    and any other name are read as folder paths.
    """
    text = str(name_or_path)
    models = get_state().models
    if text.startswith(HUB_PREFIX):
        repo_id, _, pinned = text[len(HUB_PREFIX):].partition("@")
        model = load_folder(download(repo_id, revision=revision or pinned or None))
    elif not isinstance(name_or_path, os.PathLike) and text in models:
        if os.path.isdir(text):
            warnings.warn(f"{text!r} is loaded from the catalog; a folder of that name is also here: "
                          f"load it as './{text}'", UserWarning, stacklevel=2)
        model = load_folder(_catalog_folder(models.get(text), revision))
    elif os.path.isdir(text):
        folder = Path(text)
        model = load_run(folder) if (folder / "checkpoints").is_dir() and not (folder / WEIGHTS_FILE).exists() else load_folder(folder)
    elif os.path.isfile(text):  # only one checkpoint of a run, e.g. an earlier one, loads as a file
        if Path(text).parent.name != "checkpoints":
            raise ValueError(f"{text} is a file: load a published folder (the one holding {WEIGHTS_FILE}), a training "
                             f"run's folder, or one file of a run's checkpoints/ folder")
        model = load_run(Path(text).parent.parent, checkpoint=text)
    else:
        raise _not_found(text, isinstance(name_or_path, os.PathLike))
    return model.to(device) if device is not None else model


def _not_found(name: str, is_path: bool) -> Exception:
    if is_path or os.sep in name or name.startswith("."):
        return FileNotFoundError(f"no such {'file' if name.endswith('.safetensors') else 'folder'}: {name}")
    return UnknownNameError(f"unknown pretrained model {name!r}{_suggest_models(name)} (`ganzoo list` shows them all); a Hub repo is "
                            f"loaded as 'hf-hub:org/repo' and a local folder by its path")


def _suggest_models(name: str) -> str:
    """"; did you mean ...?" with catalog names close to ``name`` (case ignored), or else the models of a
    variant close to it ("dcgn" suggests dcgan-mnist); "" when nothing is close."""
    models = get_state().models
    hint = did_you_mean(name, models.names())
    if hint:
        return hint
    by_variant: dict[str, list[str]] = {}
    for card in models:
        by_variant.setdefault(card.variant.lower(), []).append(card.name)
    close = [n for v in difflib.get_close_matches(name.lower(), list(by_variant), n=3, cutoff=0.6) for n in by_variant[v]][:3]
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def _catalog_folder(card: ModelCard, revision: str | None) -> Path:
    if card.weights.startswith("bundled:"):
        package, _, sub = card.weights[len("bundled:"):].partition("/")
        return Path(str(resources.files(package).joinpath(sub)))
    if card.weights.startswith(HUB_PREFIX):
        repo_id, _, pinned = card.weights[len(HUB_PREFIX):].partition("@")
        return download(repo_id, revision=revision or pinned or None)
    if card.weights == "import":  # another library's release: downloaded, verified and converted once, then cached
        from .importers import catalog_import

        return catalog_import(card)
    raise FileNotFoundError(
        f"'{card.name}' is a recipe: its weights are not published yet. Train them with:\n  {card.recipe}\n"
        f"then load the run folder, or publish it with `ganzoo push RUN REPO_ID`")


def check_hub_name(repo_id: str, revision: str | None) -> None:
    """Refuse a repo id or revision that is not a plain Hub name, before either is used to build a path or URL."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        raise ModelNameError(f"{HUB_PREFIX}{repo_id} is not a valid Hub repo id: write it as 'hf-hub:org/name' "
                             f"(letters, digits, '-', '_', '.'; at most 96 characters)") from None
    if revision is not None and not (REVISION.fullmatch(revision) and ".." not in revision and "//" not in revision
                                     and not revision.endswith(("/", ".lock"))):
        raise ModelNameError(f"{revision!r} is not a valid Hub revision: give a branch, a tag or a commit sha "
                             f"(letters, digits, '.', '_', '-', '/'; no '..')")


def download(repo_id: str, *, revision: str | None = None) -> Path:
    """Fetch a model repo's files into the Hub cache (or find them there offline); the local folder."""
    check_hub_name(repo_id, revision)
    return snapshot(repo_id, revision, allow_patterns=[CONFIG_FILE, WEIGHTS_FILE, CARD_FILE, SAMPLES_FILE])


def snapshot(repo_id: str, revision: str | None, *, repo_type: str = "model", allow_patterns: list[str] | None = None,
             kind: str = "Hub repo", shown: str | None = None) -> Path:
    """A repo's files at ``revision`` in the Hub cache (fetched, or found there offline); errors say which repo
    (``kind`` names it, "Hub data set" say; ``shown`` is how the user wrote it)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (LocalEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError)

    try:
        path = snapshot_download(repo_id, repo_type=repo_type, revision=revision, endpoint=_endpoint(),
                                 allow_patterns=allow_patterns)
    except RepositoryNotFoundError:
        raise FileNotFoundError(f"{kind} {repo_id!r} not found (or it is private: pass a token via HF_TOKEN)") from None
    except RevisionNotFoundError:
        raise FileNotFoundError(f"{kind} {repo_id!r} has no revision {revision!r}") from None
    except LocalEntryNotFoundError:
        raise FileNotFoundError(
            f"{shown or repo_id}@{revision or 'main'} is not in the Hub cache and the Hub cannot be reached "
            f"(offline: HF_HUB_OFFLINE is set, or no network); download it once while online") from None
    return Path(path)


def _endpoint() -> str | None:
    return os.environ.get("HF_ENDPOINT") or None


def read_config(folder: Path) -> dict[str, Any]:
    """A folder's config.json, checked for the shape ganzoo writes; every refusal names the file."""
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{folder} has no {CONFIG_FILE}: not a published ganzoo model")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise WeightsError(f"{path} is {path.stat().st_size:,} bytes, far too large for a ganzoo config.json; "
                           f"the download may be corrupt")
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise WeightsError(f"{path} is not valid JSON ({type(exc).__name__}: {exc}); the download may be corrupt") from None
    except OSError as exc:
        raise WeightsError(f"cannot read {path}: {exc.strerror}") from None
    if not isinstance(record, dict) or not isinstance(record.get("variant"), str):
        raise WeightsError(f"{path} does not name a variant; it is not a ganzoo config.json")
    if not isinstance(record.get("config", {}), dict):
        raise WeightsError(f"{path}: 'config' must be a JSON object of config values, got {_short(record['config'])}")
    nets = record.get("networks", [])
    if not (isinstance(nets, list) and all(isinstance(n, str) for n in nets)):
        raise WeightsError(f"{path}: 'networks' must be a list of network names such as [\"G\"], got {_short(nets)}")
    return record


def record_classes(record: dict[str, Any]) -> list[str] | None:
    """A conditional model's class names, as config.json's "data" records them (None when absent or malformed)."""
    classes = (record.get("data") or {}).get("classes") if isinstance(record.get("data"), dict) else None
    return classes if isinstance(classes, list) and all(isinstance(c, str) for c in classes) else None


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def variant_and_config(record: dict[str, Any], where: Path) -> tuple[Variant, Any]:
    """The registered variant a config.json names and its config, refused naming the file when either is wrong."""
    name = record["variant"]
    variants = get_state().variants
    if name not in variants:
        raise UnknownNameError(
            f"{where / CONFIG_FILE} names variant {name!r}, which no installed plugin provides: install the "
            f"plugin that provides {name!r} (`ganzoo plugins` lists what is loaded)")
    variant = variants.get(name)
    cls = variant.load_config_class()  # a plugin that cannot load is that plugin's error
    try:
        config = make_config(cls, record.get("config", {}), variant=name)
    except Exception as exc:  # ConfigError, or whatever a hostile value makes the config class raise
        raise WeightsError(f"{where / CONFIG_FILE} has a config that {name!r} refuses: {exc}") from None
    return variant, config


def build_from_record(record: dict[str, Any], where: Path) -> GanModel:
    """Networks of the variant named by a config.json, which must be registered by an installed plugin."""
    from .api import build_networks

    variant, config = variant_and_config(record, where)
    return GanModel(variant, config, build_networks(variant, config), classes=record_classes(record))


def load_folder(folder: str | Path) -> GanModel:
    """Load a published folder strictly: every expected tensor present, none extra, every shape and dtype
    right, every value finite; checked against the file's header before the networks are built."""
    from .api import build_networks

    folder = Path(folder)
    record = read_config(folder)
    variant, config = variant_and_config(record, folder)
    path = folder / WEIGHTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{folder} has no {WEIGHTS_FILE}")
    header = read_header(path)
    meta = meta_networks(variant, config)
    if meta is not None:  # refuse a mismatch before anything is allocated
        check_fits(variant, meta, _networks_in_file(record, meta, variant, path), header, path, folder / CONFIG_FILE)
    model = GanModel(variant, config, build_networks(variant, config), classes=record_classes(record))
    nets = _networks_in_file(record, model.nets, variant, path)
    assign_strict(model, _read_safetensors(path), nets, path)
    model.nets.eval()
    return model


def _networks_in_file(record: dict[str, Any], nets: Any, variant: Variant, path: Path) -> list[str]:
    names = record.get("networks") or generator_names(nets)
    unknown = [n for n in names if n not in nets]
    if unknown:
        raise WeightsError(f"{path} holds networks {unknown} that variant {variant.name!r} does not have")
    return names


def read_header(path: Path) -> dict[str, tuple[tuple[int, ...], str]]:
    """Each tensor's shape and dtype name from a safetensors file's header alone: no tensor data is read."""
    try:
        with safe_open(str(path), framework="pt") as f:
            slices = {k: f.get_slice(k) for k in f.keys()}
            return {k: (tuple(s.get_shape()), HEADER_DTYPES.get(s.get_dtype(), s.get_dtype().lower())) for k, s in slices.items()}
    except Exception as exc:  # truncated or not a safetensors file at all
        raise WeightsError(f"{path} is corrupt or truncated ({exc}); delete it and download or save it again") from None


def check_fits(variant: Variant, nets: dict[str, torch.nn.Module], names: list[str],
               found: dict[str, tuple[tuple[int, ...], str]], source: Path, config_path: Path) -> None:
    """Meta networks against a weight file's header: the tensors of ``names`` must match, and the networks
    the file does not hold must not be out of proportion with it (a config.json made to allocate gigabytes)."""
    check_tensors(variant.name, _expected(nets, names), found, source)
    need = sum(t.numel() * t.element_size() for net in nets.values() for t in net.state_dict().values())
    size = source.stat().st_size
    if need > 8 * size + (256 << 20):
        raise WeightsError(f"{config_path} describes networks of {need / 2**20:,.0f} MiB, out of proportion with the "
                           f"{size / 2**20:,.1f} MiB of {source}: the config does not belong to these weights")


def _expected(nets: Any, names: list[str]) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    return {f"{n}.{k}": (tuple(v.shape), v.dtype) for n in names for k, v in nets[n].state_dict().items()}


def check_tensors(variant: str, expected: dict[str, tuple[tuple[int, ...], torch.dtype]],
                  found: dict[str, tuple[tuple[int, ...], str]], source: Path | str) -> None:
    """Names, shapes and dtypes of a file's tensors against the networks': the one check behind every load."""
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    if missing:
        raise WeightsError(f"{source} lacks tensor {missing[0]!r}" + (f" and {len(missing) - 1} more" if len(missing) > 1 else "")
                           + f": the file does not match variant {variant!r} with this config")
    if extra:
        raise WeightsError(f"{source} has unexpected tensor {extra[0]!r}" + (f" and {len(extra) - 1} more" if len(extra) > 1 else "")
                           + f": it was saved from other networks than {variant!r} with this config")
    for key, (shape, dtype) in expected.items():
        if found[key][0] != shape:
            raise WeightsError(f"tensor {key!r} in {source} has shape {found[key][0]} but "
                               f"{variant!r} with this config expects {shape}: "
                               f"the weights are from another architecture")
        have = found[key][1]
        kinds = FLOAT_DTYPES if dtype.is_floating_point else INT_DTYPES if _dtype_name(dtype) in INT_DTYPES else (_dtype_name(dtype),)
        if have not in kinds:
            raise WeightsError(f"tensor {key!r} in {source} is {have}, but {variant!r} holds {' or '.join(kinds)} there: "
                               f"the file is corrupt or not ganzoo weights")


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # truncated or not a safetensors file at all
        raise WeightsError(f"{path} is corrupt or truncated ({exc}); delete it and download or save it again") from None


def assign_strict(model: GanModel, tensors: dict[str, torch.Tensor], nets: list[str], source: Path | str) -> None:
    """Check every tensor of ``nets`` against ``tensors`` first (names, shapes, dtypes, finite values),
    then copy them all in, converted to the networks' dtypes (never half-loaded)."""
    expected = _expected(model.nets, nets)
    check_tensors(model.variant.name, expected, {k: (tuple(v.shape), _dtype_name(v.dtype)) for k, v in tensors.items()}, source)
    for key in expected:
        if tensors[key].is_floating_point() and not bool(torch.isfinite(tensors[key]).all()):
            raise WeightsError(f"tensor {key!r} in {source} holds NaN or Inf values: the weights are corrupt "
                               f"(or were saved from a diverged run); download or save them again")
    for n in nets:
        prefix = n + "."
        model.nets[n].load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}, strict=True)


def load_run(run: str | Path, checkpoint: str | Path | None = None) -> GanModel:
    """A training run folder's latest checkpoint (or ``checkpoint``, one file of its checkpoints/ folder),
    with the EMA generator in place of G when there is one."""
    from .api import build_networks
    from .engine.checkpoint import list_checkpoints, read_checkpoint

    run = Path(run)
    record = read_config(run)
    variant, config = variant_and_config(record, run)
    found = list_checkpoints(run / "checkpoints")
    if not found:
        raise FileNotFoundError(f"run {run} has no checkpoints yet")
    last = found[-1]
    if checkpoint is not None:
        matches = [p for p in found if p.name == Path(checkpoint).name]
        if not matches:
            raise FileNotFoundError(f"{checkpoint} is not a complete checkpoint of run {run}; it has "
                                    f"{', '.join(p.name for p in found)}")
        last = matches[0]
    header = read_header(last)
    ema_net = variant.load_step().ema_net if any(k.startswith("ema.") for k in header) else None
    meta = meta_networks(variant, config)
    if meta is not None:
        check_fits(variant, meta, list(meta), _run_weights(header, ema_net), last, run / CONFIG_FILE)
    model = GanModel(variant, config, build_networks(variant, config), classes=record_classes(record))
    try:
        tensors, _ = read_checkpoint(last)
    except ValueError as exc:  # unreadable or failing its own checks: one line that names the file
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise WeightsError(message if str(last) in message else f"{last}: {message}") from None
    assign_strict(model, _run_weights(tensors, ema_net), list(model.nets), last)
    model.nets.eval()
    return model


def _run_weights(items: dict[str, Any], ema_net: str | None) -> dict[str, Any]:
    """A checkpoint's network entries ("net.G.x" -> "G.x"), the EMA's ("ema.x") in place of ``ema_net``'s."""
    picked = {k[len("net."):]: v for k, v in items.items() if k.startswith("net.")}
    if ema_net is not None:
        picked = {k: v for k, v in picked.items() if not k.startswith(ema_net + ".")}
        picked.update({f"{ema_net}.{k[len('ema.'):]}": v for k, v in items.items() if k.startswith("ema.")})
    return picked


def recipe_command(record: dict[str, Any]) -> str:
    """The `ganzoo train` command that reproduces a run from its config.json."""
    from .engine.options import TrainOptions

    variant = get_state().variants.get(record["variant"])
    defaults = make_config(variant.load_config_class(), {}).__dict__
    engine_defaults = TrainOptions().__dict__
    source = record["data"].get("source") or {}  # what a Hub data set resolved to: repo, commit, split, columns
    spec = record["data"]["spec"]
    if source.get("repo") and source.get("revision"):  # the exact commit, so the recipe reads the same data
        spec = f"hf:{source['repo']}@{source['revision']}" + (f":{source['split']}" if source.get("split") else "")
    parts = ["ganzoo train", record["variant"], "--data", spec]
    for key in ("image_column", "label_column"):
        if source.get(key):
            parts += ["--" + key.replace("_", "-"), str(source[key])]
    for key, value in record["config"].items():
        if defaults.get(key) != (tuple(value) if isinstance(value, list) else value):
            parts += ["-c", f"{key}={json.dumps(value, separators=(',', ':'))}"]
    for key, value in record["engine"].items():
        if key not in ("progress",) and engine_defaults.get(key) != value:
            flag = "--" + key.replace("_", "-")
            parts += [flag] if value is True else [f"--no-{key.replace('_', '-')}"] if value is False else [flag, str(value)]
    parts += ["--out", "runs/" + record["variant"]]
    return " ".join(_quote(p) for p in parts)


def _quote(part: str) -> str:
    import shlex

    return part if part.startswith("ganzoo ") else shlex.quote(part)


def push_run(run: str | Path, repo_id: str, **options: Any) -> str:
    """Publish a training run: its latest (EMA) weights, with its data and recipe on the model card."""
    run = Path(run)
    record = read_config(run)
    model = load_run(run)
    options.setdefault("data", record.get("data"))
    options.setdefault("recipe", recipe_command(record))
    return push_to_hub(model, repo_id, **options)


# ---- publishing -----------------------------------------------------------------------------------


def push_to_hub(model: GanModel, repo_id: str, *, revision: str | None = None, private: bool = False,
                token: str | None = None, commit_message: str | None = None, **save_options: Any) -> str:
    """save_pretrained into a temp folder and upload it as one commit; returns the commit sha."""
    import tempfile

    from huggingface_hub import HfApi

    api = HfApi(endpoint=_endpoint(), token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    if revision is not None and revision != "main":
        api.create_branch(repo_id, branch=revision, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = save_pretrained(model, Path(tmp) / repo_id.split("/")[-1], name=save_options.pop("name", HUB_PREFIX + repo_id), **save_options)
        info = api.upload_folder(repo_id=repo_id, folder_path=str(folder), revision=revision,
                                 commit_message=commit_message or f"Upload {model.variant.name} model with ganzoo")
    return info.oid
