"""StyleGAN2: the official cifar config's parameter counts, the networks' parts, lazy regularisation,
the EMA ramp-up, exact resume across the lazy boundaries; truncation, walks and style mixing."""

from __future__ import annotations

import math

import pytest
import torch
from click.testing import CliRunner
from ganzoo_stylegan2.config import StyleGAN2Config
from ganzoo_stylegan2.models import MinibatchStd, build, modulated_conv
from ganzoo_stylegan2.step import StyleGAN2Step
from PIL import Image

import ganzoo
from ganzoo.cli import cli
from ganzoo.config import ConfigError
from ganzoo.engine.checkpoint import list_checkpoints, read_checkpoint
from ganzoo.latent import draw_z, slerp
from ganzoo.networks import count_parameters

TINY = dict(image_size=16, channels=1, z_dim=16, w_dim=16, mapping_layers=2, channel_base=256, channel_max=16)
QUIET = dict(device="cpu", progress="off", sample_every=0, log_every=1, batch_size=4)


def nets(**config):
    torch.manual_seed(0)
    return build(StyleGAN2Config(**{**TINY, **config}))


def test_parameter_counts_match_the_official_cifar_config():
    """NVlabs/stylegan2-ada-pytorch, train.py cfg 'cifar' (fmaps=1: channel_base 32768, channel_max 512,
    map=2, z_dim = w_dim = 512, D architecture 'orig'), unconditional, counted from training/networks.py."""

    def fc(cin, cout):
        return cin * cout + cout

    def conv(cin, cout, k, bias=True):
        return cin * cout * k * k + (cout if bias else 0)

    ch, w, rgb = 512, 512, 3
    layer = fc(w, ch) + conv(ch, ch, 3) + 1  # SynthesisLayer: affine, weight + bias, noise_strength
    torgb = fc(w, ch) + conv(ch, rgb, 1)
    mapping = 2 * fc(512, w)
    ref_g = mapping + ch * 4 * 4 + 7 * layer + 4 * torgb  # const, 1 + 2 + 2 + 2 convs, a toRGB per resolution
    ref_d = (
        conv(rgb, ch, 1)
        + 3 * 2 * conv(ch, ch, 3)  # fromRGB at 32, two convs at 32, 16, 8
        + conv(ch + 1, ch, 3)
        + fc(ch * 16, ch)
        + fc(ch, 1)
    )  # epilogue: mbstd conv, fc, out
    model = ganzoo.create(
        "stylegan2",
        image_size=32,
        channels=3,
        mapping_layers=2,
        channel_base=32768,
        channel_max=512,
        d_architecture="orig",
        mbstd=32,
    )
    ours = {name: count_parameters(net) for name, net in model.nets.items()}
    assert ours == {"G": ref_g, "D": ref_d} == {"G": 19_947_539, "D": 20_720_641}
    resnet = ganzoo.create(
        "stylegan2", image_size=32, channels=3, mapping_layers=2, channel_base=32768, channel_max=512
    )
    assert count_parameters(resnet.nets["D"]) == ref_d + 3 * ch * ch  # the residual D adds a 1x1 shortcut per block


@pytest.mark.parametrize("size,channels", [(8, 1), (16, 3), (64, 1)])
def test_any_power_of_two_size_and_channels(size, channels):
    n = nets(image_size=size, channels=channels)
    G, D = n["G"], n["D"]
    assert G.num_ws == 2 * int(math.log2(size)) - 2  # one per conv (1 at 4x4, 2 above) and the last toRGB
    x = G(torch.randn(3, 16), mixing=0.9)  # training: raw, styles mixed
    assert x.shape == (3, channels, size, size) and D(x).shape == (3,)
    assert G.eval()(torch.randn(3, 16)).abs().max() <= 1  # samples are clamped


def test_config_refuses_what_cannot_be_built():
    with pytest.raises(
        ConfigError, match=r"image_size=24 cannot be made by this architecture: use a power of two >= 8"
    ):
        StyleGAN2Config(image_size=24)
    with pytest.raises(ConfigError, match=r"channel_base=16 leaves the 32x32 block with no channels"):
        StyleGAN2Config(channel_base=16)
    with pytest.raises(ConfigError, match=r"d_architecture must be"):
        StyleGAN2Config(d_architecture="dense")  # not one of resnet, orig, skip


