"""The LSGAN training step: one discriminator update, then one generator update.

ganzoo's engine hands over the networks, optimizers and data through ``ctx`` and takes care of
devices, precision, checkpoints and logging; this step owns only the losses and update order.
Its optimizers are AdamStep's: one Adam per network at the config's ``lr`` and ``betas``.
"""

import torch

from ganzoo.engine import AdamStep, StepContext

from .config import LSGANConfig
from .losses import d_loss_ls, g_loss_ls


class LSGANStep(AdamStep):
    optimizer_networks = {"D": ("D",), "G": ("G",)}  # optimizer -> the networks it updates (the default, spelled out)

    def __init__(self, config: LSGANConfig):
        super().__init__(config)

    def __call__(self, ctx: StepContext, real: torch.Tensor) -> None:
        G, D = ctx.models["G"], ctx.models["D"]
        c = self.config
        fake = G(ctx.noise(real.shape[0]))  # (B, C, H, W)

        real_scores = D(real)  # (B,)
        fake_scores = D(fake.detach())  # (B,)
        loss_d = d_loss_ls(real_scores, fake_scores, c.a, c.b)
        ctx.backward(loss_d)
        ctx.step("D")

        loss_g = g_loss_ls(D(fake), c.c)
        ctx.backward(loss_g)
        ctx.step("G")

        ctx.log(loss_d=loss_d, loss_g=loss_g, d_real=real_scores.mean(), d_fake=fake_scores.mean())
