"""The published folder: config.json, model.safetensors, README.md and samples.png, written and read back.

A published model is a folder (local, bundled in a package, or a Hugging Face Hub repo snapshot).
Loading never unpickles and never imports code named by a downloaded file: config.json names a
variant that an installed plugin registered, and the weights are checked tensor by tensor before
any is copied in (weights.py). The networks are first built on the meta device (shapes, no memory)
and compared with the weight file's header, so a config.json that does not fit its weights is
refused before anything large is allocated.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from safetensors import safe_open
from safetensors.torch import save_file

from .. import __version__
from ..building import build_networks, meta_networks
from ..config import make_config
from ..engine.outputs import save_grid
from ..engine.runfolder import LOCK_NAME, RunLock
from ..model import GanModel
from ..plugins import get_state
from ..registry import UnknownNameError, Variant
from ..tasks import Task, task_for
from .atomic import link_or_copy, remove_stale_saves, swap
from .card import model_card
from .weights import WeightsError, assign_strict, check_fits, read_header, read_safetensors

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "README.md"
SAMPLES_FILE = "samples.png"
PREVIEW_SAMPLES = 64  # images in samples.png (a task may draw another count: 2,500 points, a class grid)
PREVIEW_PIXELS = PREVIEW_SAMPLES * 128 * 128  # fewer, at least 4, of larger images: 16 at 256 px, 4 from 512 px
MAX_CONFIG_BYTES = 1 << 20  # a ganzoo config.json is a few hundred bytes
PUBLISHED_FILES = (CONFIG_FILE, WEIGHTS_FILE, CARD_FILE, SAMPLES_FILE)
OWN_TEMP_PREFIXES = tuple(f".{name}.tmp" for name in PUBLISHED_FILES)  # earlier versions wrote these in place


# ---- saving ---------------------------------------------------------------------------------------


def save_pretrained(
    model: GanModel,
    folder: str | Path,
    *,
    with_discriminator: bool = False,
    data: dict | None = None,
    metrics: dict | None = None,
    recipe: str | None = None,
    name: str | None = None,
    license: str = "mit",
    samples: bool = True,
) -> Path:
    """Write config.json, model.safetensors (generators; all networks with ``with_discriminator``),
    a README.md model card and a samples.png grid into ``folder``: all of them into a hidden sibling
    first, then swapped in place, so the folder holds the old model or the new one, never a mix."""
    folder = Path(folder)
    check_writable(folder)
    target = Path(os.path.realpath(folder))  # a link to a folder: the folder itself is swapped, not the link
    if model.classes:  # a conditional model's class names travel with it
        data = {**(data or {}), "classes": list(model.classes)}
    nets = list(model.nets) if with_discriminator else model.task.generators(model.nets)
    tensors = {
        f"{n}.{k}": v.detach().to("cpu").contiguous() for n in nets for k, v in model.nets[n].state_dict().items()
    }
    record = {
        "ganzoo_version": __version__,
        "variant": model.variant.name,
        "config": model.config_dict(),
        "networks": nets,
        "data": data or {},
    }
    card = model_card(
        model,
        name=name or Path(os.path.abspath(folder)).name,
        data=data or {},
        metrics=metrics or {},
        recipe=recipe,
        license=license,
        networks=nets,
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_saves(target.parent)
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp-{os.getpid()}"
    try:
        tmp.mkdir()
        (tmp / CONFIG_FILE).write_text(json.dumps(record, indent=2) + "\n")
        save_file(tensors, str(tmp / WEIGHTS_FILE), metadata={"format": "pt", "ganzoo_variant": model.variant.name})
        if samples:
            write_samples(model, tmp / SAMPLES_FILE)
        (tmp / CARD_FILE).write_text(card)
        keep_other_files(target, tmp)
        put_in_place(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # what is left there: the old model, or an unfinished save
    return folder


def check_writable(folder: Path) -> None:
    """Refuse to write into a folder that ganzoo did not write as a published model (a run folder, a user's
    folder) or that a run is using: its files are not ganzoo's to replace; the error says what to do."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"{folder} is a file, not a folder: choose another folder to save the model into")
    RunLock.check_free(folder)  # a run is using it (it may have written nothing yet)
    if not folder.is_dir() or not any(folder.iterdir()):
        return
    record = _ganzoo_record(folder)
    if record is not None and _is_run(record, folder):
        raise FileExistsError(
            f"{folder} is a training run folder: a published model saved there would replace its run record "
            f"(config.json) and break its resume. Save into another folder; a run is published with "
            f"`ganzoo push {folder} REPO_ID` and loads as it is with ganzoo.load('{folder}')"
        )
    if record is None and not _cut_short(folder):
        raise FileExistsError(
            f"{folder} is not empty and is not a ganzoo model folder; save_pretrained writes only "
            f"into a new or empty folder, or over a model it saved before: choose another folder"
        )


