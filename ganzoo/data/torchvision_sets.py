"""MNIST, CIFAR-10 and CelebA over files already on disk.

We never download (download=False always): a missing data set raises FileNotFoundError naming
the root, the layout expected under it, and the torchvision call that fetches it. Items are the
image alone, (C, image_size, image_size) in [-1, 1]; class labels stay on the side (``labels``,
``classes``) for conditional variants, and CelebA's attributes are not read. MNIST and CIFAR-10
are decoded once into memory at load; CelebA's JPEGs are prepared once into a uint8 cache.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from .folder import load_folder
from .images import ImageTensorDataset, to_model_range

__all__ = ["load_mnist", "load_cifar10", "load_celeba", "CELEBA_CROP"]

CELEBA_CROP = 178  # the aligned faces are 178x218; the usual 64x64 recipe crops the centre square first


def _root(arg: str | None, spec: str) -> Path:
    if not arg:
        raise ValueError(f"the {spec} data set needs a local root folder: {spec}:ROOT")
    return Path(arg).expanduser()


def _missing(name: str, root: Path, layout: str, cls: str) -> FileNotFoundError:
    return FileNotFoundError(
        f"{name} not found under {root}: expected {layout}. ganzoo never downloads; to fetch it once, run\n"
        f'    python -c "import torchvision; torchvision.datasets.{cls}({str(root)!r}, download=True)"'
    )


def _open(make: Any, name: str, root: Path, layout: str, cls: str) -> Dataset:
    """Build a torchvision data set, turning its 'not found' RuntimeError into our message."""
    if not root.is_dir():
        raise _missing(name, root, layout, cls)
    try:
        return make(str(root))
    except RuntimeError as exc:
        if "not found" in str(exc).lower():
            raise _missing(name, root, layout, cls) from exc
        raise


def _in_memory(base: Any, images: Any, image_size: int, channels: int) -> ImageTensorDataset:
    """The whole set decoded once into memory, (N, C, S, S) in [-1, 1], with its labels and class names:
    no per-item decoding in the training loop (the path mnist-5k and hf: data take)."""
    return ImageTensorDataset(
        to_model_range(images, image_size, channels),
        torch.as_tensor(base.targets, dtype=torch.int64),
        classes=list(base.classes),
    )


def load_mnist(arg: str | None, *, image_size: int = 32, channels: int = 1) -> ImageTensorDataset:
    """The spec "mnist:ROOT": the 60,000 MNIST training digits under ROOT/MNIST/raw/."""
    from torchvision.datasets import MNIST

    root = _root(arg, "mnist")
    layout = (
        "ROOT/MNIST/raw/train-images-idx3-ubyte, train-labels-idx1-ubyte, "
        "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte"
    )
    base = _open(functools.partial(MNIST, train=True, download=False), "MNIST", root, layout, "MNIST")
    return _in_memory(base, base.data, image_size, channels)  # data: (N, 28, 28) uint8


def load_cifar10(arg: str | None, *, image_size: int = 32, channels: int = 3) -> ImageTensorDataset:
    """The spec "cifar10:ROOT": the 50,000 CIFAR-10 training images under ROOT/cifar-10-batches-py/."""
    from torchvision.datasets import CIFAR10

    root = _root(arg, "cifar10")
    layout = "ROOT/cifar-10-batches-py/ with data_batch_1 .. data_batch_5, test_batch and batches.meta"
    base = _open(functools.partial(CIFAR10, train=True, download=False), "CIFAR-10", root, layout, "CIFAR10")
    return _in_memory(base, base.data.transpose(0, 3, 1, 2), image_size, channels)  # data: (N, 32, 32, 3) uint8


def load_celeba(arg: str | None, *, image_size: int = 64, channels: int = 3) -> Dataset:
    """The spec "celeba:ROOT": all 202,599 aligned faces, centre-cropped to 178x178, then resized.

    Reads the JPEGs of img_align_celeba/ (torchvision's layout ROOT/celeba/img_align_celeba/, with
    or without its list_*.txt files, or a bare ROOT/img_align_celeba/) as an image folder, the same
    crop applied, prepared once into a uint8 cache that later runs memory-map (ganzoo.data.prepared).
    """
    root = _root(arg, "celeba")
    layout = (
        "ROOT/celeba/img_align_celeba/*.jpg (torchvision's layout, its list_*.txt files optional), "
        "or a folder ROOT/img_align_celeba/ of the aligned JPEGs"
    )
    for folder in (root / "celeba" / "img_align_celeba", root / "img_align_celeba"):
        if folder.is_dir():
            return load_folder(str(folder), image_size=image_size, channels=channels, crop=CELEBA_CROP)
    raise _missing("CelebA", root, layout, "CelebA")