def test_output_is_raw_in_training_and_clamped_in_samples():
    """D trains on what G draws; samples are in [-1, 1].

    A clamp in training would hide runaway pixels from D (docs/stylegan2.md, "Output range").
    """
    G = nets()["G"]
    ws = G.mapping(torch.randn(2, 16)) * 50  # toRGB is not demodulated: large styles push pixels out of range
    torch.manual_seed(1)
    trained = G.train().render(ws)
    torch.manual_seed(1)
    raw = G.synthesis(ws)
    assert torch.equal(trained, raw) and raw.abs().max() > 1
    G.eval()
    assert torch.equal(G.render(ws), G.synthesis(ws).clamp(-1, 1))


def test_tanh_output_bounds_training_images_too():
    """output="tanh": D sees pixels inside (-1, 1), as real ones are, with gradients where a clamp has none."""
    G = nets(output="tanh")["G"].train()
    ws = (G.mapping(torch.randn(2, 16)) * 50).requires_grad_()
    torch.manual_seed(1)
    img = G.render(ws)
    torch.manual_seed(1)
    raw = G.synthesis(ws)
    assert torch.allclose(img, torch.tanh(raw)) and img.abs().max() <= 1 < raw.abs().max()
    (grad,) = torch.autograd.grad(img.sum(), ws)
    assert grad.abs().sum() > 0
    with pytest.raises(ConfigError, match=r"output must be"):
        StyleGAN2Config(output="sigmoid")
    from ganzoo.api import data_suggestions
    from ganzoo.data import parse_spec

    for spec, output in (("mnist-5k", {"output": "tanh"}), ("stacked-mnist", {})):  # measured on mnist-5k only
        config, _ = data_suggestions(StyleGAN2Config, parse_spec(spec)[0], ganzoo.info("stylegan2"))
        assert {k: v for k, v in config.items() if k == "output"} == output


def test_equalised_learning_rate_and_mapping_multiplier():
    G = nets(mapping_lr_mul=0.01)["G"]
    first = G.mapping.net[0]
    assert 50 < float(first.weight.detach().std()) < 200  # stored N(0, 1) / 0.01 ...
    assert first.weight_gain == pytest.approx(0.01 / math.sqrt(16))  # ... scaled back at run time


def test_demodulation_makes_the_style_scale_irrelevant():
    torch.manual_seed(0)
    x, weight, styles = torch.randn(2, 4, 5, 5), torch.randn(3, 4, 3, 3), torch.rand(2, 4) + 0.5
    out = modulated_conv(x, weight, styles, demodulate=True)
    assert torch.allclose(out, modulated_conv(x, weight, styles * 7, demodulate=True), atol=1e-5)
    w0 = weight * styles[0][None, :, None, None]
    w0 = w0 / w0.square().sum(dim=(1, 2, 3), keepdim=True).sqrt()
    assert torch.allclose(out[0], torch.nn.functional.conv2d(x[:1], w0, padding=1)[0], atol=1e-5)  # per-sample conv
    assert not torch.allclose(out, modulated_conv(x, weight, styles * 7, demodulate=False), atol=1e-3)


def test_noise_is_fresh_in_training_and_fixed_in_eval():
    G = nets()["G"]
    for p in G.parameters():
        if p.dim() == 0:  # noise strengths start at 0
            p.data.fill_(0.5)
    z = torch.randn(2, 16)
    assert not torch.equal(G(z), G(z))
    G.eval()
    assert torch.equal(G(z), G(z))


def test_minibatch_std_appends_the_group_deviation():
    x = torch.randn(8, 6, 4, 4)
    out = MinibatchStd(group=4, features=1)(x)
    assert out.shape == (8, 7, 4, 4) and torch.equal(out[:, :6], x)
    members = x[[1, 3, 5, 7]]  # sample i joins group i % 2
    expected = (members.var(dim=0, unbiased=False) + 1e-8).sqrt().mean()
    assert torch.allclose(out[3, 6], expected.expand(4, 4), atol=1e-6)