def _ganzoo_record(folder: Path) -> dict[str, Any] | None:
    """A folder's config.json when it is a record ganzoo writes (a published model's or a run's), else None."""
    path = folder / CONFIG_FILE
    try:
        if not path.is_file() or path.stat().st_size > MAX_CONFIG_BYTES:
            return None
        record = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError):
        return None
    return record if isinstance(record, dict) and "ganzoo_version" in record and "variant" in record else None


def _cut_short(folder: Path) -> bool:
    """A save into the folder itself (see move_files) that was killed: ganzoo's file names only, its weights."""
    if not all(p.name in PUBLISHED_FILES or p.name.startswith(OWN_TEMP_PREFIXES) for p in folder.iterdir()):
        return False
    try:
        with safe_open(str(folder / WEIGHTS_FILE), framework="pt") as f:
            return "ganzoo_variant" in (f.metadata() or {})
    except Exception:  # no weights, or not a safetensors file: not ganzoo's
        return False


def _is_run(record: dict[str, Any], folder: Path) -> bool:
    """A run record (the engine's settings, checkpoints, metrics), not a published model's config.json."""
    return "engine" in record or (folder / "checkpoints").exists() or (folder / "metrics.jsonl").exists()


def is_published_folder(folder: Path) -> bool:
    """True when ``folder`` holds a published model that ganzoo saved (not a run folder)."""
    record = _ganzoo_record(Path(folder))
    return record is not None and not _is_run(record, Path(folder))


def keep_other_files(old: Path, new: Path) -> None:
    """Files a user added beside a published model (notes, a .git folder) stay: hard-linked (or copied) into
    the new folder before the swap, so that the old folder holds them until the new one does."""
    if not old.is_dir():
        return
    for entry in old.iterdir():
        if entry.name in (*PUBLISHED_FILES, LOCK_NAME) or entry.name.startswith(OWN_TEMP_PREFIXES):
            continue
        if entry.is_symlink():
            os.symlink(os.readlink(entry), new / entry.name)
        elif entry.is_dir():
            shutil.copytree(entry, new / entry.name, symlinks=True, copy_function=link_or_copy)
        else:
            link_or_copy(entry, new / entry.name)


def put_in_place(tmp: Path, target: Path) -> None:
    """Move the finished folder ``tmp`` to ``target``: a new folder, or swapped with the model there (``tmp`` then
    holds the old one); into an existing empty folder (or one that cannot be replaced: a mount point) file by
    file. Another process that made ``target`` meanwhile wins: this one stops."""
    check_writable(target)  # again, just before: nothing else wrote there since
    if not target.exists():
        try:
            os.rename(tmp, target)
            return
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            raise FileExistsError(
                f"{target} was written by another process while this one was saving there; this save was "
                f"discarded: run it again to replace that model"
            ) from None
    if any(target.iterdir()):
        try:
            swap(tmp, target)
            return
        except OSError as exc:
            if exc.errno not in (errno.EBUSY, errno.EXDEV, errno.EPERM, errno.EACCES):
                raise
    move_files(tmp, target)


