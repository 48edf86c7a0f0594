"""The folder data spec ("folder:PATH", or a bare path): every image file under PATH, with class labels
when each class is a subfolder.

Files are read through image_files.py (found recursively and sorted, decoded lazily into [-1, 1]); a
folder of at least MIN_PREPARED images is read from its uint8 cache instead (prepared.py), made on first use.
The file-level names (FolderImageDataset, find_images, pil_to_model_range, ...) are re-exported here.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .image_files import (
    IMAGE_EXTENSIONS,
    FolderImageDataset,
    ImageReadError,
    find_images,
    pil_to_model_range,
    pil_to_pixels,
)
from .prepared import PreparedFolderDataset, prepared_pixels

__all__ = [
    "IMAGE_EXTENSIONS",
    "FolderImageDataset",
    "ImageReadError",
    "find_images",
    "load_folder",
    "pil_to_model_range",
    "pil_to_pixels",
]

MIN_PREPARED = 100  # folders from this size on are prepared once into a uint8 cache (ganzoo.data.prepared)


def load_folder(
    arg: str | None,
    *,
    image_size: int,
    channels: int,
    crop: int | None = None,
    verify: bool | None = None,
    prepare: bool = True,
) -> FolderImageDataset:
    """The spec "folder:PATH" (or a bare path): every image under PATH, recursively.

    verify: check each file when building (default: when the folder holds at most 20,000 images);
    a file that still fails later raises ImageReadError naming it. prepare: read a folder of at least
    100 images from its prepared uint8 cache (ganzoo.data.prepared), made on first use.
    """
    if not arg:
        raise ValueError("a folder data set needs a path: folder:PATH")
    files = find_images(arg)
    dataset = None
    if prepare and len(files) >= MIN_PREPARED:
        pixels = prepared_pixels(files, image_size=image_size, channels=channels, crop=crop)
        if pixels is not None:
            dataset = PreparedFolderDataset(files, pixels, image_size=image_size, channels=channels, crop=crop)
    if dataset is None:
        dataset = FolderImageDataset(files, image_size=image_size, channels=channels, crop=crop, verify=verify)
    dataset.classes, dataset.labels = folder_classes(Path(arg).expanduser(), files)
    return dataset


def folder_classes(root: Path, files: list[Path]) -> tuple[list[str] | None, torch.Tensor | None]:
    """Class names and labels of the ImageFolder layout: every image inside a first-level subfolder of
    root, one subfolder per class, names sorted. (None, None) for any other layout."""
    parts = [f.relative_to(root).parts for f in files]
    if any(len(p) < 2 for p in parts):  # an image directly in root: not a class layout
        return None, None
    classes = sorted({p[0] for p in parts})
    index = {name: i for i, name in enumerate(classes)}
    return classes, torch.tensor([index[p[0]] for p in parts], dtype=torch.int64)
