"""The WGAN-GP step: n_critic critic updates on fresh real batches, then one generator update."""

import torch

from ganzoo import tricks
from ganzoo.engine import LinearDecayStep, StepContext
from ganzoo.losses import gradient_penalty

from .config import WGANGPConfig


class WGANGPStep(LinearDecayStep):
    """Adam over D and G, constant until ``decay_start`` of the run, then linearly down to 0.

    A constant rate keeps the generator moving: on the 2D mixtures it covers every mode but its
    samples drift on and off the narrow modes from one evaluation to the next. Letting the rate
    fall to 0 makes the last iterations settle it.
    """

    def __init__(self, config: WGANGPConfig):
        super().__init__(config)

    def __call__(self, ctx: StepContext, real: torch.Tensor) -> None:
        G, D = ctx.models["G"], ctx.models["D"]
        c = self.config
        for i in range(c.n_critic):
            if i:
                real = ctx.next_batch()  # each critic update sees new real data
            with torch.no_grad():
                fake = G(ctx.noise(real.shape[0]))
            d_real, d_fake = D(real).mean(), D(fake).mean()
            gp = gradient_penalty(ctx.raw_models["D"], real, fake)  # eager, fp32
            loss_d = d_fake - d_real + c.gp_lambda * gp
            ctx.backward(loss_d)
            ctx.step("D")
        with ctx.frozen("D"):  # the critic gives input gradients only
            z = ctx.noise(real.shape[0])
            fake = G(z)  # (B, C, H, W)
            loss_g = -D(fake).mean()
            ctx.backward(tricks.generator_loss(ctx, loss_g, fake, z))  # + mode seeking when asked for
        ctx.step("G")
        ctx.log(loss_d=loss_d, loss_g=loss_g, wasserstein=d_real - d_fake, gp=gp)
