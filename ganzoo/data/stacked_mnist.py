"""The data spec "stacked-mnist": three mnist-5k digits stacked as the R, G and B channels.

Each item is a triple of digits, so the data has 10^3 = 1,000 modes (Metz et al. 2017, used by
VEEGAN and PacGAN to count mode collapse). The set holds NUM_TRIPLES triples whose three digit
indices are drawn uniformly, with replacement, from mnist-5k's 5,000 digits with the fixed seed
SEED: the same 50,000 triples on every machine. Only the (N, 3) indices are kept; images are
stacked on the fly from the 5,000 digits at the requested size. Mode of a triple: 100 * R + 10 * G + B.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from .images import to_model_range
from .mnist import mnist5k_arrays

__all__ = ["StackedMnist", "load_stacked_mnist", "stacked_indices", "NUM_TRIPLES", "SEED", "NUM_MODES"]

NUM_TRIPLES = 50_000  # size of the data set
SEED = 0  # generator seed of the triples
NUM_MODES = 1_000  # digit triples 000 to 999


def stacked_indices(n: int = NUM_TRIPLES, seed: int = SEED) -> torch.Tensor:
    """(n, 3) int64 indices into mnist-5k, uniform with replacement: the R, G and B digit of each triple."""
    return torch.randint(5000, (n, 3), generator=torch.Generator().manual_seed(seed))


class StackedMnist(Dataset):
    """Stacked triples; item i is the (3, S, S) image in [-1, 1]. ``labels`` (N,) are the modes 0..999,
    ``digit_labels`` (N, 3) the digit of each channel."""

    def __init__(self, digits: torch.Tensor, digit_classes: torch.Tensor, indices: torch.Tensor) -> None:
        self.digits = digits  # (5000, 1, S, S) float32 in [-1, 1]
        self.indices = indices  # (N, 3) int64 into digits
        self.digit_labels = digit_classes[indices]  # (N, 3)
        self.labels = (self.digit_labels * torch.tensor([100, 10, 1])).sum(dim=1)  # (N,) mode of each triple
        self.classes = [f"{m:03d}" for m in range(NUM_MODES)]

    def __len__(self) -> int:
        return self.indices.shape[0]

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.batch(torch.as_tensor([index]))[0]  # (3, S, S)

    def batch(self, indices: torch.Tensor) -> torch.Tensor:
        """Items ``indices`` (B,) at once: (B, 3, S, S), digit j of triple i in channel j."""
        picked = self.digits[self.indices[indices]]  # (B, 3, 1, S, S)
        return picked.squeeze(2)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (3, *self.digits.shape[-2:])


def load_stacked_mnist(arg: str | None = None, *, image_size: int = 32, channels: int = 3) -> StackedMnist:
    """The spec "stacked-mnist": 50,000 digit triples as 3-channel images of side ``image_size``."""
    if arg is not None:
        raise ValueError(
            f"stacked-mnist is made from the bundled digits and takes no argument; use the spec "
            f"'stacked-mnist', not 'stacked-mnist:{arg}'"
        )
    if channels != 3:
        raise ValueError(
            f"stacked-mnist images have 3 channels (one digit each), not {channels}: train with "
            f"--channels 3, or leave --channels out: the spec suggests 3"
        )
    images, labels = mnist5k_arrays()
    digits = to_model_range(images, image_size, 1)  # (5000, 1, S, S)
    return StackedMnist(digits, torch.from_numpy(labels.astype(np.int64)), stacked_indices())
