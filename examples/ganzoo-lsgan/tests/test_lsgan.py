"""ganzoo-lsgan: the least-squares losses, and ganzoo's conformance kit for the whole variant."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # tiny networks run fastest on one thread

import torch  # noqa: E402
from ganzoo_lsgan.losses import d_loss_ls, g_loss_ls  # noqa: E402

import ganzoo  # noqa: E402
from ganzoo import testing  # noqa: E402

TINY = dict(image_size=16, channels=1, ngf=8, ndf=8)  # a few seconds for the whole kit on a CPU


def test_losses_vanish_at_their_targets_and_are_half_squared_errors():
    ones, zeros = torch.ones(4), torch.zeros(4)
    assert d_loss_ls(ones, zeros, a=0.0, b=1.0) == 0  # D says b of real and a of fake
    assert g_loss_ls(ones, c=1.0) == 0
    assert d_loss_ls(zeros, ones, a=0.0, b=1.0) == 1.0  # 1/2 * 1 + 1/2 * 1
    assert g_loss_ls(torch.full((4,), 3.0), c=1.0) == 2.0  # 1/2 * (3 - 1)^2


def test_paper_defaults():
    config = ganzoo.create("lsgan", **TINY).config
    assert (config.a, config.b, config.c) == (0.0, 1.0, 1.0)
    assert config.lr == 2e-4 and config.betas == (0.5, 0.999)


def test_conformance(tmp_path):
    testing.run_all("lsgan", tmp_path, sizes=((16, 1), (32, 3)), **TINY)
