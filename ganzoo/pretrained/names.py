"""Name resolution for ``ganzoo.load``: a catalog name, "hf-hub:org/repo[@revision]", a published folder,
a training run folder, or one checkpoint file of a run, each turned into the folder it loads from."""

from __future__ import annotations

import difflib
import os
import warnings
from importlib import resources
from pathlib import Path

import torch

from ..hf import HUB_PREFIX, check_hub_name, snapshot
from ..importers import catalog_import
from ..model import GanModel
from ..plugins import get_state
from ..registry import ModelCard, UnknownNameError, did_you_mean
from .folder import CARD_FILE, CONFIG_FILE, SAMPLES_FILE, WEIGHTS_FILE, load_folder
from .run import load_run


def load(
    name_or_path: str | Path, *, revision: str | None = None, device: str | torch.device | None = None
) -> GanModel:
    """A catalog name, "hf-hub:org/repo[@revision]", a published folder, or a training run folder.

    A bare catalog name always means the catalog entry, even when the working directory holds a
    folder of that name (a warning says how to load the folder: ``./NAME``); a ``pathlib.Path``
    and any other name are read as folder paths.
    """
    text = str(name_or_path)
    models = get_state().models
    if text.startswith(HUB_PREFIX):
        repo_id, _, pinned = text[len(HUB_PREFIX) :].partition("@")
        model = load_folder(download(repo_id, revision=revision or pinned or None))
    elif not isinstance(name_or_path, os.PathLike) and text in models:
        if os.path.isdir(text):
            warnings.warn(
                f"{text!r} is loaded from the catalog; a folder of that name is also here: load it as './{text}'",
                UserWarning,
                stacklevel=2,
            )
        model = load_folder(catalog_folder(models.get(text), revision))
    elif os.path.isdir(text):
        folder = Path(text)
        is_run = (folder / "checkpoints").is_dir() and not (folder / WEIGHTS_FILE).exists()
        model = load_run(folder) if is_run else load_folder(folder)
    elif os.path.isfile(text):  # only one checkpoint of a run, e.g. an earlier one, loads as a file
        if Path(text).parent.name != "checkpoints":
            raise ValueError(
                f"{text} is a file: load a published folder (the one holding {WEIGHTS_FILE}), a training "
                f"run's folder, or one file of a run's checkpoints/ folder"
            )
        model = load_run(Path(text).parent.parent, checkpoint=text)
    else:
        raise _not_found(text, isinstance(name_or_path, os.PathLike))
    return model.to(device) if device is not None else model


def download(repo_id: str, *, revision: str | None = None) -> Path:
    """Fetch a model repo's files into the Hub cache (or find them there offline); the local folder."""
    check_hub_name(repo_id, revision)
    return snapshot(repo_id, revision, allow_patterns=[CONFIG_FILE, WEIGHTS_FILE, CARD_FILE, SAMPLES_FILE])


def catalog_folder(card: ModelCard, revision: str | None) -> Path:
    """The folder a catalog entry loads from: bundled in a package, a Hub snapshot, or an imported release."""
    if card.weights.startswith("bundled:"):
        package, _, sub = card.weights[len("bundled:") :].partition("/")
        return Path(str(resources.files(package).joinpath(sub)))
    if card.weights.startswith(HUB_PREFIX):
        repo_id, _, pinned = card.weights[len(HUB_PREFIX) :].partition("@")
        return download(repo_id, revision=revision or pinned or None)
    if card.weights == "import":  # another library's release: downloaded, verified and converted once, then cached
        return catalog_import(card)
    raise FileNotFoundError(
        f"'{card.name}' is a recipe: its weights are not published yet. Train them with:\n  {card.recipe}\n"
        f"then load the run folder, or publish it with `ganzoo push RUN REPO_ID`"
    )


def _not_found(name: str, is_path: bool) -> Exception:
    if is_path or os.sep in name or name.startswith("."):
        return FileNotFoundError(f"no such {'file' if name.endswith('.safetensors') else 'folder'}: {name}")
    return UnknownNameError(
        f"unknown pretrained model {name!r}{_suggest_models(name)} (`ganzoo list` shows them all); "
        f"a Hub repo is loaded as 'hf-hub:org/repo' and a local folder by its path"
    )


def _suggest_models(name: str) -> str:
    """ "; did you mean ...?" with catalog names close to ``name`` (case ignored), or else the models of a
    variant close to it ("dcgn" suggests dcgan-mnist); "" when nothing is close."""
    models = get_state().models
    hint = did_you_mean(name, models.names())
    if hint:
        return hint
    by_variant: dict[str, list[str]] = {}
    for card in models:
        by_variant.setdefault(card.variant.lower(), []).append(card.name)
    variants = difflib.get_close_matches(name.lower(), list(by_variant), n=3, cutoff=0.6)
    close = [n for v in variants for n in by_variant[v]][:3]
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
