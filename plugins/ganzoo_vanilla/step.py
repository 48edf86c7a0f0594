"""The vanilla GAN step: one D update on BCE, then one G update (non-saturating or minimax)."""

import torch

from ganzoo import tricks
from ganzoo.engine import LinearDecayStep, StepContext
from ganzoo.losses import d_loss_bce, g_loss_minimax, g_loss_nonsaturating

from .config import VanillaConfig


class VanillaStep(LinearDecayStep):  # Adam over D and G, constant until decay_start, then down to 0
    def __init__(self, config: VanillaConfig):
        super().__init__(config)
        self.g_loss = g_loss_nonsaturating if config.loss == "non-saturating" else g_loss_minimax

    def __call__(self, ctx: StepContext, real: torch.Tensor) -> None:
        G, D = ctx.models["G"], ctx.models["D"]
        z = ctx.noise(real.shape[0])  # (B, nz)
        fake = G(z)  # (B, *data_shape)
        out_real, r1 = tricks.score_real(ctx, real)  # (B / pack,) logits; the R1 term when asked for
        loss_d = d_loss_bce(out_real, D(fake.detach()), self.config.real_label)
        ctx.backward(loss_d if r1 is None else loss_d + r1)
        ctx.step("D")
        with ctx.frozen("D"):  # G's update: D gives input gradients only
            loss_g = self.g_loss(D(fake))
            ctx.backward(tricks.generator_loss(ctx, loss_g, fake, z))  # + mode seeking when asked for
        ctx.step("G")
        ctx.log(loss_d=loss_d, loss_g=loss_g)
