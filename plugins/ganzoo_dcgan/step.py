"""The DCGAN training step: BCE, D on real and fake in separate passes, then G (non-saturating).

A class-conditional run (``num_classes`` > 0) gets batches (images, labels); its fakes take labels drawn
uniformly over the classes, and D scores every image with its label.

The discriminator tricks (ganzoo.config.DiscriminatorTricks: label smoothing, R1, DiffAugment,
packing, ...) are all off by default; D's input transforms live in D itself (ganzoo.tricks).
Adam over D and G and the linear decay after ``decay_start`` come from ganzoo.engine.LinearDecayStep.
"""

from typing import Any

import torch

from ganzoo import tricks
from ganzoo.engine import LinearDecayStep, StepContext
from ganzoo.losses import bce_fake, bce_real, g_loss_nonsaturating

from .config import DCGANConfig


class DCGANStep(LinearDecayStep):
    def __init__(self, config: DCGANConfig):
        super().__init__(config)

    def __call__(self, ctx: StepContext, batch: Any) -> None:
        real, y_real = ctx.images_and_labels(batch)  # (B, C, H, W), (B,) or None

        # D: maximise log D(x) + log(1 - D(G(z))), real and fake batches in separate passes
        out_real, r1 = tricks.score_real(ctx, real, *([] if y_real is None else [y_real]))  # (B / pack,) logits; R1
        loss_d_real = bce_real(out_real, self.config.real_label)
        ctx.backward(loss_d_real if r1 is None else loss_d_real + r1)
        fake, y_fake, z = ctx.generate(real.shape[0])  # (B, C, H, W), (B,) or None, (B, nz, 1, 1)
        out_fake = ctx.score(fake.detach(), y_fake)
        loss_d_fake = bce_fake(out_fake)
        ctx.backward(loss_d_fake)
        ctx.step("D")

        # G: maximise log D(G(z)) (the non-saturating loss)
        with ctx.frozen("D"):  # D gives input gradients only
            loss_g = g_loss_nonsaturating(ctx.score(fake, y_fake))
            ctx.backward(tricks.generator_loss(ctx, loss_g, fake, z))  # + mode seeking when asked for
        ctx.step("G")

        ctx.log(
            loss_d=loss_d_real + loss_d_fake,
            loss_g=loss_g,
            d_real=torch.sigmoid(out_real).mean(),
            d_fake=torch.sigmoid(out_fake).mean(),
        )
