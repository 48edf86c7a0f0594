"""The published folder: config.json, model.safetensors, README.md and samples.png, written and read back.

A published model is a folder (local, bundled in a package, or a Hugging Face Hub repo snapshot).
Loading never unpickles and never imports code named by a downloaded file: config.json names a
variant that an installed plugin registered, and the weights are checked tensor by tensor before
any is copied in (weights.py). The networks are first built on the meta device (shapes, no memory)
and compared with the weight file's header, so a config.json that does not fit its weights is
refused before anything large is allocated.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from safetensors.torch import save_file

from .. import __version__
from ..building import build_networks, meta_networks
from ..config import make_config
from ..engine.outputs import save_grid
from ..model import GanModel
from ..plugins import get_state
from ..registry import UnknownNameError, Variant
from ..tasks import Task, task_for
from .card import model_card
from .weights import WeightsError, assign_strict, check_fits, read_header, read_safetensors

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "README.md"
SAMPLES_FILE = "samples.png"
PREVIEW_SAMPLES = 64  # images in samples.png (a task may draw another count: 2,500 points, a class grid)
MAX_CONFIG_BYTES = 1 << 20  # a ganzoo config.json is a few hundred bytes


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
    a README.md model card and a samples.png grid into ``folder``."""
    folder = Path(folder)
    check_writable(folder)
    folder.mkdir(parents=True, exist_ok=True)
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
    write_atomic(folder / CONFIG_FILE, json.dumps(record, indent=2) + "\n")
    tmp = folder / f".{WEIGHTS_FILE}.tmp"
    save_file(tensors, str(tmp), metadata={"format": "pt", "ganzoo_variant": model.variant.name})
    os.replace(tmp, folder / WEIGHTS_FILE)
    if samples:
        write_samples(model, folder / SAMPLES_FILE)
    card = model_card(
        model,
        name=name or folder.name,
        data=data or {},
        metrics=metrics or {},
        recipe=recipe,
        license=license,
        networks=nets,
    )
    write_atomic(folder / CARD_FILE, card)
    return folder


def check_writable(folder: Path) -> None:
    """Refuse to write into a non-empty folder that is not a ganzoo model folder: its files are the user's."""
    if not folder.is_dir() or not any(folder.iterdir()):
        return
    try:
        record = json.loads((folder / CONFIG_FILE).read_text())
    except (OSError, ValueError):
        record = None
    if not (isinstance(record, dict) and "ganzoo_version" in record and "variant" in record):
        raise FileExistsError(
            f"{folder} is not empty and is not a ganzoo model folder; save_pretrained writes only "
            f"into a new or empty folder, or over a model it saved before: choose another folder"
        )


def write_samples(model: GanModel, path: Path) -> None:
    """samples.png: the task's preview of the model (nothing for a task that needs inputs, a translator say)."""
    preview = model.task.preview(model, seed=0, n=PREVIEW_SAMPLES)
    if preview is not None:
        save_grid(preview.images.cpu(), path, nrow=preview.nrow)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary sibling, then rename it over ``path``: readers see the old file or the new."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


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
