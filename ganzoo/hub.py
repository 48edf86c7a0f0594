"""Published models: save_pretrained / load / push_to_hub, model cards, and name resolution.

A published model is a folder (local, bundled in a package, or a Hugging Face Hub repo) with
config.json, model.safetensors, README.md and samples.png. Loading never unpickles and never
imports code named by a downloaded file: config.json names a variant that an installed plugin
registered, and the weights are checked tensor by tensor before any is copied in.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from . import __version__
from .config import ConfigError, make_config
from .model import GanModel
from .plugins import get_state
from .registry import ModelCard, UnknownNameError

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "README.md"
SAMPLES_FILE = "samples.png"
HUB_PREFIX = "hf-hub:"
PIPELINE_TAGS = {"sample": "unconditional-image-generation", "translate": "image-to-image"}


class WeightsError(ValueError):
    """A weight file that is corrupt, truncated, or made for other networks."""


def generator_names(model: GanModel) -> list[str]:
    """Networks needed to generate: "G", or "G_AB" and "G_BA" (by the naming convention)."""
    return [name for name in model.nets if name == "G" or name.startswith("G_")]


# ---- saving ---------------------------------------------------------------------------------------


def save_pretrained(model: GanModel, folder: str | Path, *, with_discriminator: bool = False,
                    data: dict | None = None, metrics: dict | None = None, recipe: str | None = None,
                    name: str | None = None, license: str = "mit", samples: bool = True) -> Path:
    """Write config.json, model.safetensors (generators; all networks with ``with_discriminator``),
    a README.md model card and a samples.png grid into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
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
              else 'y = model.translate(x, direction="a2b")', "```", ""]
    lines += ["## Config", "", "| key | value |", "|---|---|"]
    lines += [f"| `{k}` | `{val}` |" for k, val in model.config_dict().items()]
    lines += ["", f"Weights in `model.safetensors`: {', '.join(networks)}.", ""]
    if data:
        lines += ["## Data", "", f"Trained on `{data.get('spec')}` ({data.get('kind', 'image')} data).", ""]
    lines += ["## Metrics", ""]
    if metrics:
        for key, value in metrics.items():
            if isinstance(value, dict):
                protocol = value.get("protocol", "")
                lines.append(f"- **{key}**: {value.get('value')}" + (f" — protocol: {protocol}" if protocol else ""))
            else:
                lines.append(f"- **{key}**: {value}")
    else:
        lines.append("Not measured.")
    lines += ["", "## Recipe", "", "```", recipe or "(not recorded)", "```", ""]
    return "\n".join(front + lines)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


# ---- loading --------------------------------------------------------------------------------------


def load(name_or_path: str | Path, *, revision: str | None = None, device: str | torch.device | None = None) -> GanModel:
    """A catalog name, "hf-hub:org/repo[@revision]", a published folder, or a training run folder."""
    text = str(name_or_path)
    if text.startswith(HUB_PREFIX):
        repo_id, _, pinned = text[len(HUB_PREFIX):].partition("@")
        model = load_folder(download(repo_id, revision=revision or pinned or None))
    elif os.path.isdir(text):
        folder = Path(text)
        model = load_run(folder) if (folder / "checkpoints").is_dir() and not (folder / WEIGHTS_FILE).exists() else load_folder(folder)
    else:
        model = load_folder(_catalog_folder(_catalog_entry(text), revision))
    return model.to(device) if device is not None else model


def _catalog_entry(name: str) -> ModelCard:
    models = get_state().models
    if name in models:
        return models.get(name)
    if os.sep in name or name.startswith("."):
        raise FileNotFoundError(f"no such folder: {name}")
    raise UnknownNameError(models.unknown_message(name).replace("unknown model", "unknown pretrained model")
                           + "; a Hub repo is loaded as 'hf-hub:org/repo' and a local folder by its path")


def _catalog_folder(card: ModelCard, revision: str | None) -> Path:
    if card.weights.startswith("bundled:"):
        package, _, sub = card.weights[len("bundled:"):].partition("/")
        return Path(str(resources.files(package).joinpath(sub)))
    if card.weights.startswith(HUB_PREFIX):
        repo_id, _, pinned = card.weights[len(HUB_PREFIX):].partition("@")
        return download(repo_id, revision=revision or pinned or None)
    raise FileNotFoundError(
        f"'{card.name}' is a recipe: its weights are not published yet. Train them with:\n  {card.recipe}\n"
        f"then load the run folder, or publish it with `ganzoo push RUN REPO_ID`")