class Counting:
    """A stand-in context: counts optimizer steps and records what is logged."""

    def __init__(self, step, nets, iteration):
        self.models = self.raw_models = nets
        self.config = step.config
        self.optimizers = step.optimizers(nets)
        self.iteration, self.device, self.steps, self.logged = iteration, torch.device("cpu"), [], {}

    def noise(self, n):
        return torch.randn(n, 16)

    def backward(self, loss):
        loss.backward()

    def step(self, name):
        self.optimizers[name].step()
        self.optimizers[name].zero_grad(set_to_none=True)
        self.steps.append(name)

    def frozen(self, *names):
        import contextlib

        return contextlib.nullcontext()

    def log(self, **values):
        self.logged.update(values)


@pytest.mark.parametrize(
    "iteration,updates",
    [
        (0, ["G", "G", "D", "D"]),
        (4, ["G", "G", "D"]),
        (8, ["G", "G", "D", "D"]),
        (2, ["G", "D"]),
        (16, ["G", "G", "D", "D"]),
    ],
)
def test_lazy_regularisation_runs_on_its_intervals(iteration, updates):
    config = StyleGAN2Config(**TINY, r1_interval=8, pl_interval=4)
    step = StyleGAN2Step(config)
    ctx = Counting(step, nets(), iteration)
    step(ctx, torch.rand(4, 1, 16, 16) * 2 - 1)
    assert ctx.steps == updates
    assert ("r1" in ctx.logged) == (iteration % 8 == 0) and ("pl_penalty" in ctx.logged) == (iteration % 4 == 0)
    if iteration % 4 == 0:
        assert float(step.pl_mean) > 0  # the running mean moved off 0 by pl_decay of the first lengths


def test_lazy_optimizers_are_corrected_for_the_extra_updates():
    step = StyleGAN2Step(StyleGAN2Config(**TINY))
    opts = step.optimizers(nets())
    g, d = opts["G"].param_groups[0], opts["D"].param_groups[0]
    assert g["lr"] == pytest.approx(0.0025 * 4 / 5) and g["betas"][1] == pytest.approx(0.99 ** (4 / 5))
    assert d["lr"] == pytest.approx(0.0025 * 16 / 17) and d["betas"][1] == pytest.approx(0.99 ** (16 / 17))
    two = StyleGAN2Step(StyleGAN2Config(**TINY, lr=5e-4, lr_d=0.002)).optimizers(nets())  # two time-scale rates
    assert two["G"].param_groups[0]["lr"] == pytest.approx(5e-4 * 4 / 5)
    assert two["D"].param_groups[0]["lr"] == pytest.approx(0.002 * 16 / 17)


def test_ema_follows_the_official_ramp_up(tmp_path):
    step = StyleGAN2Step(StyleGAN2Config(**TINY))
    assert step.ema_decay(0, 64, 0.999) == 0.0  # the first update copies G
    assert step.ema_decay(100, 64, 0.999) == pytest.approx(0.5 ** (64 / (100 * 64 * 0.05)))
    assert step.ema_decay(10**6, 64, 0.999) == pytest.approx(0.5 ** (64 / 10_000))  # ema_kimg=10 once ramped up
    assert StyleGAN2Step(StyleGAN2Config(**TINY, ema_kimg=0)).ema_decay(100, 64, 0.999) == 0.999
    run = ganzoo.train("stylegan2", "mnist-5k", steps=1, out=str(tmp_path / "run"), ema=0.999, **QUIET, **TINY)
    tensors, _ = read_checkpoint(list_checkpoints(run / "checkpoints")[-1])
    weights = [k[len("net.G.") :] for k in tensors if k.startswith("net.G.")]
    assert weights and all(
        torch.equal(tensors[f"ema.{k}"], tensors[f"net.G.{k}"]) for k in weights
    )  # decay 0 at step 0


