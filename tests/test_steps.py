"""Variant steps on the engine: losses, CycleGAN's pool and schedule, exact resume for each."""

import math

import pytest
import torch
from ganzoo_cyclegan.step import CycleGANStep, ImagePool

import ganzoo
from ganzoo.data import load_dataset
from ganzoo.engine.checkpoint import list_checkpoints, load_module, read_checkpoint
from ganzoo.losses import d_loss_bce, g_loss_minimax, g_loss_nonsaturating, r1_penalty

from .test_engine import QUIET, assert_identical, final_state

SMALL = {
    "vanilla": ("ring8", dict(g_hidden=[32, 32], d_hidden=[32, 32])),
    "dcgan": (
        "mnist-5k",
        dict(image_size=16, channels=1, ngf=8, ndf=8, r1=1.0),
    ),  # the R1 pass (plain DCGAN: test_engine)
    "wgan-gp": ("mnist-5k", dict(image_size=16, channels=1, ngf=8, ndf=8, n_critic=3)),
    # decay_start=1: the schedule depends on the run's total steps, which the short first half can't know
    "cyclegan": ("mnist-5k-inverted", dict(image_size=32, channels=1, ngf=4, ndf=4, pool_size=6, decay_start=1.0)),
}


def test_bce_losses_match_their_formulas():
    logits = torch.tensor([-2.0, 0.0, 3.0])
    d = torch.sigmoid(logits)
    assert torch.allclose(g_loss_nonsaturating(logits), -torch.log(d).mean())
    assert torch.allclose(g_loss_minimax(logits), torch.log(1 - d).mean())
    assert torch.allclose(d_loss_bce(logits, logits), -(torch.log(d) + torch.log(1 - d)).mean())


def test_r1_penalty_is_the_mean_squared_input_gradient_on_real_images():
    torch.manual_seed(0)
    w = torch.randn(1, 4, 4, requires_grad=True)  # (C, H, W): D(x) = <w, x>, so grad_x D = w for every x
    critic = lambda x: (w * x).flatten(1).sum(1)  # noqa: E731  (B, C, H, W) -> (B,)
    real = torch.randn(5, 1, 4, 4)
    logits, penalty = r1_penalty(critic, real)
    assert torch.allclose(logits, critic(real)) and logits.shape == (5,)
    assert torch.allclose(penalty, w.pow(2).sum())  # ||w||^2 over C, H and W together
    (grad,) = torch.autograd.grad(penalty, w)  # it trains D: differentiable in D's weights
    assert torch.allclose(grad, 2 * w)


def test_dcgan_r1_flattens_the_discriminator_on_real_images(tmp_path):
    real = load_dataset("mnist-5k", image_size=16, channels=1)[0].tensor[:256]  # (256, 1, 16, 16)
    config = dict(image_size=16, channels=1, ngf=8, ndf=8)
    sharpness = {}
    for r1 in (0.0, 10.0):
        run = ganzoo.train(
            "dcgan", "mnist-5k", steps=40, out=tmp_path / f"r1-{r1}", batch_size=32, **QUIET, r1=r1, **config
        )
        D = ganzoo.create("dcgan", **config).nets["D"]
        load_module("net.D", D, read_checkpoint(list_checkpoints(run / "checkpoints")[-1])[0])
        _, penalty = r1_penalty(D, real)  # D in training mode (batch statistics), as the step sees it
        sharpness[r1] = penalty.item()
        logged = [line for line in (run / "metrics.jsonl").read_text().splitlines() if '"step"' in line]
        assert ('"r1"' in logged[-1]) == (r1 > 0)  # the penalty is logged when it is on
    assert sharpness[10.0] < sharpness[0.0] / 3  # D's gradient on real images is held down


def test_image_pool():
    torch.manual_seed(0)
    assert ImagePool(0).query(x := torch.randn(3, 1, 2, 2)) is x
    pool = ImagePool(4)
    first = torch.arange(4.0).view(4, 1, 1, 1)
    assert torch.equal(pool.query(first), first) and pool.images.shape[0] == 4  # filling: shown as is
    new = torch.full((200, 1, 1, 1), 100.0)
    out = pool.query(new)
    from_pool = int((out < 100).sum())
    assert out.shape == new.shape and 0 < from_pool <= 4  # old fakes come back (each at most once)
    assert pool.images.shape[0] == 4 and bool((pool.images == 100).all())


