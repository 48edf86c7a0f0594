"""pix2pix: the U-Net and conditional PatchGAN, the cGAN + L1 step, one-way translation, the content metric,
learning."""

from __future__ import annotations

import contextlib
import re

import pytest
import torch
from ganzoo_pix2pix.config import Pix2PixConfig
from ganzoo_pix2pix.step import Pix2PixStep
from torch import nn

import ganzoo
from ganzoo.data.mnist_tasks import TASKS, get_task, holdout_pairs
from ganzoo.evaluate import evaluate
from ganzoo.metrics.translation import task_of_spec, translation_scores
from ganzoo.model import GanModel
from ganzoo.networks import count_parameters

from .test_engine import QUIET

# ---- networks ---------------------------------------------------------------------------------


def test_paper_networks_at_256px():
    model = ganzoo.create("pix2pix")  # 256px RGB, U-Net 256, 70x70 PatchGAN on (A, B)
    assert model.config.unet_downs == 8
    assert count_parameters(model.nets["G_AB"]) == 54_413_955  # the authors' unet_256 (54.414 M)
    assert count_parameters(model.nets["D"]) == 2_768_705  # their basic D on 6 channels (2.769 M)
    with torch.no_grad():
        assert model.nets["D"](torch.zeros(1, 3, 256, 256), torch.zeros(1, 3, 256, 256)).shape == (1, 1, 30, 30)


@pytest.mark.parametrize("size,downs,patches", [(32, 5, 2), (64, 6, 6)])
def test_unet_halves_down_to_1x1_and_patchgan_scores_patches(size, downs, patches):
    model = ganzoo.create("pix2pix", image_size=size, channels=3, ngf=8, ndf=8)
    G, D = model.nets["G_AB"], model.nets["D"]
    assert model.config.unet_downs == downs
    seen = []
    innermost = G.main
    while not isinstance(innermost.inside, nn.Identity):
        innermost = innermost.inside
    innermost.down.register_forward_hook(lambda module, args, out: seen.append(tuple(out.shape)))
    x = torch.rand(2, 3, size, size) * 2 - 1
    with torch.no_grad():
        y = G(x)
        assert D(x, y).shape == (2, 1, patches, patches)
    assert y.shape == x.shape and float(y.abs().max()) <= 1
    assert seen == [(2, 64, 1, 1)]  # the bottleneck: ngf * 8 channels at 1x1


def test_sizes_the_unet_cannot_halve_are_refused():
    with pytest.raises(
        ganzoo.ConfigError,
        match=re.escape(
            "the U-Net halves images at least 3 times, but 36px halves to a whole size only 2 times: "
            "use an image_size that is a multiple of 8 (e.g. 32, 64 or 256)"
        ),
    ):
        ganzoo.create("pix2pix", image_size=36)
    with pytest.raises(
        ganzoo.ConfigError,
        match=re.escape(
            "the U-Net cannot halve 96px images 6 times (96 halves to a whole size only 5 times): use an image_size "
            "that is a multiple of 64, or n_downs <= 5"
        ),
    ):
        ganzoo.create("pix2pix", image_size=96, n_downs=6)
    assert ganzoo.create("pix2pix", image_size=96, ngf=4, ndf=4).config.unet_downs == 5  # 96 -> 3x3 bottleneck
    with pytest.raises(ValueError, match=r"sides must be multiples of 32, got \(48, 48\)"):
        ganzoo.create("pix2pix", image_size=32, ngf=4, ndf=4).nets["G_AB"](torch.zeros(1, 3, 48, 48))


def test_discriminator_sees_a_and_b_concatenated():
    D = ganzoo.create("pix2pix", image_size=32, channels=1, ngf=4, ndf=4).nets["D"].eval()
    assert D.patch.main[0].in_channels == 2  # A's channel and B's
    a, b = torch.rand(2, 1, 32, 32), torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(D(a, b), D.patch(torch.cat([a, b], 1)))
        assert not torch.equal(D(a, b), D(torch.rand(2, 1, 32, 32), b))  # the condition A matters
        assert not torch.equal(D(a, b), D(b, a))


# ---- the step ---------------------------------------------------------------------------------


class RecordingContext:
    """A step context that applies no update and records what the step logged and froze."""

    def __init__(self, nets):
        self.models, self.logged, self.frozen_names, self.stepped = nets, {}, [], []

    def backward(self, loss):
        loss.backward()

    def step(self, name):
        self.stepped.append(name)

    @contextlib.contextmanager
    def frozen(self, *names):
        self.frozen_names.append(names)
        yield

    def log(self, **values):
        self.logged.update({k: float(v.detach()) for k, v in values.items()})


@pytest.mark.parametrize("gan_loss", ["bce", "lsgan"])
def test_step_losses_are_the_papers(gan_loss):
    cfg = dict(image_size=32, channels=1, ngf=4, ndf=4, dropout=0.0, lambda_l1=7.0, gan_loss=gan_loss)
    torch.manual_seed(0)
    model = ganzoo.create("pix2pix", **cfg)
    a, b = holdout_pairs("thick")[:2]
    a, b = a[:8], b[:8]
    ctx = RecordingContext(dict(model.nets))
    Pix2PixStep(model.config)(ctx, (a, b))
    assert ctx.stepped == ["D", "G"] and ctx.frozen_names == [("D",)]
    G, D = model.nets["G_AB"], model.nets["D"]
    with torch.no_grad():  # train mode, as in the step: batch statistics, no dropout (0 here)
        fake = G(a)
        real_logits, fake_logits = D(a, b), D(a, fake)
    if gan_loss == "bce":
        loss = nn.functional.binary_cross_entropy_with_logits
    else:
        loss = nn.functional.mse_loss
    assert ctx.logged["loss_l1"] == pytest.approx(7.0 * float((fake - b).abs().mean()), rel=1e-5)
    assert ctx.logged["loss_gan"] == pytest.approx(float(loss(fake_logits, torch.ones_like(fake_logits))), rel=1e-5)
    assert ctx.logged["loss_d"] == pytest.approx(
        0.5 * float(loss(real_logits, torch.ones_like(real_logits)) + loss(fake_logits, torch.zeros_like(fake_logits))),
        rel=1e-5,
    )
    assert ctx.logged["loss_g"] == pytest.approx(ctx.logged["loss_gan"] + ctx.logged["loss_l1"], rel=1e-6)


