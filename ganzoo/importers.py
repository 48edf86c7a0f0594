"""Importers: other libraries' published GAN checkpoints, converted once into ordinary ganzoo folders.

A catalog entry with ``weights="import"`` names an original release in its ``source``. On first
load the file is fetched (huggingface_hub for Hub files, a plain download with a progress bar for
URLs), its sha256 is compared with the pinned value BEFORE anything reads it, it is read with
``torch.load(weights_only=True)`` only (tensors and plain containers, no code), converted by the
importer a plugin registered for its layout, and saved with save_pretrained under
``$GANZOO_CACHE/imported``. Later loads read only that folder's config.json and safetensors.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import shutil
import time
import uuid
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .building import build_networks
from .config import make_config
from .hf import HUB_PREFIX, download_file
from .model import GanModel
from .plugins import get_state
from .pretrained.folder import CONFIG_FILE, WEIGHTS_FILE, check_writable, save_pretrained
from .pretrained.weights import WeightsError, assign_strict
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

SHA256 = re.compile(r"[0-9a-f]{64}")  # a pin is a file's full sha256
PREFIX = re.compile(r"[0-9a-f]{8,63}")  # a published prefix of one (OpenMMLab's file names): checked, never a pin
PINS_FILE = "pins.json"  # in cache_root(): the sha256 of first downloads whose upstream publishes no hash


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
    return dict(state)


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


# ---- fetching and reading ---------------------------------------------------------------------------


def cache_root() -> Path:
    """Imported models live in $GANZOO_CACHE/imported (default ~/.cache/ganzoo/imported), one folder each."""
    return Path(os.environ.get("GANZOO_CACHE") or "~/.cache/ganzoo").expanduser() / "imported"


def check_pin(pin: Any, what: str) -> str:
    """A pinned sha256, lower case: the file's full hash (a prefix is no pin: too short to stop a forgery)."""
    if not (isinstance(pin, str) and SHA256.fullmatch(pin.lower())):
        hint = (
            " (a published prefix is checked where a catalog entry names it, but it is no pin: pass the file's full "
            "sha256, e.g. from `sha256sum FILE`)"
            if isinstance(pin, str) and PREFIX.fullmatch(pin.lower())
            else ""
        )
        raise WeightsError(f"{what}: a pinned sha256 is the file's full hash, 64 hex digits; got {pin!r}{hint}")
    return pin.lower()


def recorded_pins() -> dict[str, dict[str, str]]:
    """{location: {"sha256", "recorded"}}: the hashes of first downloads whose upstream publishes none."""
    path = cache_root() / PINS_FILE
    try:
        pins = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise WeightsError(
            f"{path} is damaged ({exc}); it records the sha256 of first downloads that later downloads must match: "
            f"restore it from a copy, or delete it to trust the next downloads anew"
        ) from None
    if not (isinstance(pins, dict) and all(isinstance(v, dict) and "sha256" in v for v in pins.values())):
        raise WeightsError(f"{path} is not ganzoo's record of first-download hashes; restore it or delete it")
    return pins


