"""SN-GAN: the papers' ResNets at 32/48/64, spectral norm, projection, conditional BN, hinge loss, the step."""

from __future__ import annotations

import contextlib
import json

import pytest
import torch
from ganzoo_sngan.config import SNGANConfig
from ganzoo_sngan.models import build
from ganzoo_sngan.step import SNGANStep
from torch import nn
from torch.nn.utils import parametrize

import ganzoo
from ganzoo.config import ConfigError
from ganzoo.engine import StepContext
from ganzoo.losses import d_loss_hinge, g_loss_hinge
from ganzoo.networks import count_parameters


def nets(**config):
    torch.manual_seed(0)
    return build(SNGANConfig(**config))


@pytest.mark.parametrize("size,width", [(32, 8), (48, 2), (64, 2)])
@pytest.mark.parametrize("classes", [0, 10])
def test_shapes_at_each_size_in_both_modes(size, width, classes):
    n = nets(image_size=size, g_ch=width, d_ch=width, num_classes=classes)
    G, D = n["G"], n["D"]
    assert G.latent_shape == (128,) and G.num_classes == classes == D.num_classes
    y = torch.tensor([3, 7]) if classes else None
    x = G(torch.randn(2, 128), y)  # (2, 3, S, S)
    assert x.shape == (2, 3, size, size) and x.abs().max() <= 1
    assert D(x, y).shape == (2,)


def test_parameter_counts_match_the_reference_cifar10_nets():
    """The reference's conditional CIFAR-10 nets (gen_models/resnet_32.py, dis_models/snresnet_32.py with
    ch 256 / 128, dim_z 128, 10 classes), counted layer by layer from its source."""

    def conv(cin, cout, k):
        return cin * cout * k * k + cout  # weights and bias

    ch, classes = 256, 10
    g_block = 2 * conv(ch, ch, 3) + conv(ch, ch, 1) + 2 * 2 * classes * ch  # two convs, shortcut, two CBNs
    ref_g = (128 * 16 * ch + 16 * ch) + 3 * g_block + 2 * ch + conv(ch, 3, 3)
    ch = 128
    ref_d = (
        conv(3, ch, 3)
        + conv(ch, ch, 3)
        + conv(3, ch, 1)  # optimized block
        + 2 * conv(ch, ch, 3)
        + conv(ch, ch, 1)  # down-sampling block with its 1x1 shortcut
        + 2 * 2 * conv(ch, ch, 3)  # two blocks with identity shortcuts
        + ch
        + classes * ch
    )  # linear without bias, projection embedding
    model = ganzoo.create("sngan", num_classes=10)
    ours = {name: count_parameters(net) for name, net in model.nets.items()}
    print(f"sngan 32x32 conditional CIFAR-10: G {ours['G']:,}, D {ours['D']:,} parameters")
    assert ours == {"G": ref_g, "D": ref_d} == {"G": 4_304_387, "D": 1_055_104}


def test_every_discriminator_layer_is_spectrally_normalised():
    D = nets(d_ch=16, g_ch=8, num_classes=10)["D"].train()
    layers = [m for m in D.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding))]
    assert len(layers) == 12 and all(parametrize.is_parametrized(m, "weight") for m in layers)
    x, y = torch.rand(4, 3, 32, 32) * 2 - 1, torch.randint(0, 10, (4,))
    with torch.no_grad():
        for _ in range(20):  # one power iteration per training forward, on top of 15 at construction
            D(x, y)
        D.eval()  # read the normalised weights without another iteration
        sigmas = [torch.linalg.matrix_norm(m.weight.flatten(1), ord=2).item() for m in layers]
        raw = [torch.linalg.matrix_norm(m.parametrizations.weight.original.flatten(1), ord=2).item() for m in layers]
    assert all(0.999 < s < 1.05 for s in sigmas), sigmas  # the power iteration's sigma is a lower bound
    assert max(abs(r - 1) for r in raw) > 0.2  # the raw weights are not normalised themselves


