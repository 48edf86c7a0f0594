"""Data sets from the Hugging Face Hub: the spec "hf:ORG/NAME[@REVISION][:SPLIT]".

The revision (default "main") is resolved to a commit and the repo's files at that commit are fetched
into the Hub cache, or found there when offline (HF_HUB_OFFLINE); the ``datasets`` library reads them
into its memory-mapped arrow cache. Items are decoded one at a time and resized and centre-cropped
like a folder's images, so a large set never sits decoded in memory. ``source`` names repo, commit,
split and columns; a run records it and passes it back on resume, so it reads the same rows.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from .folder import ImageReadError, pil_to_model_range
from .image_files import open_image

__all__ = ["HubDataError", "HubImageDataset", "load_hub_data", "parse_hub_arg"]

PREFIX = "hf:"
INSTALL = 'pip install "torch-ganzoo[hub-data]"'
DEFAULT_SPLIT = "train"


class HubDataError(ValueError):
    """A Hub data set that cannot be used as asked (no such split, no image column, ...); the message says why."""


def parse_hub_arg(arg: str | None) -> tuple[str, str | None, str | None]:
    """ "ORG/NAME[@REVISION][:SPLIT]" -> (repo, revision or None, split or None); repo and revision are checked."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    from ..hf import REVISION

    if not arg:
        raise HubDataError("a Hub data set needs a repo: hf:ORG/NAME[@REVISION][:SPLIT]")
    where, _, split = arg.partition(":")
    repo, _, revision = where.partition("@")
    try:
        validate_repo_id(repo)
    except HFValidationError:
        raise HubDataError(
            f"{PREFIX}{arg} does not name a Hub data set: write it as hf:ORG/NAME[@REVISION][:SPLIT] "
            f"(letters, digits, '-', '_', '.')"
        ) from None
    if revision and not (REVISION.fullmatch(revision) and ".." not in revision and not revision.endswith("/")):
        raise HubDataError(f"{revision!r} is not a valid Hub revision: give a branch, a tag or a commit sha")
    return repo, revision or None, split or None


def load_hub_data(
    arg: str | None,
    *,
    image_size: int,
    channels: int,
    repo: str | None = None,
    revision: str | None = None,
    split: str | None = None,
    image_column: str | None = None,
    label_column: str | None = None,
) -> HubImageDataset:
    """The spec "hf:ORG/NAME[@REVISION][:SPLIT]" (arg is what follows "hf:").

    The keywords complete the spec: ``revision`` pins a commit over the spec's branch (a resumed run
    passes the recorded one), ``split`` defaults to "train" (or the only split), ``image_column`` to
    the one Image column and ``label_column`` to the first ClassLabel column (none: no labels).
    """
    name, spec_revision, spec_split = parse_hub_arg(arg)
    if repo is not None and repo != name:
        raise HubDataError(f"the run recorded data repo {repo!r}, but its spec names {name!r}; resume on the same data")
    if split and spec_split and split != spec_split:
        raise HubDataError(f"split {split!r} was asked for, but the spec {PREFIX}{arg} names split {spec_split!r}")
    datasets = _import_datasets()
    folder = _fetch(name, revision or spec_revision)
    where = f"{PREFIX}{name}@{folder.name[:12]}"
    try:
        builder = datasets.load_dataset_builder(str(folder))
    except FileNotFoundError as exc:  # datasets' EmptyDatasetError among them
        raise HubDataError(
            f"{where} holds no data files that datasets can read (parquet, arrow, csv, json, or image files): {exc}"
        ) from None
    splits = sorted(str(s) for s in (builder.config.data_files or {}))  # names, not datasets' NamedSplit
    split = split or spec_split or (DEFAULT_SPLIT if DEFAULT_SPLIT in splits or len(splits) != 1 else splits[0])
    if split not in splits:
        raise HubDataError(
            f"{where} has no split {split!r}; its splits: {', '.join(splits) or 'none'} (name one as hf:{name}:SPLIT)"
        )
    builder.download_and_prepare()  # local files into the arrow cache, once per commit
    table = builder.as_dataset(split=split)
    image_column = _image_column(table, image_column, where)
    labels, classes, label_column = _labels(table, label_column, where)
    source = {
        "repo": name,
        "revision": folder.name,
        "split": split,
        "image_column": image_column,
        "label_column": label_column,
    }
    return HubImageDataset(
        table, image_column, image_size=image_size, channels=channels, labels=labels, classes=classes, source=source
    )