def test_cyclegan_learning_rate_decays_linearly_in_the_second_half():
    step = CycleGANStep(ganzoo.create("cyclegan", image_size=32, channels=1).config)
    factors = [step.lr_factor(i, 100) for i in range(100)]
    assert factors[:51] == [1.0] * 51
    assert all(a > b for a, b in zip(factors[50:], factors[51:]))
    assert math.isclose(factors[99], 1 - 49 / 51)


@pytest.mark.parametrize("variant", list(SMALL))
def test_each_variant_resumes_exactly(tmp_path, variant):
    data, config = SMALL[variant]
    opts = dict(batch_size=8, checkpoint_every=0, **QUIET, **config)
    straight = ganzoo.train(variant, data, steps=6, out=tmp_path / "a", **opts)
    ganzoo.train(variant, data, steps=3, out=tmp_path / "b", **opts)
    resumed = ganzoo.train(out=tmp_path / "b", steps=6, resume=True)
    assert_identical(final_state(straight), final_state(resumed))
    _, header = read_checkpoint(list_checkpoints(straight / "checkpoints")[-1])
    if variant == "wgan-gp":
        assert header["data"] == {"epoch": 0, "offset": 6 * 3}  # n_critic real batches per iteration
    if variant == "cyclegan":
        tensors, _ = read_checkpoint(list_checkpoints(straight / "checkpoints")[-1])
        assert tensors["step.pool_a"].shape == (6, 1, 32, 32)  # the pool is saved with the run


def test_engine_applies_the_step_learning_rate_schedule(tmp_path):
    data, config = SMALL["cyclegan"]
    run = ganzoo.train(
        "cyclegan", data, steps=6, out=tmp_path / "s", batch_size=4, **QUIET, **dict(config, decay_start=0.5)
    )
    _, header = read_checkpoint(list_checkpoints(run / "checkpoints")[-1])
    for name in ("G", "D"):
        group = header["optimizers"][name]["param_groups"][0]
        # the last iteration (5 of 6) ran at 1 - (5 - 3) / (6 - 3 + 1) of the base rate
        assert math.isclose(group["lr"], group["initial_lr"] * 0.5) and group["initial_lr"] == 2e-4


def test_translation_variant_needs_unpaired_data(tmp_path):
    with pytest.raises(ganzoo.ConfigError, match="trains on unpaired data, but the data spec gives image data"):
        ganzoo.train("cyclegan", "mnist-5k", steps=1, out=tmp_path / "x", **QUIET)


def test_shared_losses_match_their_formulas():
    from ganzoo.losses import (
        bce_fake,
        bce_real,
        d_loss_logistic,
        d_loss_ls,
        g_loss_logistic,
        g_loss_ls,
        ls_fake,
        ls_real,
    )

    real, fake = torch.tensor([-1.0, 0.5, 2.0]), torch.tensor([0.0, -3.0, 1.0])
    assert torch.equal(d_loss_bce(real, fake, 0.9), bce_real(real, 0.9) + bce_fake(fake))  # DCGAN's two halves
    assert torch.allclose(d_loss_logistic(real, fake), d_loss_bce(real, fake))  # StyleGAN2's softplus form
    assert torch.allclose(g_loss_logistic(fake), g_loss_nonsaturating(fake))
    assert torch.equal(d_loss_logistic(real, fake, 0.9), d_loss_bce(real, fake, 0.9))  # smoothing reaches it
    assert torch.allclose(d_loss_ls(real, fake), ((real - 1) ** 2).mean() + (fake**2).mean())  # LSGAN, 0-1 coding
    assert torch.equal(g_loss_ls(fake), ls_real(fake)) and torch.allclose(ls_fake(fake), (fake**2).mean())