def move_files(tmp: Path, target: Path) -> None:
    """The saved files into ``target`` itself, config.json removed first and written last: a save cut short
    there leaves a folder that loads as no model (and that the next save may write), never a mix of two."""
    (target / CONFIG_FILE).unlink(missing_ok=True)
    for name in (WEIGHTS_FILE, SAMPLES_FILE, CARD_FILE, CONFIG_FILE):
        if (tmp / name).exists():
            os.replace(tmp / name, target / name)
        else:
            (target / name).unlink(missing_ok=True)


def write_samples(model: GanModel, path: Path) -> None:
    """samples.png: the task's preview of the model (nothing for a task that needs inputs, a translator say)."""
    side = getattr(model.config, "image_size", 0) or 1  # a side of 0 or none: points, or unknown
    n = max(4, min(PREVIEW_SAMPLES, PREVIEW_PIXELS // side**2))  # a 1024 px import draws 4 images, not 64
    preview = model.task.preview(model, seed=0, n=n)
    if preview is not None:
        save_grid(preview.images.cpu(), path, nrow=preview.nrow)


# ---- reading --------------------------------------------------------------------------------------


def read_config(folder: Path) -> dict[str, Any]:
    """A published folder's config.json, checked for the shape ganzoo writes; every refusal names the file."""
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{folder} has no {CONFIG_FILE}: not a published ganzoo model")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise WeightsError(
            f"{path} is {path.stat().st_size:,} bytes, far too large for a ganzoo config.json; "
            f"the download may be corrupt"
        )
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise WeightsError(
            f"{path} is not valid JSON ({type(exc).__name__}: {exc}); the download may be corrupt"
        ) from None
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
            f"plugin that provides {name!r} (`ganzoo plugins` lists what is loaded)"
        )
    variant = variants.get(name)
    cls = variant.load_config_class()  # a plugin that cannot load is that plugin's error
    try:
        config = make_config(cls, record.get("config", {}), variant=name)
    except Exception as exc:  # ConfigError, or whatever a hostile value makes the config class raise
        raise WeightsError(f"{where / CONFIG_FILE} has a config that {name!r} refuses: {exc}") from None
    return variant, config


def build_from_record(record: dict[str, Any], where: Path) -> GanModel:
    """Networks of the variant named by a config.json, which must be registered by an installed plugin."""
    variant, config = variant_and_config(record, where)
    return GanModel(variant, config, build_networks(variant, config), classes=record_classes(record))


def load_folder(folder: str | Path) -> GanModel:
    """Load a published folder strictly: every expected tensor present, none extra, every shape and dtype
    right, every value finite; checked against the file's header before the networks are built."""
    folder = Path(folder)
    record = read_config(folder)
    variant, config = variant_and_config(record, folder)
    path = folder / WEIGHTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{folder} has no {WEIGHTS_FILE}")
    header = read_header(path)
    task = task_for(variant, config, record_classes(record))
    meta = meta_networks(variant, config)
    if meta is not None:  # refuse a mismatch before anything is allocated
        names = networks_in_file(record, meta, task, variant, path)
        check_fits(variant, meta, names, header, path, folder / CONFIG_FILE)
    model = GanModel(variant, config, build_networks(variant, config), classes=record_classes(record))
    nets = networks_in_file(record, model.nets, task, variant, path)
    assign_strict(model, read_safetensors(path), nets, path)
    model.nets.eval()
    return model


def networks_in_file(record: dict[str, Any], nets: Any, task: Task, variant: Variant, path: Path) -> list[str]:
    """The networks a published file holds: config.json's "networks", else the task's generators."""
    names = record.get("networks") or task.generators(nets)
    unknown = [n for n in names if n not in nets]
    if unknown:
        raise WeightsError(f"{path} holds networks {unknown} that variant {variant.name!r} does not have")
    return names
