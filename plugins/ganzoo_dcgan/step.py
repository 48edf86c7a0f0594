"""The DCGAN training step: BCE, D on real and fake in separate passes, then G (non-saturating).

The discriminator tricks (ganzoo.config.DiscriminatorTricks: label smoothing, R1, DiffAugment,
packing, ...) are all off by default; D's input transforms live in D itself (ganzoo.tricks).
"""

import torch
import torch.nn.functional as F

from ganzoo import tricks
from ganzoo.engine import Step, StepContext, adam_per_network, linear_decay

from .config import DCGANConfig


class DCGANStep(Step):
    def __init__(self, config: DCGANConfig):
        super().__init__(config)

    def optimizers(self, nets):
        return adam_per_network(nets, ("D", "G"), self.config)

    def lr_factor(self, iteration: int, total: int) -> float:
        return linear_decay(iteration, total, self.config.decay_start)

    def __call__(self, ctx: StepContext, real: torch.Tensor) -> None:
        G, D = ctx.models["G"], ctx.models["D"]
        b = real.shape[0]

        # D: maximise log D(x) + log(1 - D(G(z))), real and fake batches in separate passes
        out_real, r1 = tricks.score_real(ctx, real)  # (B / pack,) logits; the R1 term from the same pass
        loss_d_real = F.binary_cross_entropy_with_logits(out_real, torch.full_like(out_real, self.config.real_label))
        ctx.backward(loss_d_real if r1 is None else loss_d_real + r1)
        fake = G(ctx.noise(b))  # (B, C, H, W)
        out_fake = D(fake.detach())
        loss_d_fake = F.binary_cross_entropy_with_logits(out_fake, torch.zeros_like(out_fake))
        ctx.backward(loss_d_fake)
        ctx.step("D")

        # G: maximise log D(G(z)) (the non-saturating loss)
        with ctx.frozen("D"):  # D gives input gradients only
            out_g = D(fake)
            loss_g = F.binary_cross_entropy_with_logits(out_g, torch.ones_like(out_g))
            ctx.backward(loss_g)
        ctx.step("G")

        ctx.log(loss_d=loss_d_real + loss_d_fake, loss_g=loss_g,
                d_real=torch.sigmoid(out_real).mean(), d_fake=torch.sigmoid(out_fake).mean())