def test_adversarial_losses_name_the_pairs_sngan_and_biggan_train_with():
    from ganzoo.losses import adversarial_losses

    real, fake = torch.tensor([-1.0, 0.5, 2.0]), torch.tensor([0.0, -3.0, 1.0])
    d_hinge, g_hinge = adversarial_losses("hinge")
    assert math.isclose(float(d_hinge(real, fake)), (2.0 + 0.5 + 0.0) / 3 + (1.0 + 0.0 + 2.0) / 3, rel_tol=1e-6)
    assert math.isclose(float(g_hinge(fake)), 2.0 / 3, rel_tol=1e-6)  # -mean(fake), unbounded below
    d_ns, g_ns = adversarial_losses("non-saturating", real_label=0.9)
    assert torch.equal(d_ns(real, fake), d_loss_bce(real, fake, 0.9))  # the smoothing reaches D's real half
    assert torch.allclose(g_ns(fake), torch.nn.functional.softplus(-fake).mean())  # -log D(G(z)): > 0, saturates
    with pytest.raises(ValueError, match="loss must be 'hinge' or 'non-saturating', got 'wasserstein'"):
        adversarial_losses("wasserstein")


class _Recording:
    """A stand-in context: records each backpropagated loss and optimizer step."""

    def __init__(self, optimizers, iteration):
        self.optimizers, self.iteration, self.events, self.frozen_names = optimizers, iteration, [], []

    def backward(self, loss):
        self.events.append(("backward", float(loss)))

    def step(self, name):
        self.events.append(("step", name))

    def frozen(self, *names):
        import contextlib

        self.frozen_names.append(names)
        return contextlib.nullcontext()


def test_phases_run_on_their_intervals_with_the_lazy_loss_weighted():
    """A third-party step gets lazy regularisation by declaring phases; the engine's scheduling does the rest."""
    from dataclasses import dataclass

    from ganzoo.engine import AdamStep, Phase

    @dataclass
    class Config:
        lr: float = 0.01
        betas: tuple = (0.5, 0.99)
        reg_weight: float = 1.0
        reg_interval: int = 3

    class LazyStep(AdamStep):
        phases = (
            Phase("Gmain", "G", frozen=("D",)),
            Phase("Dmain", "D"),
            Phase("Dreg", "D", every="reg_interval", when="reg_weight"),
        )

        def Gmain(self, ctx, batch):
            return torch.tensor(1.0)

        def Dmain(self, ctx, batch):
            return torch.tensor(2.0)

        def Dreg(self, ctx, batch):
            return torch.tensor(0.5)

    nets = {"G": torch.nn.Linear(2, 2), "D": torch.nn.Linear(2, 1)}
    step = LazyStep(Config())
    opts = step.optimizers(nets)
    assert opts["G"].param_groups[0]["lr"] == 0.01 and opts["G"].param_groups[0]["betas"] == (0.5, 0.99)
    d = opts["D"].param_groups[0]
    assert d["lr"] == pytest.approx(0.01 * 3 / 4) and d["betas"][1] == pytest.approx(0.99 ** (3 / 4))
    runs = {}
    for iteration in range(7):
        ctx = _Recording(opts, iteration)
        step(ctx, None)
        runs[iteration] = ctx.events
        assert ctx.frozen_names == [("D",)]  # Gmain's networks frozen, only there
    main = [("backward", 1.0), ("step", "G"), ("backward", 2.0), ("step", "D")]
    assert runs[0] == runs[3] == runs[6] == main + [("backward", 1.5), ("step", "D")]  # 0.5 weighted by 3
    assert runs[1] == runs[2] == runs[4] == runs[5] == main
    off = LazyStep(Config(reg_weight=0.0))
    assert off.optimizers(nets)["D"].param_groups[0]["lr"] == 0.01  # an inactive lazy phase corrects nothing
    ctx = _Recording(opts, 0)
    off(ctx, None)
    assert ctx.events == main
    with pytest.raises(NotImplementedError, match="neither declares phases nor writes __call__"):
        AdamStep(Config())(ctx, None)