def test_exact_resume_across_the_lazy_boundaries(tmp_path):
    """Iterations 0..5 with R1 every 4 and path length every 3: the resumed half (3..5) runs both, using the
    path-length mean that the first half left in the checkpoint, and the EMA's ramp-up."""
    cfg = dict(**TINY, r1_interval=4, pl_interval=3)
    straight = ganzoo.train("stylegan2", "mnist-5k", steps=6, out=str(tmp_path / "a"), ema=0.999, **QUIET, **cfg)
    ganzoo.train("stylegan2", "mnist-5k", steps=3, out=str(tmp_path / "b"), ema=0.999, **QUIET, **cfg)
    resumed = ganzoo.train(out=str(tmp_path / "b"), steps=6, resume=True, progress="off")
    a, _ = read_checkpoint(list_checkpoints(straight / "checkpoints")[-1])
    b, _ = read_checkpoint(list_checkpoints(resumed / "checkpoints")[-1])
    half, _ = read_checkpoint(list_checkpoints(resumed / "checkpoints")[0])
    assert float(half["step.pl_mean"]) > 0 and not torch.equal(half["step.pl_mean"], a["step.pl_mean"])
    differ = [k for k in a if not k.startswith("rng.") and not torch.equal(a[k], b[k])]
    assert a.keys() == b.keys() and differ == []


# ---- truncation, walks, style mixing ------------------------------------------------------------


def trained_w_avg(model):
    """Give the tracked mean w a value, as training would."""
    G = model.nets["G"]
    G.train()
    with torch.no_grad():
        for _ in range(50):
            G.mapping(torch.randn(64, 16))
    G.eval()
    return model


def test_truncation_in_w_pulls_samples_together_and_repeats():
    model = trained_w_avg(ganzoo.create("stylegan2", **TINY))
    full = model.sample(16, seed=3)
    near = model.sample(16, seed=3, truncation=0.3)
    assert torch.equal(near, model.sample(16, seed=3, truncation=0.3))
    assert not torch.equal(near, full)
    spread = lambda x: x.flatten(1).std(dim=0).mean()  # noqa: E731
    assert float(spread(near)) < 0.6 * float(spread(full))
    G = model.nets["G"]
    z = torch.Generator().manual_seed(3)
    w = G.mapping(torch.randn((16, 16), generator=z))
    expected = G.render(G.mapping.w_avg.lerp(w, 0.3))
    assert torch.allclose(near, expected, atol=1e-6)


def test_truncated_normal_for_the_other_generators():
    z = draw_z(4000, (8,), torch.Generator().manual_seed(0), truncation=0.5)
    assert float(z.abs().max()) <= 0.5 and float(z.abs().max()) > 0.49
    assert 0.27 < float(z.std()) < 0.30  # the std of N(0, 1) truncated to [-0.5, 0.5] is 0.2859
    model = ganzoo.create("dcgan", image_size=16, channels=1, ngf=8, ndf=8)
    a = model.sample(6, seed=1, truncation=0.5)
    assert torch.equal(a, model.sample(6, seed=1, truncation=0.5)) and not torch.equal(a, model.sample(6, seed=1))
    with pytest.raises(ValueError, match=r"truncation must be a number in \(0, 1\]"):
        model.sample(2, truncation=1.5)


def test_slerp_keeps_the_ends_and_the_radius():
    a, b = torch.randn(3, 64), torch.randn(3, 64)
    b = b / b.norm(dim=1, keepdim=True) * a.norm(dim=1, keepdim=True)
    path = slerp(a, b, torch.linspace(0, 1, 5))  # (3, 5, 64)
    assert torch.allclose(path[:, 0], a, atol=1e-5) and torch.allclose(path[:, -1], b, atol=1e-5)
    assert torch.allclose(path.norm(dim=2), a.norm(dim=1, keepdim=True).expand(3, 5), atol=1e-4)


def test_walks_are_linear_in_w_and_repeat():
    model = ganzoo.create("stylegan2", **TINY)
    walk = model.walk(3, 5, seed=2)
    assert walk.shape == (15, 1, 16, 16) and torch.equal(walk, model.walk(3, 5, seed=2))
    G = model.nets["G"]
    G.eval()
    ends = torch.randn((6, 16), generator=torch.Generator().manual_seed(2))
    ws = G.mapping(ends)
    mid = G.render((ws[:3] + ws[3:]) / 2)  # step 2 of 5 is halfway
    assert torch.allclose(walk.view(3, 5, 1, 16, 16)[:, 2], mid, atol=1e-5)
    dc = ganzoo.create("dcgan", image_size=16, channels=1, ngf=8, ndf=8).walk(2, 4, seed=0)
    assert dc.shape == (8, 1, 16, 16)