def test_projection_makes_the_score_depend_on_the_label():
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    D = nets(d_ch=8, g_ch=8, num_classes=10)["D"].eval()
    a, b = D(x, torch.tensor([0, 0, 0])), D(x, torch.tensor([5, 5, 5]))
    assert (a - b).abs().min() > 1e-4
    assert torch.equal(a, D(x, torch.tensor([0, 0, 0])))
    with pytest.raises(ValueError, match=r"Discriminator is class-conditional \(10 classes\): pass labels y"):
        D(x)
    with pytest.raises(ValueError, match=r"one label per sample, shape \(3,\), got labels of shape \(2,\)"):
        D(x, torch.tensor([1, 2]))
    plain = nets(d_ch=8, g_ch=8, num_classes=0)["D"].eval()
    assert plain.embed is None and plain(x).shape == (3,)
    with pytest.raises(ValueError, match=r"Discriminator is unconditional \(num_classes=0\): call it without labels"):
        plain(x, torch.tensor([0, 0, 0]))


def test_conditional_batch_norm_makes_the_image_depend_on_the_label():
    G = nets(g_ch=8, d_ch=8, num_classes=10)["G"]
    cbn = G.blocks[0].b1
    assert torch.equal(cbn.gain.weight, torch.ones(10, 8)) and torch.equal(cbn.bias.weight, torch.zeros(10, 8))
    assert not any(isinstance(m, nn.BatchNorm2d) and m.affine for b in G.blocks for m in b.modules())
    with torch.no_grad():  # what training does: classes get gains and biases of their own
        for m in G.modules():
            if isinstance(m, nn.Embedding):
                m.weight.add_(torch.randn_like(m.weight) * 0.2)
    G.eval()
    z = torch.randn(3, 128).repeat(2, 1)  # (6, nz): the same three latents twice
    x = G(z, torch.tensor([1, 1, 1, 4, 4, 4]))
    assert (x[:3] - x[3:]).abs().amax(dim=(1, 2, 3)).min() > 1e-3
    assert torch.allclose(G(z[:3], torch.tensor([1, 1, 1])), x[:3], atol=1e-5)  # the label alone made the change
    with pytest.raises(
        ValueError, match=r"Generator is class-conditional \(10 classes\): pass labels y, a \(3,\) int64"
    ):
        G(z[:3])
    plain = nets(g_ch=8, d_ch=8, num_classes=0)["G"]
    with pytest.raises(ValueError, match=r"Generator is unconditional \(num_classes=0\)"):
        plain(z[:3], torch.tensor([1, 1, 1]))


def test_hinge_loss_on_known_logits():
    real, fake = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([-2.0, 0.0, 1.5])
    # D: mean(relu(1 - real)) = (0 + 0.5 + 2) / 3, mean(relu(1 + fake)) = (0 + 1 + 2.5) / 3
    assert d_loss_hinge(real, fake).item() == pytest.approx(6.0 / 3)
    assert g_loss_hinge(fake).item() == pytest.approx(0.5 / 3)  # -mean(fake) = -(-2 + 0 + 1.5) / 3


