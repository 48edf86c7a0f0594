"""Class-conditional generation through the stack: labels from the data specs, (images, labels)
batches, ctx.fake_labels, sample(labels=...), class names in config.json, and the conformance kit
on a small conditional variant registered in-process."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import ganzoo
from ganzoo import plugins, testing
from ganzoo.config import ConfigError
from ganzoo.data import load_dataset
from ganzoo.engine import Step, adam_per_network
from ganzoo.engine.batches import Batches


@dataclass
class CondConfig:
    image_size: int = 16  # side of the square images
    channels: int = 1  # 1 = grayscale
    nz: int = 8  # latent size
    hidden: int = 32  # MLP width
    num_classes: int = 0  # > 0: G and D see class labels (conditional); 0: unconditional
    lr: float = 2e-4  # Adam rate
    betas: tuple = (0.5, 0.999)  # Adam betas


class CondG(nn.Module):
    def __init__(self, c: CondConfig):
        super().__init__()
        self.latent_shape, self.num_classes, self.shape = (
            (c.nz,),
            c.num_classes,
            (c.channels, c.image_size, c.image_size),
        )
        self.embed = nn.Embedding(max(c.num_classes, 1), c.nz)
        self.net = nn.Sequential(
            nn.Linear(c.nz, c.hidden), nn.ReLU(), nn.Linear(c.hidden, int(np.prod(self.shape))), nn.Tanh()
        )

    def forward(self, z, y=None):
        h = z if y is None else z * self.embed(y)  # (B, nz)
        return self.net(h).view(-1, *self.shape)  # (B, C, H, W)


class CondD(nn.Module):
    def __init__(self, c: CondConfig):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(c.channels * c.image_size**2, c.hidden), nn.LeakyReLU(0.2))
        self.out = nn.Linear(c.hidden, 1)
        self.embed = nn.Embedding(max(c.num_classes, 1), c.hidden)  # the projection term

    def forward(self, x, y=None):
        h = self.body(x)  # (B, hidden)
        logit = self.out(h).squeeze(1)  # (B,)
        return logit if y is None else logit + (self.embed(y) * h).sum(1)


def build(c: CondConfig) -> dict[str, nn.Module]:
    return {"G": CondG(c), "D": CondD(c)}


SEEN: list[tuple] = []  # what the step received, for the tests


class CondStep(Step):
    def optimizers(self, nets):
        return adam_per_network(nets, ("G", "D"), self.config)

    def __call__(self, ctx, batch):
        real, labels = batch  # (B, C, H, W), (B,)
        SEEN.append((real.shape, labels.clone(), ctx.num_classes))
        G, D = ctx.models["G"], ctx.models["D"]
        fake_y = ctx.fake_labels(real.shape[0])
        fake = G(ctx.noise(real.shape[0]), fake_y)
        loss_d = (
            nn.functional.softplus(-D(real, labels)).mean() + nn.functional.softplus(D(fake.detach(), fake_y)).mean()
        )
        ctx.backward(loss_d)
        ctx.step("D")
        loss_g = nn.functional.softplus(-D(fake, fake_y)).mean()
        ctx.backward(loss_g)
        ctx.zero_grad("D")
        ctx.step("G")
        ctx.log(loss_d=loss_d, loss_g=loss_g)


class CondPlugin:
    @ganzoo.hookimpl
    def ganzoo_register_variants(self, register):
        register(
            ganzoo.Variant(
                name="cond-mlp",
                summary="A small conditional MLP GAN for tests",
                paper="none (a test)",
                config=CondConfig,
                build=build,
                step=CondStep,
            )
        )


@pytest.fixture
def cond():
    plugins.register_plugin(CondPlugin(), "cond-test")
    SEEN.clear()
    yield "cond-mlp"


TINY = dict(progress="off", sample_every=0, batch_size=16, image_size=16, num_classes=10)


def test_data_specs_carry_labels_and_class_names(tmp_path):
    mnist, _ = load_dataset("mnist-5k", image_size=16, channels=1)
    assert mnist.classes == [str(d) for d in range(10)] and mnist.labels.tolist()[::500] == list(range(10))
    for name, count in (("cat", 2), ("dog", 3)):
        (tmp_path / name).mkdir()
        for i in range(count):
            Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(tmp_path / name / f"{i}.png")
    folder, _ = load_dataset(str(tmp_path), image_size=8, channels=1)
    assert folder.classes == ["cat", "dog"] and folder.labels.tolist() == [0, 0, 1, 1, 1]
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "loose.png")  # an image outside any class folder
    flat, _ = load_dataset(str(tmp_path), image_size=8, channels=1)
    assert flat.classes is None and flat.labels is None


def test_batches_pair_each_image_with_its_own_label():
    mnist, _ = load_dataset("mnist-5k", image_size=16, channels=1)
    batches = Batches(mnist, 32, seed=3, device=torch.device("cpu"), labels=mnist.labels)
    for _ in range(3):
        images, labels = next(batches)
        assert images.shape == (32, 1, 16, 16) and labels.dtype == torch.int64
        # find each image in the data set: its label there is the one in the batch
        index = (mnist.tensor.flatten(1)[None] == images.flatten(1)[:, None]).all(-1).float().argmax(1)
        assert torch.equal(mnist.labels[index], labels)


def test_a_conditional_run_gets_labelled_batches_and_records_class_names(cond, tmp_path):
    run = ganzoo.train(cond, "mnist-5k", steps=3, out=tmp_path / "r", **TINY)
    assert len(SEEN) == 3 and all(shape == (16, 1, 16, 16) and k == 10 for shape, _, k in SEEN)
    assert len({int(v) for _, labels, _ in SEEN for v in labels}) > 3  # real labels, not one class
    record = json.loads((run / "config.json").read_text())
    assert record["config"]["num_classes"] == 10
    assert record["data"]["classes"] == [str(d) for d in range(10)]
    model = ganzoo.load(str(run))
    assert model.num_classes == 10 and model.classes == [str(d) for d in range(10)]
    assert torch.equal(model.sample(3, seed=0, labels="7"), model.sample(3, seed=0, labels=7))


def test_conditional_runs_refuse_data_without_labels_or_with_other_classes(cond, tmp_path):
    with pytest.raises(ConfigError, match=r"needs class labels, and 'ring8' has none|trains on image"):
        ganzoo.train(cond, "ring8", steps=1, out=tmp_path / "a", **TINY)
    (tmp_path / "flat").mkdir()
    for i in range(20):
        Image.fromarray(np.full((8, 8), i, np.uint8)).save(tmp_path / "flat" / f"{i}.png")
    with pytest.raises(ConfigError, match=r"needs class labels, and .*flat' has none .*-c num_classes=0"):
        ganzoo.train(cond, str(tmp_path / "flat"), steps=1, out=tmp_path / "b", **TINY)
    with pytest.raises(
        ConfigError, match=r"num_classes=3, but 'mnist-5k' has 10 classes \(0, 1, .*\): use -c num_classes=10"
    ):
        ganzoo.train(cond, "mnist-5k", steps=1, out=tmp_path / "c", **{**TINY, "num_classes": 3})
    assert not any((tmp_path / d).exists() for d in "abc")


def test_sample_labels_are_checked(cond):
    model = ganzoo.create(cond, num_classes=4)
    assert model.sample(5, seed=1, labels=[0, 1, 2, 3, 0]).shape == (5, 1, 16, 16)
    for bad, message in (
        (4, r"in 0\.\.3"),
        ([0, 1], r"exactly n=5 labels"),
        ("cat", r"class indices 0\.\.3 or class names"),
    ):
        with pytest.raises(ValueError, match=message):
            model.sample(5, seed=1, labels=bad)
    plain = ganzoo.create("dcgan", image_size=16, channels=1, ngf=8, ndf=8)
    with pytest.raises(ValueError, match="unconditional: it takes no labels"):
        plain.sample(2, labels=1)


def test_fake_labels_need_a_conditional_generator():
    from ganzoo.engine.step import StepContext

    ctx = StepContext({}, {"G": nn.Linear(1, 1)}, {}, None, torch.device("cpu"), None, lambda: None, None)
    with pytest.raises(RuntimeError, match="for conditional generators"):
        ctx.fake_labels(3)


def test_the_conformance_kit_checks_a_conditional_variant(cond, tmp_path):
    done = testing.run_all(cond, tmp_path, sizes=((16, 1),), steps=4, num_classes=10)
    assert done[-1] == "resume" and "sampling" in done


def test_the_kit_catches_a_generator_that_ignores_its_labels(cond, tmp_path, monkeypatch):
    monkeypatch.setattr(CondG, "forward", lambda self, z, y=None: self.net(z).view(-1, *self.shape))
    with pytest.raises(AssertionError, match="labels 0 and 1 gave the same samples"):
        testing.check_sampling(cond, num_classes=10)


def test_published_conditional_models_carry_their_class_names(cond, tmp_path):
    run = ganzoo.train(cond, "mnist-5k", steps=2, out=tmp_path / "r", **TINY)
    folder = ganzoo.load(str(run)).save_pretrained(tmp_path / "pub")
    assert json.loads((folder / "config.json").read_text())["data"]["classes"] == [str(d) for d in range(10)]
    card = (folder / "README.md").read_text()
    assert 'model.sample(16, seed=0, labels="0")' in card and "Class-conditional, 10 classes: 0 = `0`, 1 = `1`" in card
    loaded = ganzoo.load(str(folder))
    assert loaded.classes == [str(d) for d in range(10)]
    assert torch.equal(loaded.sample(4, seed=2, labels="3"), ganzoo.load(str(run)).sample(4, seed=2, labels=3))


def test_sample_command_draws_a_class_or_one_row_per_class(cond, tmp_path):
    from click.testing import CliRunner

    from ganzoo.cli import cli

    run = ganzoo.train(cond, "mnist-5k", steps=2, out=tmp_path / "r", **TINY)
    runner = CliRunner()
    done = runner.invoke(cli, ["sample", str(run), "--class-grid", "-n", "3", "-o", str(tmp_path / "grid.png")])
    assert done.exit_code == 0, done.output
    assert Image.open(tmp_path / "grid.png").size == (3 * 18 + 2, 10 * 18 + 2)  # 3 per row, 10 rows, 2 px padding
    model = ganzoo.load(str(run))
    for label in ("7", "seven"):
        done = runner.invoke(
            cli, ["sample", str(run), "--label", label, "-n", "4", "-o", str(tmp_path / f"{label}.png")]
        )
        if label == "7":
            assert done.exit_code == 0, done.output
            expected = model.sample(4, seed=0, labels=7).add(1).div(2).mul(255).round()
            got = torch.from_numpy(np.asarray(Image.open(tmp_path / "7.png").convert("L"), dtype=np.float32))
            assert torch.allclose(got[2:18, 2:18], expected[0, 0], atol=1)  # the first tile is class 7's sample
        else:
            assert done.exit_code == 1 and "class indices 0..9 or class names (classes: 0, 1" in done.output
    done = runner.invoke(cli, ["sample", "dcgan-mnist", "--class-grid", "-o", str(tmp_path / "x.png")])
    assert done.exit_code == 1 and "unconditional: it has no classes" in done.output


def test_evaluation_of_a_conditional_digit_model_scores_the_digit_asked_for(cond, tmp_path):
    from ganzoo.evaluate import evaluate

    run = ganzoo.train(cond, "mnist-5k", steps=2, out=tmp_path / "r", **{**TINY, "image_size": 32})  # the judge's size
    model = ganzoo.load(str(run))
    mnist, _ = load_dataset("mnist-5k", image_size=32, channels=1)

    def draw_real(n, *, seed=None, labels=None, batch_size=512):  # a "perfect" generator: real digits of the class
        picks = [int(torch.nonzero(mnist.labels == y)[i // 10 % 400]) for i, y in enumerate(labels)]
        return mnist.tensor[picks]

    model.sample = draw_real
    result = evaluate(model, "mnist-5k", ["mnist_digits"], num_samples=200)
    values = result["metrics"]["mnist_digits"]["values"]
    assert values["requested"] > 0.8 and values["min_requested"] > 0.5
    assert result["metrics"]["mnist_digits"]["protocol"]["labels"] == "sample i asks for class i mod 10"
    model.sample = lambda n, **kw: draw_real(n, labels=[(y + 1) % 10 for y in kw["labels"]])  # the wrong digits
    values = evaluate(model, "mnist-5k", ["mnist_digits"], num_samples=200)["metrics"]["mnist_digits"]["values"]
    assert values["requested"] < 0.05 and values["recognisable"] > 0.8