def test_style_mixing_table():
    model = ganzoo.create("stylegan2", **TINY)
    table = model.style_mix(2, 3, seed=0)
    assert table.shape == (12, 1, 16, 16) and torch.equal(table, model.style_mix(2, 3, seed=0))
    assert torch.equal(table[0], torch.full_like(table[0], -1))  # the blank corner
    assert not torch.equal(table[5], table[6])  # one destination, two sources: different cells
    with pytest.raises(ValueError, match=r"style mixing needs a style-based generator"):
        ganzoo.create("dcgan", image_size=16, channels=1, ngf=8, ndf=8).style_mix(2, 2)


def test_a_conditional_style_based_model_walks_and_mixes_within_its_classes():
    model = ganzoo.create("stylegan2", **TINY, num_classes=3)
    walk = model.walk(2, 4, seed=1)
    assert walk.shape == (8, 1, 16, 16) and torch.equal(walk, model.walk(2, 4, seed=1))
    G = model.nets["G"]
    G.eval()
    rng = torch.Generator().manual_seed(1)
    labels = torch.randint(0, 3, (2,), generator=rng)  # walk draws each row's class first, then the ends
    ends = torch.randn((4, 16), generator=rng)
    ws = G.mapping(ends, y=labels.repeat(2))  # both ends of a row in the row's class
    assert torch.allclose(walk.view(2, 4, 1, 16, 16)[:, 0], G.render(ws[:2]), atol=1e-5)
    assert torch.allclose(walk.view(2, 4, 1, 16, 16)[:, -1], G.render(ws[2:]), atol=1e-5)
    table = model.style_mix(2, 2, seed=0)
    assert table.shape == (9, 1, 16, 16) and torch.equal(table, model.style_mix(2, 2, seed=0))


