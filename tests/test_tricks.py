"""The discriminator tricks every built-in GAN takes the same way: packing, minibatch std, R1, smoothing."""

import pytest
import torch

import ganzoo
from ganzoo.config import ConfigError
from ganzoo.networks import MinibatchStd
from ganzoo.tricks import pack

from .test_engine import QUIET, assert_identical, final_state

IMAGE = dict(image_size=16, channels=1, ngf=8, ndf=8)
SMALL = {  # variant -> (data, tiny config)
    "vanilla": ("ring8", dict(dim=2, g_hidden=[16], d_hidden=[16, 16])),
    "dcgan": ("mnist-5k", IMAGE),
    "wgan-gp": ("mnist-5k", dict(IMAGE, n_critic=2)),
    "sngan": ("mnist-5k", dict(image_size=32, channels=1, g_ch=8, d_ch=8, n_dis=2, num_classes=0)),
}


def test_pack_groups_consecutive_samples_along_channels():
    x = torch.arange(6 * 2 * 2 * 2, dtype=torch.float32).reshape(6, 2, 2, 2)  # (B=6, C=2, 2, 2)
    packed = pack(x, 3)
    assert packed.shape == (2, 6, 2, 2)
    assert torch.equal(packed[1], torch.cat([x[3], x[4], x[5]]))  # group 1: samples 3, 4, 5, sample-major
    points = torch.arange(8.0).reshape(4, 2)  # flat data: (B, 2) -> (B/2, 4)
    assert torch.equal(pack(points, 2), torch.tensor([[0.0, 1, 2, 3], [4, 5, 6, 7]]))


@pytest.mark.parametrize("variant", list(SMALL))
def test_a_packed_discriminator_scores_groups_with_a_widened_first_layer(variant):
    data, config = SMALL[variant]
    D = ganzoo.create(variant, pack=2, **config).nets["D"]
    plain = ganzoo.create(variant, **config).nets["D"]
    x = torch.randn(8, 2) if data == "ring8" else torch.randn(8, 1, config["image_size"], config["image_size"])
    first = next(p for p in D.parameters() if p.dim() > 1)
    first_plain = next(p for p in plain.parameters() if p.dim() > 1)
    assert first.shape[1] == 2 * first_plain.shape[1]  # it takes two samples' channels (or features)
    D.eval()
    out = D(x)
    assert out.shape == (4,)  # one score per pair
    hooks = dict(D._forward_pre_hooks)
    D._forward_pre_hooks.clear()  # the same network, called on the pairs made by hand
    try:
        assert torch.allclose(D(pack(x, 2)), out)
    finally:
        D._forward_pre_hooks.update(hooks)
    swapped = x.clone()
    swapped[[0, 1]] = x[[1, 0]]  # the order inside a pair matters to D: it sees the pair, not each sample
    assert not torch.allclose(D(swapped)[0], out[0])
    assert torch.allclose(D(swapped)[1:], out[1:])


def test_a_batch_that_does_not_split_into_packs_is_a_clear_error():
    D = ganzoo.create("dcgan", pack=4, **IMAGE).nets["D"]
    with pytest.raises(
        ValueError, match="pack=4 needs a batch that is a multiple of 4, but D got 6 samples: set --batch-size"
    ):
        D(torch.randn(6, 1, 16, 16))


def test_minibatch_std_appends_the_spread_of_each_group():
    x = torch.tensor([1.0, 3.0, 5.0, 5.0]).reshape(4, 1, 1, 1)  # groups of 2: sample i joins group i % 2
    y = MinibatchStd(group=2)(x)
    assert y.shape == (4, 2, 1, 1) and torch.equal(y[:, :1], x)
    # group {x0, x2} = {1, 5}: std 2; group {x1, x3} = {3, 5}: std 1 (population std, + 1e-8 inside the root)
    assert torch.allclose(y[:, 1].flatten(), torch.tensor([2.0, 1.0, 2.0, 1.0]))
    flat = MinibatchStd(group=4)(torch.tensor([[0.0, 2.0], [2.0, 2.0], [0.0, 2.0], [2.0, 2.0]]))
    assert flat.shape == (4, 3) and torch.allclose(
        flat[:, 2], torch.full((4,), 0.5), atol=1e-4
    )  # channel stds 1, 0: mean 0.5
    same = MinibatchStd(group=4)(torch.ones(4, 3, 2, 2))
    assert torch.allclose(same[:, 3], torch.full((4, 2, 2), 1e-4))  # a collapsed batch shows no spread


@pytest.mark.parametrize("variant", list(SMALL))
def test_minibatch_std_feeds_a_collapsed_batch_differently(variant):
    data, config = SMALL[variant]
    D = ganzoo.create(variant, mbstd=4, **config).nets["D"]
    D.eval()
    x = torch.randn(4, 2) if data == "ring8" else torch.randn(4, 1, config["image_size"], config["image_size"])
    collapsed = x[:1].expand_as(x).contiguous()
    alone = D(x[:1].expand(4, *x.shape[1:]).contiguous())
    assert torch.allclose(D(collapsed), alone)
    batch_score = D(torch.cat([x[:1], x[1:]]))[0]  # the same first sample, now among different ones
    assert not torch.allclose(batch_score, alone[0])  # D's score of a sample depends on its batch's spread


