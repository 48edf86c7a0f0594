"""2D Gaussian mixtures of the VEEGAN/PacGAN mode-collapse protocol.

ring8: 8 modes on a circle of radius 1 at angles 2*pi*k/8, std 0.01.
grid25: 25 modes at {-4, -2, 0, 2, 4}^2, std 0.05.
Every mode is equally likely; the data sets hold 100,000 points drawn with a fixed seed, so every
run trains on the same points. Score samples with ganzoo.metrics.modes.mode_coverage.
"""

from __future__ import annotations

import math

import torch
from torch.utils.data import Dataset

__all__ = [
    "PointsDataset",
    "ring8_means",
    "grid25_means",
    "sample_mixture",
    "load_ring8",
    "load_grid25",
    "RING8_STD",
    "GRID25_STD",
    "NUM_POINTS",
    "SEED",
]

RING8_STD = 0.01
GRID25_STD = 0.05
NUM_POINTS = 100_000  # size of the training sets
SEED = 0  # generator seed of the training sets


class PointsDataset(Dataset):
    """Points of a Gaussian mixture; item i is the (2,) point. Means and std travel with it for scoring."""

    def __init__(self, tensor: torch.Tensor, means: torch.Tensor, std: float) -> None:
        self.tensor = tensor  # (N, 2) float32
        self.means = means  # (K, 2) float32, the mode centres
        self.std = float(std)  # per-coordinate std of every mode

    def __len__(self) -> int:
        return self.tensor.shape[0]

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.tensor[index]  # (2,)


def ring8_means(radius: float = 1.0) -> torch.Tensor:
    """(8, 2) centres at angles 2*pi*k/8, k = 0..7: eight distinct modes 45 degrees apart."""
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)  # no endpoint: 2*pi would repeat k=0
    return (radius * torch.stack([angles.cos(), angles.sin()], dim=1)).to(torch.float32)


def grid25_means(spacing: float = 2.0) -> torch.Tensor:
    """(25, 2) centres at {-4, -2, 0, 2, 4}^2, row-major over (x, y)."""
    axis = torch.arange(-2, 3, dtype=torch.float32) * spacing  # (5,)
    xs, ys = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1)


def sample_mixture(means: torch.Tensor, std: float, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """n points (n, D) from equal-weight isotropic Gaussians centred on means (K, D)."""
    means = torch.as_tensor(means, dtype=torch.float32)
    modes = torch.randint(means.shape[0], (n,), generator=generator)  # (n,) uniform over the K modes
    noise = torch.randn(n, means.shape[1], generator=generator)  # (n, D)
    return means[modes] + std * noise


def _load(name: str, arg: str | None, means: torch.Tensor, std: float) -> PointsDataset:
    if arg is not None:
        raise ValueError(f"{name} is generated and takes no argument; use the spec '{name}', not '{name}:{arg}'")
    generator = torch.Generator().manual_seed(SEED)
    return PointsDataset(sample_mixture(means, std, NUM_POINTS, generator), means, std)


def load_ring8(arg: str | None = None, *, image_size: int = 0, channels: int = 0) -> PointsDataset:
    """The spec "ring8": 100,000 points of the 8-Gaussian ring (image_size and channels are ignored)."""
    return _load("ring8", arg, ring8_means(), RING8_STD)


def load_grid25(arg: str | None = None, *, image_size: int = 0, channels: int = 0) -> PointsDataset:
    """The spec "grid25": 100,000 points of the 25-Gaussian grid (image_size and channels are ignored)."""
    return _load("grid25", arg, grid25_means(), GRID25_STD)
