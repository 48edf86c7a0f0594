"""MNIST, CIFAR-10 and CelebA through torchvision.datasets, over files already on disk.

We never download (download=False always): a missing data set raises FileNotFoundError naming
the root, the layout expected under it, and the torchvision call that fetches it. Items are the
image alone, (C, image_size, image_size) in [-1, 1]; class labels stay on the side (``labels``,
``classes``) for conditional variants, and CelebA's attributes are not read.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from .folder import FolderImageDataset, find_images, pil_to_model_range

__all__ = ["ImagesOnly", "load_mnist", "load_cifar10", "load_celeba", "CELEBA_CROP"]

CELEBA_CROP = 178  # the aligned faces are 178x218; the usual 64x64 recipe crops the centre square first


class ImagesOnly(Dataset):
    """Wraps a (image, target) data set so that item i is the image alone; class labels, when the
    set has them (``targets`` and ``classes``, as MNIST and CIFAR-10 do), are kept as ``labels``."""

    def __init__(self, base: Dataset) -> None:
        self.base = base
        targets, classes = getattr(base, "targets", None), getattr(base, "classes", None)
        has = targets is not None and classes and len(targets) == len(base)  # type: ignore[arg-type]
        self.labels = torch.as_tensor(targets, dtype=torch.int64) if has else None  # (N,) or None
        self.classes = list(classes) if has else None

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.base[index][0]  # (C, H, W)


def _root(arg: str | None, spec: str) -> Path:
    if not arg:
        raise ValueError(f"the {spec} data set needs a local root folder: {spec}:ROOT")
    return Path(arg).expanduser()


def _missing(name: str, root: Path, layout: str, cls: str) -> FileNotFoundError:
    return FileNotFoundError(
        f"{name} not found under {root}: expected {layout}. ganzoo never downloads; to fetch it once, run\n"
        f"    python -c \"import torchvision; torchvision.datasets.{cls}({str(root)!r}, download=True)\""
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


def load_mnist(arg: str | None, *, image_size: int = 32, channels: int = 1) -> ImagesOnly:
    """The spec "mnist:ROOT": the 60,000 MNIST training digits under ROOT/MNIST/raw/."""
    from torchvision.datasets import MNIST

    root = _root(arg, "mnist")
    transform = functools.partial(pil_to_model_range, image_size=image_size, channels=channels)
    layout = (
        "ROOT/MNIST/raw/train-images-idx3-ubyte, train-labels-idx1-ubyte, "
        "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte"
    )
    make = functools.partial(MNIST, train=True, transform=transform, download=False)
    return ImagesOnly(_open(make, "MNIST", root, layout, "MNIST"))


def load_cifar10(arg: str | None, *, image_size: int = 32, channels: int = 3) -> ImagesOnly:
    """The spec "cifar10:ROOT": the 50,000 CIFAR-10 training images under ROOT/cifar-10-batches-py/."""
    from torchvision.datasets import CIFAR10

    root = _root(arg, "cifar10")
    transform = functools.partial(pil_to_model_range, image_size=image_size, channels=channels)
    layout = "ROOT/cifar-10-batches-py/ with data_batch_1 .. data_batch_5, test_batch and batches.meta"
    make = functools.partial(CIFAR10, train=True, transform=transform, download=False)
    return ImagesOnly(_open(make, "CIFAR-10", root, layout, "CIFAR10"))


def load_celeba(arg: str | None, *, image_size: int = 64, channels: int = 3) -> Dataset:
    """The spec "celeba:ROOT": all 202,599 aligned faces, centre-cropped to 178x178, then resized.

    Takes torchvision's full layout (ROOT/celeba/ with img_align_celeba/ and the list_*.txt files),
    or, when those annotation files are absent, a bare ROOT/celeba/img_align_celeba/ or
    ROOT/img_align_celeba/ folder of JPEGs (read as an image folder, the same crop applied).
    """
    from torchvision.datasets import CelebA

    root = _root(arg, "celeba")
    layout = (
        "ROOT/celeba/img_align_celeba/*.jpg with ROOT/celeba/list_eval_partition.txt, identity_CelebA.txt, "
        "list_attr_celeba.txt, list_bbox_celeba.txt, list_landmarks_align_celeba.txt (torchvision's layout), "
        "or just a folder ROOT/celeba/img_align_celeba/ or ROOT/img_align_celeba/ of the aligned JPEGs"
    )
    transform = functools.partial(pil_to_model_range, image_size=image_size, channels=channels, crop=CELEBA_CROP)
    full = root / "celeba" / "list_eval_partition.txt"
    if full.is_file():  # torchvision's layout: let it check the annotation files and pick the images
        make = functools.partial(CelebA, split="all", target_type=[], transform=transform, download=False)
        try:
            return ImagesOnly(_open(make, "CelebA", root, layout, "CelebA"))
        except FileNotFoundError:
            pass  # annotations incomplete or damaged: the images alone still make a data set
    for folder in (root / "celeba" / "img_align_celeba", root / "img_align_celeba"):
        if folder.is_dir():
            return FolderImageDataset(find_images(folder), image_size=image_size, channels=channels, crop=CELEBA_CROP)
    raise _missing("CelebA", root, layout, "CelebA")