def test_cli_writes_walks_gif_and_mixing(tmp_path):
    folder = tmp_path / "model"
    ganzoo.create("stylegan2", **TINY).save_pretrained(folder)
    runner = CliRunner()
    out = tmp_path / "walk.png"
    result = runner.invoke(cli, ["sample", str(folder), "--interpolate", "4", "-n", "2", "-o", str(out), "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert f"wrote 2 walks of 4 steps to {out} and {out.with_suffix('.gif')}" in result.output
    first = out.read_bytes()
    with Image.open(out) as grid:
        assert grid.size == (4 * 18 + 2, 2 * 18 + 2)  # 4 steps across, 2 rows; 16 px images, 2 px padding
    with Image.open(out.with_suffix(".gif")) as gif:
        assert gif.n_frames == 6  # 4 steps there, 2 back
    runner.invoke(cli, ["sample", str(folder), "--interpolate", "4", "-n", "2", "-o", str(out), "--seed", "5"])
    assert out.read_bytes() == first
    mix = tmp_path / "mix.png"
    result = runner.invoke(cli, ["sample", str(folder), "--mix", "-n", "2", "-o", str(mix)])
    assert result.exit_code == 0, result.output
    with Image.open(mix) as grid:
        assert grid.size == (3 * 18 + 2, 3 * 18 + 2)
    trunc = tmp_path / "t.png"
    assert (
        runner.invoke(cli, ["sample", str(folder), "--truncation", "0.7", "-n", "4", "-o", str(trunc)]).exit_code == 0
    )
    bad = runner.invoke(cli, ["sample", str(folder), "--truncation", "2", "-o", str(trunc)])
    assert bad.exit_code == 1 and "truncation must be a number in (0, 1]" in bad.output
    clash = runner.invoke(cli, ["sample", str(folder), "--mix", "--interpolate", "3", "-o", str(mix)])
    assert clash.exit_code == 2 and "--interpolate and --mix make different pictures" in clash.output
    (tmp_path / "notes.gif").write_text("mine")
    kept = runner.invoke(cli, ["sample", str(folder), "--interpolate", "3", "-o", str(tmp_path / "notes.png")])
    assert kept.exit_code == 1 and "notes.gif exists and is not an image" in kept.output
    assert (tmp_path / "notes.gif").read_text() == "mine"


# ---- the shared discriminator tricks, and configs written before StyleGAN2 took them ----------------


def test_configs_with_the_old_trick_names_still_load(tmp_path):
    """config.json files written before the shared tricks name R1's weight r1_gamma and the mbstd group mbstd_group."""
    import json
    import shutil
    from importlib import resources

    from ganzoo.config import make_config

    old = make_config(StyleGAN2Config, {**TINY, "r1_gamma": 1, "mbstd_group": 2}, variant="stylegan2")
    assert old == StyleGAN2Config(**TINY, r1=1.0, mbstd=2)
    assert make_config(StyleGAN2Config, {"r1_gamma": 1.0, "r1": 1.0}).r1 == 1.0  # both, agreeing: fine
    with pytest.raises(
        ConfigError,
        match=r"got both 'r1_gamma'=1.0 and 'r1'=2.0; 'r1_gamma' is the old name of 'r1': "
        r"give 'r1' only",
    ):
        make_config(StyleGAN2Config, {"r1_gamma": 1.0, "r1": 2.0}, variant="stylegan2")
    bundled = resources.files("ganzoo_stylegan2") / "pretrained" / "stylegan2-mnist"
    folder = tmp_path / "old"
    shutil.copytree(str(bundled), folder)
    record = json.loads((folder / "config.json").read_text())
    record["config"]["r1_gamma"] = record["config"].pop("r1")  # as the folder was first published
    record["config"]["mbstd_group"] = record["config"].pop("mbstd")
    (folder / "config.json").write_text(json.dumps(record))
    model, current = ganzoo.load(str(folder)), ganzoo.load("stylegan2-mnist")
    assert model.config == current.config and model.config.r1 == 1.0 and model.config.mbstd == 4
    assert torch.equal(model.sample(4, seed=0), current.sample(4, seed=0))


def test_stylegan2_takes_the_shared_tricks():
    plain = nets(augment="", mbstd=0)["D"]
    assert plain.mbstd is None and not plain._forward_pre_hooks  # both off: no std layer, no input transform
    packed = nets(augment="", pack=2)["D"]
    first = next(p for p in packed.parameters() if p.dim() > 1)
    assert first.shape[1] == 2  # fromRGB takes two grayscale images at once
    assert packed(torch.randn(8, 1, 16, 16)).shape == (4,)  # one logit per pair
    D = nets(augment="translation", mbstd=2)["D"]
    assert D.mbstd.group == 2
    x = torch.randn(4, 1, 16, 16)
    assert not torch.equal(D(x), D(x))  # DiffAugment inside D: fresh translations per call
    with pytest.raises(ConfigError, match="mbstd=1 gives a standard deviation over one sample"):
        StyleGAN2Config(mbstd=1)
    with pytest.raises(ConfigError, match=r"r1 must be >= 0"):
        StyleGAN2Config(r1=-1.0)


def test_cli_trains_with_the_shared_trick_flags(tmp_path):
    out = tmp_path / "run"
    tiny = [f"{k}={v}" for k, v in TINY.items() if k not in ("image_size", "channels")]
    args = [
        "train",
        "stylegan2",
        "--data",
        "mnist-5k",
        "--image-size",
        "16",
        "--channels",
        "1",
        "-c",
        "r1=1",
        "-c",
        "augment=translation",
        "-c",
        "r1_interval=2",
        *[a for c in tiny for a in ("-c", c)],
        "--steps",
        "4",
        "--batch-size",
        "4",
        "--progress",
        "off",
        "--sample-every",
        "0",
        "--log-every",
        "1",
        "--device",
        "cpu",
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    import json

    config = json.loads((out / "config.json").read_text())["config"]
    assert config["r1"] == 1.0 and config["augment"] == "translation" and "r1_gamma" not in config
    logged = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert ["r1" in r for r in logged] == [True, False, True, False]  # the lazy R1 at iterations 0 and 2
