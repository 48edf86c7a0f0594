"""The DCGAN training step: BCE, D on real and fake in separate passes, then G (non-saturating).

The discriminator tricks (ganzoo.config.DiscriminatorTricks: label smoothing, R1, DiffAugment,
packing, ...) are all off by default; D's input transforms live in D itself (ganzoo.tricks).
Adam over D and G and the linear decay after ``decay_start`` come from ganzoo.engine.LinearDecayStep.
"""

import torch

from ganzoo import tricks
from ganzoo.engine import LinearDecayStep, StepContext
from ganzoo.losses import bce_fake, bce_real, g_loss_nonsaturating

from .config import DCGANConfig


class DCGANStep(LinearDecayStep):
    def __init__(self, config: DCGANConfig):
        super().__init__(config)

    def __call__(self, ctx: StepContext, real: torch.Tensor) -> None:
        G, D = ctx.models["G"], ctx.models["D"]
        b = real.shape[0]

        # D: maximise log D(x) + log(1 - D(G(z))), real and fake batches in separate passes
        out_real, r1 = tricks.score_real(ctx, real)  # (B / pack,) logits; the R1 term from the same pass
        loss_d_real = bce_real(out_real, self.config.real_label)
        ctx.backward(loss_d_real if r1 is None else loss_d_real + r1)
        z = ctx.noise(b)  # (B, nz, 1, 1)
        fake = G(z)  # (B, C, H, W)
        out_fake = D(fake.detach())
        loss_d_fake = bce_fake(out_fake)
        ctx.backward(loss_d_fake)
        ctx.step("D")

        # G: maximise log D(G(z)) (the non-saturating loss)
        with ctx.frozen("D"):  # D gives input gradients only
            loss_g = g_loss_nonsaturating(D(fake))
            ctx.backward(tricks.generator_loss(ctx, loss_g, fake, z))  # + mode seeking when asked for
        ctx.step("G")

        ctx.log(
            loss_d=loss_d_real + loss_d_fake,
            loss_g=loss_g,
            d_real=torch.sigmoid(out_real).mean(),
            d_fake=torch.sigmoid(out_fake).mean(),
        )