class HubImageDataset(Dataset):
    """Rows of a memory-mapped ``datasets.Dataset`` decoded on access.

    Item i is (C, image_size, image_size) in [-1, 1].
    """

    def __init__(
        self,
        table: Any,
        column: str,
        *,
        image_size: int,
        channels: int,
        labels: torch.Tensor | None = None,
        classes: list[str] | None = None,
        source: dict[str, Any] | None = None,
    ) -> None:
        from datasets import Image as ImageFeature

        self.rows = table.select_columns([column]).cast_column(column, ImageFeature(decode=False))  # bytes, not PIL
        self.column, self.image_size, self.channels = column, image_size, channels
        self.labels = labels  # (N,) int64 class of each row, or None
        self.classes = classes  # class names, label i is classes[i]
        self.source = source or {}  # repo, revision (commit), split, image_column, label_column

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self._decode(self.rows[int(index)][self.column], int(index))  # (C, H, W)

    def __getitems__(self, indices: list[int]) -> list[torch.Tensor]:
        """A batch read in one arrow slice (DataLoader calls this), then decoded image by image."""
        cells = self.rows[[int(i) for i in indices]][self.column]
        return [self._decode(cell, int(i)) for cell, i in zip(cells, indices)]

    def _decode(self, cell: dict[str, Any] | None, index: int) -> torch.Tensor:
        where = f"{PREFIX}{self.source.get('repo')} ({self.source.get('split')}) row {index}"
        try:
            if not cell or not (cell.get("bytes") or cell.get("path")):
                raise ValueError("the row holds no image")
            source = io.BytesIO(cell["bytes"]) if cell.get("bytes") else cell["path"]
            with open_image(source, name=where, fix="use another data set or --image-column") as img:
                return pil_to_model_range(img, self.image_size, self.channels)
        except ImageReadError:
            raise
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise ImageReadError(f"cannot read image {where}: {exc}") from exc


def _import_datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise HubDataError(f"hf: data sets need the datasets library, which is not installed: {INSTALL}") from None
    return datasets


def _fetch(repo: str, revision: str | None) -> Path:
    """The local snapshot folder of the data set repo at ``revision``; its name is the commit sha."""
    from ..hf import snapshot

    return snapshot(repo, revision, repo_type="dataset", kind="Hub data set", shown=f"{PREFIX}{repo}")


def _columns(table: Any) -> str:
    return ", ".join(f"{name} ({type(feature).__name__})" for name, feature in table.features.items())


def _image_column(table: Any, wanted: str | None, where: str) -> str:
    """The column of images: ``wanted``, or the one column with an Image feature."""
    from datasets import Image as ImageFeature

    if wanted is not None:
        if wanted not in table.features:
            raise HubDataError(f"{where} has no column {wanted!r}; its columns: {_columns(table)}")
        try:
            table.select_columns([wanted]).cast_column(wanted, ImageFeature(decode=False))
        except (TypeError, ValueError, NotImplementedError) as exc:  # pyarrow's cast errors
            raise HubDataError(f"column {wanted!r} of {where} does not hold images ({exc})") from None
        return wanted
    found = [name for name, feature in table.features.items() if isinstance(feature, ImageFeature)]
    if len(found) != 1:
        what = "no image column" if not found else f"{len(found)} image columns ({', '.join(found)})"
        raise HubDataError(f"{where} has {what}; its columns: {_columns(table)}: name the images with --image-column")
    return found[0]


def _labels(table: Any, wanted: str | None, where: str) -> tuple[torch.Tensor | None, list[str] | None, str | None]:
    """Labels (N,) int64, class names and the column they came from: ``wanted``, or the first ClassLabel column.

    A ClassLabel column keeps its own names; another column's distinct values, sorted, become the classes.
    A column found (not named) with rows left unlabelled gives no labels: unconditional runs still train.
    """
    from datasets import ClassLabel

    found = wanted is None
    if found:
        wanted = next((n for n, f in table.features.items() if isinstance(f, ClassLabel)), None)
        if wanted is None:
            return None, None, None
    if wanted not in table.features:
        raise HubDataError(f"{where} has no column {wanted!r}; its columns: {_columns(table)}")
    feature = table.features[wanted]
    values = table.data.column(wanted).to_pylist()  # one int or string per row: small next to the images
    if any(v is None or (isinstance(feature, ClassLabel) and v < 0) for v in values):
        if found:
            return None, None, None
        raise HubDataError(f"label column {wanted!r} of {where} has rows without a label")
    if isinstance(feature, ClassLabel):
        return torch.tensor(values, dtype=torch.int64), list(feature.names), wanted
    if any(isinstance(v, (list, dict, float, bytes)) for v in values[:1]):
        raise HubDataError(f"column {wanted!r} of {where} holds {type(values[0]).__name__} values, not class labels")
    distinct = sorted(set(values))
    index = {v: i for i, v in enumerate(distinct)}
    return torch.tensor(np.array([index[v] for v in values]), dtype=torch.int64), [str(v) for v in distinct], wanted