def record_pin(location: str, digest: str) -> Path:
    """Record ``digest`` as the hash every later download of ``location`` must have; returns the record's path."""
    path = cache_root() / PINS_FILE
    pins = recorded_pins()
    pins[location] = {"sha256": digest, "recorded": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{PINS_FILE}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(json.dumps(pins, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(
    location: str, *, sha256: str | None = None, revision: str | None = None, prefix: str | None = None
) -> tuple[Path, str, bool]:
    """The file at ``location`` (a path, an http(s) URL or "hf-hub:org/repo/path/in/repo"), checked against
    the pin (and a published ``prefix`` of its hash) before anything reads it: (local path, its sha256,
    whether it is a temporary download). A malformed pin is refused before anything is downloaded."""
    if sha256 is not None:
        sha256 = check_pin(sha256, location)
    temporary = False
    if location.startswith(HUB_PREFIX):
        path = _hub_file(location[len(HUB_PREFIX) :], revision)
    elif location.startswith(("http://", "https://")):
        path, temporary = _download(location), True
    else:
        path = Path(location)
        if not path.is_file():
            raise FileNotFoundError(f"no such checkpoint file: {location}")
    digest = sha256_of(path)
    expected, what = (sha256, "pinned") if sha256 is not None else (prefix, "published prefix")
    if expected is not None and not digest.startswith(expected):
        if temporary:
            path.unlink()
        raise WeightsError(
            f"{location} has sha256 {digest[: max(len(expected), 16)]}..., not the {what} {expected}: "
            f"it is not the published file (tampered or corrupt), so it was not opened"
        )
    return path, digest, temporary


def _hub_file(spec: str, revision: str | None) -> Path:
    parts = spec.split("/", 2)
    if len(parts) < 3 or not parts[2]:
        raise WeightsError(f"{HUB_PREFIX}{spec}: name a file in a Hub repo as 'hf-hub:org/repo/path/to/file.pth'")
    return download_file("/".join(parts[:2]), parts[2], revision)


def _download(url: str) -> Path:
    """A plain download into the cache's downloads folder, with a progress bar; removed after conversion."""
    from urllib.error import URLError

    from torch.hub import download_url_to_file

    folder = cache_root() / "downloads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}.download"
    try:
        download_url_to_file(url, str(path), progress=True)
    except (URLError, OSError) as exc:
        path.unlink(missing_ok=True)
        reason = getattr(exc, "reason", None) or exc
        raise FileNotFoundError(f"cannot download {url}: {reason}") from None
    return path


def read_checkpoint(path: Path) -> Any:
    """torch.load with weights_only=True: tensors and plain containers only; anything else is refused."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if "global" in ln.lower()] or [str(exc).splitlines()[0]]
        raise WeightsError(
            f"{path} needs more than tensors and plain containers to be read ({lines[0][:200]}); "
            f"ganzoo reads checkpoints with torch.load(weights_only=True) only, which runs no code: "
            f"refused"
        ) from None
    except (RuntimeError, EOFError, ValueError, OSError) as exc:
        raise WeightsError(
            f"{path} is not a readable PyTorch checkpoint ({str(exc).splitlines()[0][:200]}); it may be "
            f"truncated: delete it and download it again"
        ) from None


# ---- converting and saving ----------------------------------------------------------------------------


def convert(
    importer: str | ImporterSpec,
    checkpoint: Any,
    *,
    expect: Mapping[str, Any] | None = None,
    source: str = "the checkpoint",
) -> tuple[GanModel, dict]:
    """The ganzoo model an importer makes of a checkpoint read with weights_only=True, and its data record;
    ``expect`` holds config values it must have (a catalog entry's), refused naming the first that differs."""
    spec = importer if isinstance(importer, ImporterSpec) else get_state().importers.get(importer)
    converted = load_ref(spec, "convert")(checkpoint)
    variant = get_state().variants.get(spec.variant)
    config = make_config(variant.load_config_class(), converted.config, variant=variant.name)
    for key, value in (expect or {}).items():
        if getattr(config, key, None) != (tuple(value) if isinstance(value, list) else value):
            raise WeightsError(
                f"{source}: {spec.name} reads {key}={getattr(config, key, None)!r} from it, but the "
                f"catalog entry expects {value!r}: it is another release than the entry names"
            )
    model = GanModel(variant, config, build_networks(variant, config), classes=converted.data.get("classes"))
    nets = sorted({k.split(".", 1)[0] for k in converted.tensors})
    for key, want in ((f"{n}.{k}", v) for n in nets if n in model.nets for k, v in model.nets[n].state_dict().items()):
        got = converted.tensors.get(key)
        if got is not None and tuple(got.shape) != tuple(want.shape):
            raise WeightsError(
                f"{source}: tensor {converted.origin.get(key, key)!r} gives {key} of shape "
                f"{tuple(got.shape)}, but {variant.name!r} with {spec.name}'s config needs "
                f"{tuple(want.shape)}: the checkpoint is from another architecture"
            )
    assign_strict(model, converted.tensors, nets, source)
    model.nets.eval()
    return model, converted.data


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
        checkpoint = read_checkpoint(path)
    finally:
        if temporary:
            path.unlink(missing_ok=True)
    model, data = convert(spec, checkpoint, expect=card.config if card else None, source=location)
    return _save(model, data, out, spec, location, digest, card), digest


def _save(
    model: GanModel, data: dict, out: Path, spec: ImporterSpec, location: str, digest: str, card: ModelCard | None
) -> Path:
    """save_pretrained into a fresh sibling folder, then move it in place: a cache folder is whole or absent."""
    metrics = dict(card.metrics) if card else {}
    if card:  # the catalog entry knows the data (and a conditional model's class names) the file does not
        classes = {"classes": card.source["classes"]} if card.source.get("classes") else {}
        data = {"spec": card.dataset, "kind": model.task.data_kinds[0], **data, **classes}
    recipe = f"ganzoo import {spec.name}:{location} --out FOLDER   # sha256 {digest}"
    options = dict(
        data=data or None,
        metrics=metrics,
        recipe=recipe,
        name=card.name if card else out.name,
        license=(card.license if card else "other").lower(),
    )
    if out.exists():  # a ganzoo folder already (checked): save_pretrained replaces only its own files
        return save_pretrained(model, out, **options)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        save_pretrained(model, tmp, **options)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


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
        return import_checkpoint(importer, location, folder, sha256=pin, revision=revision, card=card)[0]
    # the upstream publishes no full hash: the first download's is recorded, shown, and enforced afterwards
    folder = cache_root() / f"{card.name}-recorded"
    if _complete(folder):
        return folder
    recorded = recorded_pins().get(location, {}).get("sha256")
    folder, digest = import_checkpoint(
        importer, location, folder, sha256=recorded, revision=revision, card=card, prefix=source.get("sha256_prefix")
    )
    if recorded is None:
        where = record_pin(location, digest)
        warnings.warn(
            f"{card.name}: the upstream publishes no sha256 for {location}; this first download's, {digest}, is now "
            f"recorded in {where}, and every later download must match it",
            UserWarning,
            stacklevel=2,
        )
    return folder


def _complete(folder: Path) -> bool:
    return (folder / CONFIG_FILE).is_file() and (folder / WEIGHTS_FILE).is_file()