class SpyD(nn.Module):
    """D that records the batch size and labels of every call."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.calls = inner, []

    def forward(self, x, y=None):
        self.calls.append((x.shape[0], None if y is None else y.clone()))
        return self.inner(x, y)


def test_conditional_step_pairs_images_with_labels(monkeypatch):
    config = SNGANConfig(g_ch=8, d_ch=8, num_classes=4, n_dis=3, g_batch_factor=2, channels=1)
    torch.manual_seed(0)
    n = build(config)
    D = SpyD(n["D"])
    models = {"G": n["G"], "D": D}
    step = SNGANStep(config)
    optimizers = step.optimizers(n)
    batches = [(torch.rand(5, 1, 32, 32) * 2 - 1, torch.tensor([i, i, i, i, (i + 1) % 4])) for i in range(3)]
    drawn = iter(batches[1:])
    ctx = StepContext(
        models, n, optimizers, config, torch.device("cpu"), None, lambda: next(drawn), contextlib.nullcontext
    )
    fake_labels, draw = [], ctx.fake_labels

    def recorded(k):  # the engine's (k,) labels, uniform over the classes, noted as they are drawn
        fake_labels.append(draw(k))
        return fake_labels[-1]

    monkeypatch.setattr(ctx, "fake_labels", recorded)
    g_before = [p.clone() for p in n["G"].parameters()]
    step(ctx, batches[0])
    assert next(drawn, None) is None  # one new real batch for each D update after the first
    real_calls, fake_calls, g_call = D.calls[0:6:2], D.calls[1:6:2], D.calls[6]
    assert len(D.calls) == 7
    for (b, y), (_, labels) in zip(real_calls, batches):
        assert b == 5 and torch.equal(y, labels)  # each real image scored with its own label
    assert len(fake_labels) == 4  # new labels for each D update's fakes and for G's update
    for (_, y), labels in zip([*fake_calls, g_call], fake_labels):  # batch sizes: checked just below
        assert torch.equal(y, labels)  # each fake scored with the label it was generated for
    assert [b for b, _ in fake_calls] == [5, 5, 5] and g_call[0] == 10  # G's update: g_batch_factor x B
    assert all(int(y.min()) >= 0 and int(y.max()) < 4 for y in fake_labels)
    assert [optimizers[k].state[next(iter(n[k].parameters()))]["step"].item() for k in ("D", "G")] == [3, 1]
    assert [optimizers[k].param_groups[0]["betas"] for k in ("D", "G")] == [(0.0, 0.9)] * 2  # the papers' Adam
    assert any(not torch.equal(a, b) for a, b in zip(g_before, n["G"].parameters()))
    ((_, logged),) = ctx.logged
    assert set(logged) == {"loss_d", "loss_g", "d_real", "d_fake"}
    assert all(torch.isfinite(v) for v in logged.values())


@pytest.mark.parametrize("classes", [0, 10])
def test_runs_train_on_mnist_in_both_modes(tmp_path, classes):
    out = ganzoo.train(
        "sngan",
        "mnist-5k",
        steps=3,
        out=tmp_path / "run",
        batch_size=8,
        progress="off",
        device="cpu",
        log_every=1,
        sample_every=0,
        checkpoint_every=0,
        num_classes=classes,
        g_ch=16,
        d_ch=16,
        n_dis=2,
    )
    record = json.loads((out / "config.json").read_text())
    assert record["variant"] == "sngan"
    config = record["config"]
    assert (config["image_size"], config["channels"], config["g_ch"], config["d_ch"]) == (32, 1, 16, 16)
    assert config["num_classes"] == classes and config["betas"] == [0.0, 0.9]
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [1, 2, 3]
    assert all({"loss_d", "loss_g", "d_real", "d_fake"} <= set(r) for r in lines)
    model = ganzoo.load(str(out))
    assert model.num_classes == classes
    assert model.sample(2, seed=0, **({"labels": [3, 7]} if classes else {})).shape == (2, 1, 32, 32)


def test_papers_widths_follow_the_image_size():
    assert (SNGANConfig().g_ch, SNGANConfig().d_ch) == (256, 128)
    assert (SNGANConfig(image_size=48).g_ch, SNGANConfig(image_size=64).d_ch) == (64, 64)
    assert SNGANConfig(image_size=64, g_ch=32).g_ch == 32


@pytest.mark.parametrize(
    "bad,message",
    [
        ({"image_size": 128}, r"image_size must be 32, 48 or 64 \(the papers' ResNets .*\), got 128"),
        ({"g_ch": -8}, r"g_ch must be a whole number >= 0 \(0 = the papers' width for image_size\), got -8"),
        ({"n_dis": 0}, r"n_dis must be a whole number >= 1, got 0"),
        ({"n_dis": 2.5}, r"n_dis must be a whole number >= 1, got 2.5"),
        ({"num_classes": -1}, r"num_classes must be a whole number >= 0 \(0 = unconditional\), got -1"),
        ({"loss": "wasserstein"}, r"loss must be one of 'hinge', 'non-saturating', got 'wasserstein'"),
        ({"betas": (0.0, 1.0)}, r"betas must be two numbers in \[0, 1\)"),
    ],
)
def test_bad_config_is_one_clear_error(bad, message):
    with pytest.raises(ConfigError, match=message):
        ganzoo.create("sngan", **bad)


def test_cli_trains_on_a_class_folder_and_refuses_a_flat_one(tmp_path):
    from click.testing import CliRunner
    from PIL import Image

    from ganzoo.cli import cli

    rng = torch.Generator().manual_seed(0)
    for name in ("circle", "square"):  # the ImageFolder layout: one subfolder per class
        (tmp_path / "shapes" / name).mkdir(parents=True)
        for i in range(6):
            pixels = (torch.rand(32, 32, generator=rng) * 255).to(torch.uint8).numpy()
            Image.fromarray(pixels).save(tmp_path / "shapes" / name / f"{i}.png")
    args = [
        "train",
        "sngan",
        "--steps",
        "2",
        "--batch-size",
        "4",
        "--channels",
        "1",
        "-c",
        "g_ch=8",
        "-c",
        "d_ch=8",
        "-c",
        "n_dis=1",
        "--progress",
        "off",
        "--sample-every",
        "0",
    ]
    runner = CliRunner()
    done = runner.invoke(
        cli, [*args, "--data", str(tmp_path / "shapes"), "-c", "num_classes=2", "--out", str(tmp_path / "run")]
    )
    assert done.exit_code == 0, done.output
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    assert record["data"]["classes"] == ["circle", "square"] and record["config"]["num_classes"] == 2
    model = ganzoo.load(str(tmp_path / "run"))
    assert model.sample(2, seed=0, labels="square").shape == (2, 1, 32, 32)

    (tmp_path / "flat").mkdir()
    for i in range(6):
        Image.fromarray(torch.zeros(32, 32, dtype=torch.uint8).numpy()).save(tmp_path / "flat" / f"{i}.png")
    done = runner.invoke(cli, [*args, "--data", str(tmp_path / "flat"), "--out", str(tmp_path / "flat-run")])
    assert done.exit_code != 0
    assert "needs class labels" in done.output and "num_classes=0" in done.output
    assert not (tmp_path / "flat-run").exists()


def test_a_short_conditional_run_learns_to_draw_the_class_asked_for(tmp_path):
    """Requested-label accuracy beats chance clearly after a CI-sized run, on two classes that the
    amount of ink tells apart exactly (narrow bars, 2-4 px, and wide ones, 14-22 px), so no judge
    stands between the label and the score. The label reaches G only through its class-conditional
    batch norms: this fails if the step, the engine or sample() loses or mixes up the labels."""
    from PIL import Image

    rng = torch.Generator().manual_seed(0)
    widths = {"narrow": (2, 5), "wide": (14, 23)}
    for name, (low, high) in widths.items():  # the ImageFolder layout: one subfolder per class
        (tmp_path / "bars" / name).mkdir(parents=True)
        for i in range(64):
            width = int(torch.randint(low, high, (1,), generator=rng))
            x0 = int(torch.randint(0, 33 - width, (1,), generator=rng))
            pixels = torch.zeros(32, 32, dtype=torch.uint8)
            pixels[4:28, x0 : x0 + width] = 255
            Image.fromarray(pixels.numpy()).save(tmp_path / "bars" / name / f"{i}.png")
    # mean pixel in [-1, 1] of a bar of the classes' mean widths (3 and 18 px), 24 px tall
    ink = {name: -1 + 2 * 24 * (low + high - 1) / 2 / 32**2 for name, (low, high) in widths.items()}
    middle = (ink["narrow"] + ink["wide"]) / 2

    def accuracy(model) -> float:  # share of samples on their own class's side of the middle
        y = torch.arange(2).repeat(100)  # (200,) 0 = narrow, 1 = wide
        mean = model.sample(200, seed=0, labels=y).mean((1, 2, 3))  # (200,)
        return float(torch.where(y == 0, mean < middle, mean > middle).double().mean())

    options = dict(
        batch_size=16,
        progress="off",
        device="cpu",
        sample_every=0,
        checkpoint_every=0,
        seed=0,
        channels=1,
        num_classes=2,
        g_ch=8,
        d_ch=8,
        n_dis=1,
        lr=1e-3,
        g_batch_factor=1,
        decay_start=1.0,
    )
    untrained = ganzoo.create("sngan", image_size=32, channels=1, num_classes=2, g_ch=8, d_ch=8)
    assert abs(accuracy(untrained) - 0.5) < 0.1  # chance before training
    run = ganzoo.train("sngan", str(tmp_path / "bars"), steps=300, out=tmp_path / "run", **options)
    model = ganzoo.load(str(run))
    assert model.classes == ["narrow", "wide"]
    assert accuracy(model) >= 0.8  # measured 0.955 (seed 0) and 0.93 (seed 1) on this CPU
