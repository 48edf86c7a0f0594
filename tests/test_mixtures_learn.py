"""Quick learning checks on 2D mixtures; the gradient penalty against a hand computation; the lr schedule.

The full mixtures benchmark (benchmarks/mixtures.py, docs/benchmarks.md) trains for minutes; the
run here is short, so its thresholds sit between what an untrained generator scores (measured
below, on the same samples) and what the short run reaches on every seed tried.
"""

from __future__ import annotations

import pytest
import torch

import ganzoo
from ganzoo.data.mixtures import RING8_STD, ring8_means
from ganzoo.engine.checkpoint import list_checkpoints, load_module, read_checkpoint
from ganzoo.losses import gradient_penalty
from ganzoo.metrics.modes import mode_coverage

# A small, fast version of the benchmark's setting (docs/benchmarks.md, "2D mixtures"): narrower
# nets, smaller batches and a higher learning rate, decaying linearly over the second half.
QUICK = dict(hidden=64, gp_lambda=0.1, lr=1e-3, decay_start=0.5)
QUICK_STEPS = 1500
MIN_MODES = 6  # of 8; the short run covered 8/8 on every seed tried (0 to 3)
MIN_HQ = 0.15  # the short run reached 34% to 56% on seeds 0 to 3; points spread evenly over the
#                circle itself would score only 8 * 0.06 / (2 pi) = 7.6%


def test_wgan_gp_learns_the_ring_in_seconds(tmp_path):
    run = ganzoo.train(
        "wgan-gp",
        "ring8",
        steps=QUICK_STEPS,
        out=tmp_path / "run",
        device="cpu",
        seed=0,
        batch_size=64,
        progress="off",
        sample_every=0,
        checkpoint_every=0,
        log_every=500,
        **QUICK,
    )
    tensors, _ = read_checkpoint(list_checkpoints(run / "checkpoints")[-1])
    torch.manual_seed(0)
    trained, untrained = (ganzoo.create("wgan-gp", dim=2, **QUICK) for _ in range(2))
    load_module("net.G", trained.nets["G"], tensors)
    means = ring8_means()
    after = mode_coverage(trained.sample(2500, seed=0), means, RING8_STD)
    before = mode_coverage(untrained.sample(2500, seed=0), means, RING8_STD)
    # an untrained G puts its points near the origin: 0 modes and 0% HQ (measured for init seeds 0 to 4)
    assert before["modes"] < MIN_MODES and before["hq_fraction"] < MIN_HQ / 10, before
    assert after["modes"] >= MIN_MODES, after
    assert after["hq_fraction"] >= MIN_HQ, after


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


def test_learning_rate_is_constant_by_default_and_decays_linearly_when_asked():
    from ganzoo_vanilla.step import VanillaStep
    from ganzoo_wgan_gp.step import WGANGPStep

    for variant, step_class in (("wgan-gp", WGANGPStep), ("vanilla", VanillaStep)):
        assert {step_class(ganzoo.create(variant, dim=2).config).lr_factor(i, 10) for i in range(10)} == {1.0}
        step = step_class(ganzoo.create(variant, dim=2, decay_start=0.5).config)
        assert [step.lr_factor(i, 10) for i in range(10)] == pytest.approx([1.0] * 6 + [1 - k / 6 for k in range(1, 5)])
