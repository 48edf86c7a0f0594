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
