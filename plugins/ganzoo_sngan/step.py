"""The SN-GAN step: n_dis D updates, each on its own real batch, then one G update; hinge loss.

A class-conditional run gets batches (images, labels); its fakes take labels drawn uniformly over
the classes (ctx.fake_labels), and D scores every image with the label it came with.
"""

from __future__ import annotations

from typing import Any

import torch

from ganzoo import tricks
from ganzoo.config import is_conditional
from ganzoo.engine import LinearDecayStep, StepContext
from ganzoo.losses import adversarial_losses

from .config import SNGANConfig


class SNGANStep(LinearDecayStep):
    def __init__(self, config: SNGANConfig):
        super().__init__(config)
        self.loss_d, self.loss_g = adversarial_losses(config.loss, config.real_label)  # smoothing when < 1
        self.conditional = is_conditional(config)

    def _split(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(images (B, C, H, W), labels (B,) or None): a conditional run's batches are pairs."""
        return tuple(batch) if self.conditional else (batch, None)

    def _fakes(self, ctx: StepContext, n: int) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """n generated images (n, C, H, W), the labels they were drawn for (n,) (None if unconditional), their z."""
        y = ctx.fake_labels(n) if self.conditional else None
        z = ctx.noise(n)  # (n, nz)
        return ctx.models["G"](z, y) if y is not None else ctx.models["G"](z), y, z

    def __call__(self, ctx: StepContext, batch: Any) -> None:
        D = ctx.models["D"]
        c = self.config

        def score(x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:  # (B,) logits
            return D(x, y) if y is not None else D(x)

        for i in range(c.n_dis):
            real, y_real = self._split(batch if i == 0 else ctx.next_batch())  # each D update sees new data
            with torch.no_grad():
                fake, y_fake, _ = self._fakes(ctx, real.shape[0])
            out_real, r1 = tricks.score_real(ctx, real, *([] if y_real is None else [y_real]))  # R1 when asked for
            out_fake = score(fake, y_fake)
            loss_d = self.loss_d(out_real, out_fake)
            ctx.backward(loss_d if r1 is None else loss_d + r1)
            ctx.step("D")
        with ctx.frozen("D"):  # D gives input gradients only
            fake, y_fake, z = self._fakes(ctx, c.g_batch_factor * real.shape[0])
            loss_g = self.loss_g(score(fake, y_fake))
            ctx.backward(tricks.generator_loss(ctx, loss_g, fake, z))  # + mode seeking when asked for
        ctx.step("G")
        ctx.log(loss_d=loss_d, loss_g=loss_g, d_real=out_real.mean(), d_fake=out_fake.mean())
