"""2D mixtures (ring8, grid25) and the VEEGAN/PacGAN mode-coverage metric."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganzoo.data.mixtures import (
    GRID25_STD,
    RING8_STD,
    PointsDataset,
    grid25_means,
    load_grid25,
    load_ring8,
    ring8_means,
    sample_mixture,
)
from ganzoo.metrics.modes import mode_coverage


def test_ring8_means_are_8_distinct_points_45_degrees_apart():
    means = ring8_means().double()
    assert means.shape == (8, 2)
    assert torch.allclose(means.norm(dim=1), torch.ones(8, dtype=torch.float64), atol=1e-6)
    angles = torch.atan2(means[:, 1], means[:, 0]).remainder(2 * math.pi)
    assert torch.allclose(angles, torch.arange(8, dtype=torch.float64) * math.pi / 4, atol=1e-6)
    assert torch.cdist(means, means).add(torch.eye(8, dtype=torch.float64) * 9).min() > 0.76  # 2 sin(22.5 deg)


def test_grid25_means():
    means = grid25_means()
    assert means.shape == (25, 2)
    assert {tuple(p) for p in means.tolist()} == {(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}


@pytest.mark.parametrize(
    "load,means,std", [(load_ring8, ring8_means(), RING8_STD), (load_grid25, grid25_means(), GRID25_STD)]
)
def test_mixture_datasets(load, means, std):
    ds = load(None)
    assert isinstance(ds, PointsDataset) and len(ds) == 100_000
    assert ds.tensor.shape == (100_000, 2) and ds.tensor.dtype == torch.float32 and ds[3].shape == (2,)
    assert torch.equal(ds.means, means) and ds.std == std
    assert torch.equal(load(None).tensor, ds.tensor)  # fixed seed
    # spread around the nearest mean matches std, and modes are (nearly) equally likely
    nearest = torch.cdist(ds.tensor, ds.means).argmin(dim=1)
    offsets = ds.tensor - ds.means[nearest]
    assert offsets.std(dim=0).sub(std).abs().max() < 0.02 * std
    counts = torch.bincount(nearest, minlength=len(means)).double() / len(ds)
    assert counts.sub(1 / len(means)).abs().max() < 0.01
    with pytest.raises(ValueError, match="takes no argument"):
        load("x")


def test_sample_mixture_is_seeded():
    a = sample_mixture(ring8_means(), 0.01, 10, torch.Generator().manual_seed(1))
    b = sample_mixture(ring8_means(), 0.01, 10, torch.Generator().manual_seed(1))
    assert a.shape == (10, 2) and torch.equal(a, b)


@pytest.mark.parametrize("means,std", [(ring8_means(), RING8_STD), (grid25_means(), GRID25_STD)])
def test_true_samples_cover_every_mode(means, std):
    samples = sample_mixture(means, std, 2500, torch.Generator().manual_seed(7))
    result = mode_coverage(samples, means, std)
    assert result["modes"] == result["num_modes"] == len(means)
    assert result["hq_fraction"] > 0.97  # 3 sigma in 2D holds 1 - exp(-4.5) = 98.9%
    assert sum(result["per_mode"]) == round(result["hq_fraction"] * 2500)


def test_three_modes_only():
    means = ring8_means()
    samples = sample_mixture(means[[0, 3, 5]], RING8_STD, 2500, torch.Generator().manual_seed(0))
    result = mode_coverage(samples.numpy(), means.numpy(), RING8_STD)  # numpy works too
    assert result["modes"] == 3
    assert [i for i, c in enumerate(result["per_mode"]) if c] == [0, 3, 5]


def test_far_away_points():
    result = mode_coverage(torch.full((100, 2), 10.0), ring8_means(), RING8_STD)
    assert result == {"modes": 0, "num_modes": 8, "hq_fraction": 0.0, "per_mode": [0] * 8}


def test_hand_made_example():
    means = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    samples = np.array(
        [
            [0.0, 0.0],  # HQ, mode 0
            [2.5, 0.0],  # HQ, mode 0
            [3.5, 0.0],  # nearest mode 0 but 3.5 std away: not HQ
            [10.0, 3.0],  # exactly 3 std from mode 1: HQ (boundary counts)
            [5.0, 0.0],  # halfway: not HQ
            [np.nan, 0.0],  # not finite: not HQ
        ]
    )
    result = mode_coverage(samples, means, 1.0)
    assert result == {"modes": 2, "num_modes": 3, "hq_fraction": 0.5, "per_mode": [2, 1, 0]}
    assert mode_coverage(samples, means, 1.0, hq_sigmas=4.0)["per_mode"] == [3, 1, 0]


def test_mode_coverage_rejects_bad_shapes():
    with pytest.raises(ValueError, match="samples"):
        mode_coverage(torch.zeros(5, 3), ring8_means(), 0.01)
    with pytest.raises(ValueError, match="at least one"):
        mode_coverage(torch.zeros(0, 2), ring8_means(), 0.01)