def download(repo_id: str, *, revision: str | None = None) -> Path:
    """Fetch a model repo's files into the Hub cache (or find them there offline); the local folder."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (LocalEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError)

    try:
        path = snapshot_download(repo_id, revision=revision, endpoint=_endpoint(),
                                 allow_patterns=[CONFIG_FILE, WEIGHTS_FILE, CARD_FILE, SAMPLES_FILE])
    except RepositoryNotFoundError:
        raise FileNotFoundError(f"Hub repo {repo_id!r} not found (or it is private: pass a token via HF_TOKEN)") from None
    except RevisionNotFoundError:
        raise FileNotFoundError(f"Hub repo {repo_id!r} has no revision {revision!r}") from None
    except LocalEntryNotFoundError:
        raise FileNotFoundError(
            f"{repo_id}@{revision or 'main'} is not in the Hub cache and the Hub cannot be reached "
            f"(offline: HF_HUB_OFFLINE is set, or no network); download it once while online") from None
    return Path(path)


def _endpoint() -> str | None:
    return os.environ.get("HF_ENDPOINT") or None


def read_config(folder: Path) -> dict[str, Any]:
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{folder} has no {CONFIG_FILE}: not a published ganzoo model")
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WeightsError(f"{path} is not valid JSON ({exc}); the download may be corrupt") from None
    if not isinstance(record, dict) or not isinstance(record.get("variant"), str):
        raise WeightsError(f"{path} does not name a variant; it is not a ganzoo config.json")
    return record


def build_from_record(record: dict[str, Any], where: Path) -> GanModel:
    """Networks of the variant named by a config.json, which must be registered by an installed plugin."""
    name = record["variant"]
    variants = get_state().variants
    if name not in variants:
        raise UnknownNameError(
            f"{where / CONFIG_FILE} names variant {name!r}, which no installed plugin provides: install the "
            f"plugin that provides {name!r} (`ganzoo plugins` lists what is loaded)")
    variant = variants.get(name)
    try:
        config = make_config(variant.load_config_class(), record.get("config", {}), variant=name)
    except (ConfigError, TypeError) as exc:
        raise WeightsError(f"{where / CONFIG_FILE} has a config that {name!r} refuses: {exc}") from None
    from .api import build_networks

    return GanModel(variant, config, build_networks(variant, config))


def load_folder(folder: str | Path) -> GanModel:
    """Load a published folder strictly: every expected tensor present, none extra, every shape right."""
    folder = Path(folder)
    record = read_config(folder)
    model = build_from_record(record, folder)
    path = folder / WEIGHTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{folder} has no {WEIGHTS_FILE}")
    tensors = _read_safetensors(path)
    nets = record.get("networks") or generator_names(model)
    unknown = [n for n in nets if n not in model.nets]
    if unknown:
        raise WeightsError(f"{path} holds networks {unknown} that variant {model.variant.name!r} does not have")
    assign_strict(model, tensors, nets, path)
    model.nets.eval()
    return model


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # truncated or not a safetensors file at all
        raise WeightsError(f"{path} is corrupt or truncated ({exc}); delete it and download or save it again") from None


def assign_strict(model: GanModel, tensors: dict[str, torch.Tensor], nets: list[str], source: Path | str) -> None:
    """Check every tensor of ``nets`` against ``tensors`` first, then copy them all in (never half-loaded)."""
    expected = {f"{n}.{k}": v for n in nets for k, v in model.nets[n].state_dict().items()}
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing:
        raise WeightsError(f"{source} lacks tensor {missing[0]!r}" + (f" and {len(missing) - 1} more" if len(missing) > 1 else "")
                           + f": the file does not match variant {model.variant.name!r} with this config")
    if extra:
        raise WeightsError(f"{source} has unexpected tensor {extra[0]!r}" + (f" and {len(extra) - 1} more" if len(extra) > 1 else "")
                           + f": it was saved from other networks than {model.variant.name!r} with this config")
    for key, want in expected.items():
        if tuple(tensors[key].shape) != tuple(want.shape):
            raise WeightsError(f"tensor {key!r} in {source} has shape {tuple(tensors[key].shape)} but "
                               f"{model.variant.name!r} with this config expects {tuple(want.shape)}: "
                               f"the weights are from another architecture")
    for n in nets:
        prefix = n + "."
        model.nets[n].load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}, strict=True)


def load_run(run: str | Path) -> GanModel:
    """A training run folder's latest checkpoint, with the EMA generator in place of G when there is one."""
    from .engine.checkpoint import list_checkpoints, read_checkpoint

    run = Path(run)
    record = read_config(run)
    model = build_from_record(record, run)
    found = list_checkpoints(run / "checkpoints")
    if not found:
        raise FileNotFoundError(f"run {run} has no checkpoints yet")
    tensors, _ = read_checkpoint(found[-1])
    picked = {k[len("net."):]: v for k, v in tensors.items() if k.startswith("net.")}
    if any(k.startswith("ema.") for k in tensors):
        ema_net = model.variant.load_step().ema_net
        picked = {k: v for k, v in picked.items() if not k.startswith(ema_net + ".")}
        picked.update({f"{ema_net}.{k[4:]}": v for k, v in tensors.items() if k.startswith("ema.")})
    assign_strict(model, picked, list(model.nets), found[-1])
    model.nets.eval()
    return model


def recipe_command(record: dict[str, Any]) -> str:
    """The `ganzoo train` command that reproduces a run from its config.json."""
    from .engine.options import TrainOptions

    variant = get_state().variants.get(record["variant"])
    defaults = make_config(variant.load_config_class(), {}).__dict__
    engine_defaults = TrainOptions().__dict__
    parts = ["ganzoo train", record["variant"], "--data", record["data"]["spec"]]
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
