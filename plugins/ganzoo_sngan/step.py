"""The SN-GAN step: n_dis D updates, each on its own real batch, then one G update; hinge loss.

A class-conditional run gets batches (images, labels); its fakes take labels drawn uniformly over
the classes (ctx.fake_labels), and D scores every image with the label it came with.
"""

from __future__ import annotations

from typing import Any

import torch

from ganzoo import tricks
from ganzoo.engine import LinearDecayStep, StepContext
from ganzoo.losses import adversarial_losses

from .config import SNGANConfig


class SNGANStep(LinearDecayStep):
    def __init__(self, config: SNGANConfig):
        super().__init__(config)
        self.loss_d, self.loss_g = adversarial_losses(config.loss, config.real_label)  # smoothing when < 1

    def __call__(self, ctx: StepContext, batch: Any) -> None:
        c = self.config
        for i in range(c.n_dis):
            real, y_real = ctx.images_and_labels(batch if i == 0 else ctx.next_batch())  # each D update: new data
            with torch.no_grad():
                fake, y_fake, _ = ctx.generate(real.shape[0])
            out_real, r1 = tricks.score_real(ctx, real, *([] if y_real is None else [y_real]))  # R1 when asked for
            out_fake = ctx.score(fake, y_fake)
            loss_d = self.loss_d(out_real, out_fake)
            ctx.backward(loss_d if r1 is None else loss_d + r1)
            ctx.step("D")
        with ctx.frozen("D"):  # D gives input gradients only
            fake, y_fake, z = ctx.generate(c.g_batch_factor * real.shape[0])
            loss_g = self.loss_g(ctx.score(fake, y_fake))
            ctx.backward(tricks.generator_loss(ctx, loss_g, fake, z))  # + mode seeking when asked for
        ctx.step("G")
        ctx.log(loss_d=loss_d, loss_g=loss_g, d_real=out_real.mean(), d_fake=out_fake.mean())