def test_translate_goes_a_to_b_only():
    model = ganzoo.create("pix2pix", image_size=32, channels=1, ngf=4, ndf=4)
    x = torch.rand(3, 1, 32, 32) * 2 - 1
    assert model.translate(x, "a2b").shape == (3, 1, 32, 32)
    assert torch.equal(model.translate(x), model.translate(x, "a2b", batch_size=1))  # eval mode: no dropout
    with pytest.raises(
        ValueError, match=re.escape("this pix2pix model translates one way only, A to B ('a2b'): it has no G_BA")
    ):
        model.translate(x, "b2a")


# ---- the content metric -----------------------------------------------------------------------


class Fixed(nn.Module):
    """A "generator" that applies a fixed function (and holds one parameter, so a model has a device)."""

    def __init__(self, fn):
        super().__init__()
        self.fn, self.anchor = fn, nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return self.fn(x)


def _model(a2b, b2a=None) -> GanModel:
    nets = {"G_AB": Fixed(a2b), **({"G_BA": Fixed(b2a)} if b2a else {})}
    return GanModel(ganzoo.info("pix2pix"), Pix2PixConfig(image_size=32, channels=1), nets)


def test_content_metric_of_the_oracle_and_the_identity():
    task = get_task("rot90")
    a, b, _ = holdout_pairs("rot90")
    oracle = translation_scores(_model(task.forward, task.upright), "mnist-5k-rot90-paired")
    assert oracle["task"] == "rot90" and oracle["holdout_images"] == 500
    assert oracle["a2b_mae"] == oracle["b2a_mae"] == oracle["cycle_mae"] == 0
    assert oracle["a2b_label_kept"] == oracle["true_target_label_kept"] > 0.9
    assert oracle["b2a_label_kept"] == oracle["source_label_kept"] > 0.9
    identity = translation_scores(_model(lambda x: x), "rot90")
    assert identity["a2b_mae"] == identity["identity_mae"] == round(float((a - b).abs().mean() / 2), 4) > 0.1
    assert identity["a2b_label_kept"] < 0.5  # unrotating an unrotated digit turns it on its side
    assert "cycle_mae" not in identity and "b2a_label_kept" not in identity  # one-way: no way back to score
    thick = translation_scores(_model(lambda x: x), "thick")  # upright is the identity: the judge reads x itself
    assert thick["a2b_label_kept"] == oracle["source_label_kept"]


def test_content_metric_names_the_specs_it_scores():
    assert [task_of_spec(s) for s in ("thick", "mnist-5k-thick", "mnist-5k-rot90-paired", "mnist-5k-inverted")] == [
        "thick",
        "thick",
        "rot90",
        "inverted",
    ]
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"'mnist-5k' is no mnist-5k translation task with a known true "
            f"target; the content metric scores models on the tasks "
            f"{', '.join(sorted(TASKS))} (data specs such as mnist-5k-thick"
        ),
    ):
        task_of_spec("mnist-5k")


def test_eval_scores_a_translation_model_and_refuses_a_sampler():
    task = get_task("thick")
    result = evaluate(_model(task.forward), "mnist-5k-thick-paired", ["translation"], device="cpu")
    entry = result["metrics"]["translation"]
    assert entry["value"] == entry["values"]["a2b_label_kept"] == entry["values"]["true_target_label_kept"]
    assert entry["values"]["a2b_mae"] == 0 and entry["protocol"]["num_samples"] == 500
    with pytest.raises(
        ValueError, match="metric 'fid' needs image data, but 'mnist-5k-thick-paired' gives paired data"
    ):
        evaluate(_model(task.forward), "mnist-5k-thick-paired", ["fid"], device="cpu")
    sampler = ganzoo.create("dcgan", image_size=32, channels=1, ngf=4, ndf=4)
    with pytest.raises(ValueError, match="samples from noise \\(dcgan\\), but 'mnist-5k-thick' is translation data"):
        evaluate(sampler, "mnist-5k-thick", ["translation"], device="cpu")


# ---- learning -----------------------------------------------------------------------------------


def test_pix2pix_learns_thick_strokes_from_pairs(tmp_path):
    """CI-sized: 200 steps of a narrow pix2pix on mnist-5k-thick-paired beat the identity map by far."""
    run = ganzoo.train(
        "pix2pix",
        "mnist-5k-thick-paired",
        steps=200,
        out=tmp_path / "run",
        batch_size=16,
        ngf=8,
        ndf=8,
        lr=1e-3,
        **QUIET,
    )
    scores = translation_scores(ganzoo.load(str(run)), "thick")
    assert scores["a2b_mae"] < 0.5 * scores["identity_mae"], scores  # measured: 0.028 against 0.111
    assert scores["a2b_label_kept"] >= 0.8, scores  # measured: 0.936 (true targets: 0.908)
