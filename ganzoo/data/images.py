"""Image tensors in the range every model expects: float32 (N, C, H, W) in [-1, 1].

`to_model_range` turns decoded uint8 images (any size, grayscale or RGB) into that range at the
model's size and channel count; `ImageTensorDataset` holds the result in memory. A set that would not
fit in the memory available now is refused (`check_memory`) before its tensor is allocated.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

__all__ = [
    "DataMemoryError",
    "ImageTensorDataset",
    "LUMA_WEIGHTS",
    "check_memory",
    "memory_available",
    "stack_items",
    "to_model_range",
]

# ITU-R 601 luma, the weights PIL's convert("L") uses, so tensors and PIL files agree.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
WORK_BYTES = 64 << 20  # float working memory of one conversion chunk, whatever the image size
STREAMED = "a smaller image size (--image-size N), or a folder of images (--data folder:PATH), read from disk per batch"


class DataMemoryError(ValueError):
    """A data set that would not fit in the memory available; the message names its size and the fix."""


def memory_available() -> int | None:
    """Bytes that can be allocated now without swapping: MemAvailable of /proc/meminfo; None where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_memory(need: int, what: str, fix: str = STREAMED, *, work: int = 0) -> None:
    """Refuse, before allocating, ``need`` bytes for ``what`` (and ``work`` bytes to make them) when they come to
    more than the memory available now."""
    available = memory_available()
    if available is not None and need + work > available:
        raise DataMemoryError(
            f"{what} take {need / 1e9:.1f} GB as float32, more than the {available / 1e9:.1f} GB of memory "
            f"available: use {fix}"
        )


class ImageTensorDataset(Dataset):
    """In-memory images; item i is the (C, H, W) image alone (labels and class names stay on the side)."""

    def __init__(
        self, tensor: torch.Tensor, labels: torch.Tensor | None = None, classes: list[str] | None = None
    ) -> None:
        if tensor.dim() != 4 or tensor.dtype != torch.float32:
            raise ValueError(f"expected float32 images (N, C, H, W), got {tuple(tensor.shape)} {tensor.dtype}")
        if labels is not None and labels.shape != (tensor.shape[0],):
            raise ValueError(f"labels {tuple(labels.shape)} do not match {tensor.shape[0]} images")
        self.tensor = tensor  # (N, C, H, W) in [-1, 1]
        self.labels = None if labels is None else labels.to(torch.int64)  # (N,) or None
        self.classes = list(classes) if classes is not None and labels is not None else None  # name of label i

    def __len__(self) -> int:
        return self.tensor.shape[0]

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.tensor[index]  # (C, H, W)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of every item."""
        return tuple(self.tensor.shape[1:])  # type: ignore[return-value]


def stack_items(dataset: Dataset, indices: Iterable[int], what: str) -> torch.Tensor:
    """Items ``indices`` of ``dataset`` stacked as (N, C, H, W), refused before allocating when they would not fit."""
    indices = list(indices)
    if not indices:
        return torch.empty(0)
    first = dataset[indices[0]]  # (C, H, W)
    check_memory(len(indices) * first.numel() * first.element_size(), what)
    out = torch.empty((len(indices), *first.shape), dtype=first.dtype)
    out[0] = first
    for row, index in enumerate(indices[1:], start=1):
        out[row] = dataset[index]
    return out


def to_model_range(
    images: np.ndarray | torch.Tensor, image_size: int, channels: int, *, chunk: int = 1024
) -> torch.Tensor:
    """uint8 images (N, H, W) or (N, C, H, W), C in {1, 3} -> float32 (N, channels, S, S) in [-1, 1].

    Resizing is antialiased bilinear to a square (crop non-square images first, or they stretch);
    RGB -> gray uses luma weights, gray -> RGB repeats the channel.
    Works in chunks so that large sets never hold two float copies at full size.
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    if image_size < 1:
        raise ValueError(f"image_size must be positive, got {image_size}")
    if not isinstance(images, torch.Tensor):
        images = np.asarray(images)
        images = torch.from_numpy(images if images.flags.writeable else images.copy())
    x = images
    if x.dtype != torch.uint8:
        raise ValueError(f"expected uint8 images, got {x.dtype}")
    if x.dim() == 3:
        x = x.unsqueeze(1)  # (N, 1, H, W)
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"expected images (N, H, W) or (N, C, H, W) with C in 1 or 3, got {tuple(x.shape)}")
    one = channels * image_size * image_size * 4  # bytes of one float32 output image
    chunk = max(1, min(chunk, WORK_BYTES // one))  # working copies stay small at any image size
    what = f"{x.shape[0]:,} images of {channels}x{image_size}x{image_size}"
    check_memory(x.shape[0] * one, what, work=3 * chunk * one)  # a chunk's float copies besides the result
    out = torch.empty((x.shape[0], channels, image_size, image_size), dtype=torch.float32)
    luma = torch.tensor(LUMA_WEIGHTS, dtype=torch.float32).view(1, 3, 1, 1)
    for start in range(0, x.shape[0], chunk):
        part = x[start : start + chunk].to(torch.float32)  # (b, C, H, W) in [0, 255]
        if part.shape[1] == 3 and channels == 1:
            part = (part * luma).sum(dim=1, keepdim=True)
        elif part.shape[1] == 1 and channels == 3:
            part = part.expand(-1, 3, -1, -1)
        if part.shape[-2:] != (image_size, image_size):
            size = (image_size, image_size)
            part = F.interpolate(part, size=size, mode="bilinear", align_corners=False, antialias=True)
        out[start : start + chunk] = (part / 127.5 - 1.0).clamp_(-1.0, 1.0)
    return out
