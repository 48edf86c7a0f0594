"""DiffAugment ops: what they do to images, that gradients pass, and the config check."""

import pytest
import torch

import ganzoo
from ganzoo.augment import cutout, diff_augment, translate
from ganzoo.config import ConfigError


def test_translation_shifts_whole_images_by_at_most_an_eighth():
    torch.manual_seed(0)
    x = torch.zeros(64, 1, 16, 16)
    x[:, :, 7, 7] = 1.0  # one lit pixel per image, in the middle
    y = translate(x)  # 16 * 0.125 = up to 2 pixels each way
    assert y.shape == x.shape
    where = y.flatten(1).argmax(1)
    rows, cols = where // 16, where % 16
    assert torch.all(y.flatten(1).sum(1) == 1)  # moved, never lost or doubled, at this range
    assert rows.sub(7).abs().max() <= 2 and cols.sub(7).abs().max() <= 2
    assert len(set(zip(rows.tolist(), cols.tolist()))) > 10  # each image gets its own shift


def test_translation_fills_with_zeros_and_keeps_content():
    torch.manual_seed(1)
    x = torch.arange(1.0, 65.0).view(1, 1, 8, 8).repeat(32, 1, 1, 1)
    y = translate(x)  # up to 1 pixel
    for img in y[:, 0]:
        kept = img[img > 0]
        assert kept.numel() >= 49  # at most one row and one column leave the frame
        assert set(kept.tolist()) <= set(range(1, 65))


def test_cutout_zeroes_one_square_of_half_the_side():
    torch.manual_seed(0)
    x = torch.ones(200, 3, 16, 16)
    y = cutout(x)
    zeros = (y[:, 0] == 0).flatten(1).sum(1)
    assert torch.all(zeros <= 64) and torch.all(zeros > 0)  # an 8x8 square, sometimes partly off the image
    assert (zeros == 64).float().mean() > 0.2
    assert torch.equal(y[:, 0], y[:, 2])  # the same square across channels


def test_gradients_reach_the_images():
    x = torch.randn(4, 1, 16, 16, requires_grad=True)
    diff_augment(x, "translation,cutout").sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_dcgan_refuses_an_unknown_augmentation():
    with pytest.raises(ConfigError, match="augment must be comma-separated ops from translation, cutout"):
        ganzoo.create("dcgan", augment="translation,flip")
    assert ganzoo.create("dcgan", augment="translation,cutout", image_size=16, ngf=8, ndf=8).config.augment


@pytest.mark.parametrize("policy", ["translation,cutout", ""], ids=["augmented", "plain"])
def test_dcgan_step_shows_d_only_augmented_images(tmp_path, monkeypatch, policy):
    import ganzoo_dcgan.models as dcgan_models
    import ganzoo_dcgan.step as dcgan_step

    import ganzoo.tricks

    from .engine_probe import NetworkProbe

    augmented = []  # (policy, input, output) of every augmentation made
    first_layer_inputs = []  # what D's first conv actually received

    def spy(x, p):
        out = diff_augment(x, p)
        augmented.append((p, x, out))
        return out

    build = dcgan_models.build

    def build_and_watch(config):
        nets = build(config)
        nets["D"].main[0].register_forward_pre_hook(lambda m, args: first_layer_inputs.append(args[0]))
        return nets

    monkeypatch.setattr(ganzoo.tricks, "diff_augment", spy)
    monkeypatch.setattr(dcgan_models, "build", build_and_watch)
    probe = NetworkProbe(monkeypatch, dcgan_step.DCGANStep)
    ganzoo.train(
        "dcgan",
        "mnist-5k",
        steps=2,
        out=tmp_path / "run",
        batch_size=8,
        progress="off",
        sample_every=0,
        augment=policy,
        image_size=16,
        channels=1,
        ngf=8,
        ndf=8,
    )
    given_to_d = [c.inputs for c in probe.of("D")]
    assert len(given_to_d) == 6  # real, fake for D, fake for G: three D passes per step
    if not policy:
        assert augmented == []
        assert all(x is seen for x, seen in zip(given_to_d, first_layer_inputs))
        return
    assert [p for p, _, _ in augmented] == [policy] * 6
    assert all(x is aug_in for x, (_, aug_in, _) in zip(given_to_d, augmented))  # every D input is augmented
    assert all(seen is out for seen, (_, _, out) in zip(first_layer_inputs, augmented))  # D's layers see the result
    assert all(not torch.equal(x, out) for _, x, out in augmented)  # and augmenting changed them
    fakes = [c.output for c in probe.of("G")]
    assert augmented[1][1] is not fakes[0] and torch.equal(augmented[1][1], fakes[0])  # D's pass: G's detached output
    assert augmented[2][1] is fakes[0]  # G's pass: the output itself, so gradients reach G through the ops