@pytest.mark.parametrize("variant", ["dcgan", "sngan"])
def test_r1_and_label_smoothing_reach_the_loss(tmp_path, variant, monkeypatch):
    import ganzoo.losses

    data, config = SMALL[variant]
    extra = dict(r1=2.0, real_label=0.9) if variant == "dcgan" else dict(r1=2.0, real_label=0.9, loss="non-saturating")
    calls = []
    original = ganzoo.losses.r1_penalty
    monkeypatch.setattr(ganzoo.losses, "r1_penalty", lambda *a: calls.append(a) or original(*a))
    ganzoo.train(variant, data, steps=2, out=tmp_path / "run", batch_size=8, **QUIET, **config, **extra)
    assert len(calls) == (2 if variant == "dcgan" else 4)  # once per D update
    with pytest.raises(ConfigError, match="real_label must be in"):
        ganzoo.create(variant, **config, **dict(extra, real_label=0.3))


def test_lazy_r1_runs_on_every_interval_th_iteration_weighted_by_the_interval(tmp_path, monkeypatch):
    from types import SimpleNamespace

    import ganzoo.losses
    from ganzoo.tricks import score_real

    torch.manual_seed(0)
    D = ganzoo.create("dcgan", **IMAGE).nets["D"]
    real = torch.randn(4, 1, 16, 16)

    def term(iteration: int, interval: int, **kwargs):
        config = SimpleNamespace(r1=2.0, r1_interval=interval)
        ctx = SimpleNamespace(config=config, iteration=iteration, models={"D": D}, raw_models={"D": D}, log=dict)
        return score_real(ctx, real, **kwargs)[1]

    every = term(4, 1)
    assert every is not None and float(every) > 0
    assert torch.allclose(term(4, 4), 4 * every)  # due: weighted by the interval
    assert term(3, 4) is None and term(5, 4) is None  # not due: D's plain pass, no penalty
    assert torch.allclose(term(3, 4, scheduled=True), every)  # a lazy phase schedules and weights it itself
    calls = []
    original = ganzoo.losses.r1_penalty
    monkeypatch.setattr(ganzoo.losses, "r1_penalty", lambda *a: calls.append(a) or original(*a))
    ganzoo.train(
        "dcgan", "mnist-5k", steps=5, out=tmp_path / "run", batch_size=8, **QUIET, **IMAGE, r1=1.0, r1_interval=2
    )
    assert len(calls) == 3  # iterations 0, 2 and 4
    with pytest.raises(ConfigError, match="r1_interval must be a whole number >= 1"):
        ganzoo.create("dcgan", r1_interval=0)


def test_tricks_a_variant_cannot_take_are_refused_with_the_reason():
    with pytest.raises(ConfigError, match="does not take the discriminator trick 'pack'.*docs/tricks.md"):
        ganzoo.create("cyclegan", pack=2)
    with pytest.raises(
        ConfigError, match="pack=2 cannot be used here: a packed D input would mix samples of different labels"
    ):
        ganzoo.create("sngan", pack=2, num_classes=10)
    with pytest.raises(ConfigError, match="real_label=0.9 cannot be used here: the hinge loss"):
        ganzoo.create("sngan", real_label=0.9)
    with pytest.raises(ConfigError, match="real_label=0.9 cannot be used here: the Wasserstein critic"):
        ganzoo.create("wgan-gp", real_label=0.9)
    with pytest.raises(ConfigError, match="r1=1.0 cannot be used here: the critic already has its gradient penalty"):
        ganzoo.create("wgan-gp", r1=1.0)
    with pytest.raises(ConfigError, match="augment='translation' cannot be used here: DiffAugment ops act on images"):
        ganzoo.create("vanilla", dim=2, augment="translation")
    with pytest.raises(ConfigError, match="mbstd=1 gives a standard deviation over one sample"):
        ganzoo.create("dcgan", mbstd=1)
    with pytest.raises(ConfigError, match="pack must be a whole number >= 1"):
        ganzoo.create("dcgan", pack=0)


@pytest.mark.parametrize("variant", ["dcgan", "wgan-gp", "vanilla"])
def test_packed_runs_with_minibatch_std_resume_exactly(tmp_path, variant):
    data, config = SMALL[variant]
    opts = dict(batch_size=8, checkpoint_every=0, pack=2, mbstd=2, **QUIET, **config)
    straight = ganzoo.train(variant, data, steps=4, out=tmp_path / "a", **opts)
    ganzoo.train(variant, data, steps=2, out=tmp_path / "b", **opts)
    resumed = ganzoo.train(out=tmp_path / "b", steps=4, resume=True)
    assert_identical(final_state(straight), final_state(resumed))


def test_stylegan2_takes_r1_and_smoothing_through_the_shared_code(tmp_path, monkeypatch):
    """StyleGAN2's R1 is the shared term, run lazily (every r1_interval D steps); real_label reaches its loss."""
    import ganzoo.losses

    calls = {"r1_penalty": [], "d_loss_bce": []}
    for name in calls:
        original = getattr(ganzoo.losses, name)
        counted = lambda *a, _f=original, _n=name, **k: calls[_n].append(a) or _f(*a, **k)  # noqa: E731
        monkeypatch.setattr(ganzoo.losses, name, counted)
    tiny = dict(image_size=16, channels=1, z_dim=16, w_dim=16, mapping_layers=2, channel_base=256, channel_max=16)
    ganzoo.train(
        "stylegan2",
        "mnist-5k",
        steps=3,
        out=tmp_path / "run",
        batch_size=4,
        **QUIET,
        **tiny,
        r1=2.0,
        r1_interval=2,
        real_label=0.9,
        augment="translation",
    )
    assert len(calls["r1_penalty"]) == 2  # iterations 0 and 2
    assert len(calls["d_loss_bce"]) == 3  # every D update, with the smoothed target
    with pytest.raises(ConfigError, match="real_label must be in"):
        ganzoo.create("stylegan2", real_label=0.3)
