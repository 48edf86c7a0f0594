"""Mode seeking, the G-side trick of every GAN with the shared tricks: the term, the paired labels, the check."""

import json

import pytest
import torch

import ganzoo
import ganzoo.tricks
from ganzoo.config import ConfigError
from ganzoo.engine.step import StepContext
from ganzoo.tricks import mode_seeking_term

from .test_engine import QUIET, assert_identical, final_state

IMAGE = dict(image_size=16, channels=1, ngf=8, ndf=8)
STYLEGAN2 = dict(image_size=16, channels=1, z_dim=16, w_dim=16, mapping_layers=2, channel_base=256, channel_max=16)
RUNS = {  # variant -> (data, tiny config, batch size)
    "vanilla": ("ring8", dict(dim=2, g_hidden=[16], d_hidden=[16, 16]), 8),
    "dcgan": ("mnist-5k", IMAGE, 8),
    "wgan-gp": ("mnist-5k", dict(IMAGE, n_critic=2), 8),
    "sngan": ("mnist-5k", dict(image_size=32, channels=1, g_ch=8, d_ch=8, n_dis=1, num_classes=10), 8),
    "biggan": ("mnist-5k", dict(image_size=32, channels=1, g_ch=4, d_ch=4, num_classes=10), 8),
    "stylegan2": ("mnist-5k", STYLEGAN2, 4),
}


def test_the_term_is_the_inverse_of_image_distance_over_latent_distance():
    z = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0], [1.0, 3.0]])  # pairs (0, 2) and (1, 3): |dz| = 2, 0, 0, 2
    fake = torch.tensor([[0.0], [1.0], [0.5], [2.0]])  # |dG| = 0.5 and 1.0
    expected = 1.0 / ((0.5 + 1.0) / 2 / ((2 + 0 + 0 + 2) / 4) + 1e-5)  # 1 / (mean|dG| / mean|dz|)
    assert mode_seeking_term(fake, z).item() == pytest.approx(expected)
    assert mode_seeking_term(fake[:3], z[:3]).item() == pytest.approx(1 / (1.0 / 1.0 + 1e-5))  # odd: pair (0, 1)
    collapsed = torch.ones(4, 1, 2, 2)  # every latent gives the same image: the term explodes
    assert mode_seeking_term(collapsed, torch.randn(4, 8)).item() > 1e4
    with pytest.raises(ValueError, match="needs pairs of fakes, got a batch of 1"):
        mode_seeking_term(fake[:1], z[:1])


def test_pairs_of_fakes_share_a_class_only_when_mode_seeking_is_on():
    def context(**extra):
        config = ganzoo.create("sngan", num_classes=10, **extra).config
        return StepContext({}, {}, {}, config, torch.device("cpu"), None, lambda: None, None)

    torch.manual_seed(0)
    paired = context(mode_seeking=1.0).fake_labels(64)  # (64,)
    assert torch.equal(paired[:32], paired[32:]) and len(paired.unique()) > 5
    odd = context(mode_seeking=1.0).fake_labels(7)
    assert odd.shape == (7,) and torch.equal(odd[:3], odd[3:6])
    torch.manual_seed(0)
    plain = context().fake_labels(64)
    assert not torch.equal(plain[:32], plain[32:])  # off: the draws are as they always were
    torch.manual_seed(0)
    assert torch.equal(plain, ganzoo.create("sngan", num_classes=10).task.fake_labels(64, torch.device("cpu")))


@pytest.mark.parametrize("variant", list(RUNS))
def test_every_variant_adds_the_term_to_g_loss(tmp_path, variant, monkeypatch):
    data, config, batch = RUNS[variant]
    seen = []
    original = ganzoo.tricks.mode_seeking_term
    spy = lambda f, z: seen.append((f.shape, z.shape)) or original(f, z)  # noqa: E731
    monkeypatch.setattr(ganzoo.tricks, "mode_seeking_term", spy)
    opts = dict(steps=2, batch_size=batch, checkpoint_every=0, log_every=1, **QUIET, **config)
    on = ganzoo.train(variant, data, out=tmp_path / "on", mode_seeking=1.0, **opts)
    off = ganzoo.train(variant, data, out=tmp_path / "off", **opts)
    assert len(seen) == 2 and all(f[0] == z[0] >= batch for f, z in seen)  # G's update, once an iteration
    logged = [json.loads(line) for line in (on / "metrics.jsonl").read_text().splitlines()]
    assert all(line["mode_seeking"] > 0 for line in logged)
    assert "mode_seeking" not in (off / "metrics.jsonl").read_text()
    g_on, g_off = (
        {k: v for k, v in final_state(run).items() if k.startswith("net.G.")} for run in (on, off)
    )  # the term moved G
    assert g_on and any(not torch.equal(g_on[k], g_off[k]) for k in g_on)


def test_a_step_that_leaves_the_term_out_is_stopped_not_ignored(tmp_path, monkeypatch):
    monkeypatch.setattr(ganzoo.tricks, "generator_loss", lambda ctx, loss_g, fake, z: loss_g)  # a step that skips it
    with pytest.raises(ConfigError, match="dcgan's step does not pass G's loss through ganzoo.tricks.generator_loss"):
        ganzoo.train("dcgan", "mnist-5k", steps=2, out=tmp_path / "run", batch_size=8, mode_seeking=1, **QUIET, **IMAGE)


def test_a_conditional_run_with_mode_seeking_resumes_exactly(tmp_path):
    data, config, batch = RUNS["sngan"]
    opts = dict(batch_size=batch, checkpoint_every=0, mode_seeking=1.0, decay_start=1.0, **QUIET, **config)
    # (a constant rate: SN-GAN's default decay spans the run, and the first half's run is shorter)
    straight = ganzoo.train("sngan", data, steps=4, out=tmp_path / "a", **opts)
    ganzoo.train("sngan", data, steps=2, out=tmp_path / "b", **opts)
    resumed = ganzoo.train(out=tmp_path / "b", steps=4, resume=True)
    assert_identical(final_state(straight), final_state(resumed))


def test_a_negative_weight_is_refused():
    with pytest.raises(ConfigError, match=r"mode_seeking must be >= 0 \(0 = off\), got -1.0"):
        ganzoo.create("dcgan", mode_seeking=-1.0)


def test_mode_seeking_reaches_the_loss_of_every_micro_batch(tmp_path, monkeypatch):
    calls = []
    original = ganzoo.tricks.generator_loss
    monkeypatch.setattr(ganzoo.tricks, "generator_loss", lambda *a: calls.append(a[2].shape[0]) or original(*a))
    opts = dict(batch_size=4, accumulate=2, mode_seeking=1.0, **QUIET, **IMAGE)
    ganzoo.train("dcgan", "mnist-5k", steps=2, out=tmp_path / "run", **opts)
    assert calls == [4, 4, 4, 4]  # two micro-batches of 4 in each of two iterations
