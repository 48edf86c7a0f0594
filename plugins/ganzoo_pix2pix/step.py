"""The pix2pix step: the conditional PatchGAN on real and fake pairs, then the U-Net on the cGAN loss + lambda * L1."""

import torch.nn.functional as F

from ganzoo.engine import LinearDecayStep, StepContext
from ganzoo.losses import d_loss_bce, d_loss_ls, g_loss_ls, g_loss_nonsaturating

from .config import Pix2PixConfig

LOSSES = {"bce": (d_loss_bce, g_loss_nonsaturating), "lsgan": (d_loss_ls, g_loss_ls)}  # gan_loss -> (D's, G's)


class Pix2PixStep(LinearDecayStep):
    """Adam over the U-Net and over the PatchGAN; constant for the first ``decay_start`` of the run, then
    linearly down to 0 (the authors' schedule)."""

    ema_net = None  # the paper averages no weights
    optimizer_networks = {"G": ("G_AB",), "D": ("D",)}

    def __call__(self, ctx: StepContext, batch) -> None:
        real_a, real_b = batch  # (B, C, H, W) each: B[i] is the true translation of A[i]
        G, D = ctx.models["G_AB"], ctx.models["D"]
        config: Pix2PixConfig = self.config
        fake_b = G(real_a)  # (B, C, H, W); dropout is the generator's noise

        # D: real pairs -> 1, fake pairs -> 0, halved as in the paper (D learns at half G's rate)
        loss_d_fn, loss_g_fn = LOSSES[config.gan_loss]
        loss_d = 0.5 * loss_d_fn(D(real_a, real_b), D(real_a, fake_b.detach()))
        ctx.backward(loss_d)
        ctx.step("D")

        # G: fool D on its pair (non-saturating: fake -> 1) and stay near the true B in L1
        with ctx.frozen("D"):  # D gives input gradients only
            loss_gan = loss_g_fn(D(real_a, fake_b))
            loss_l1 = config.lambda_l1 * F.l1_loss(fake_b, real_b)
            loss_g = loss_gan + loss_l1
            ctx.backward(loss_g)
        ctx.step("G")
        ctx.log(loss_d=loss_d, loss_g=loss_g, loss_gan=loss_gan, loss_l1=loss_l1)
