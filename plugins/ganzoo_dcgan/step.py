"""The DCGAN training step: BCE, D on real and fake in separate passes, then G (non-saturating).

Optional extras, all off by default: label smoothing, DiffAugment, the R1 penalty on the real pass.
"""

import torch
import torch.nn.functional as F

from ganzoo.augment import diff_augment
from ganzoo.engine import Step, StepContext, adam_per_network, linear_decay
from ganzoo.losses import r1_penalty

from .config import DCGANConfig


class DCGANStep(Step):
    def __init__(self, config: DCGANConfig):
        super().__init__(config)
        policy = config.augment
        self.view = (lambda x: diff_augment(x, policy)) if policy else (lambda x: x)  # what D sees of an image

    def optimizers(self, nets):
        return adam_per_network(nets, ("D", "G"), self.config)

    def lr_factor(self, iteration: int, total: int) -> float:
        return linear_decay(iteration, total, self.config.decay_start)

    def __call__(self, ctx: StepContext, real: torch.Tensor) -> None:
        G, D = ctx.models["G"], ctx.models["D"]
        b = real.shape[0]
        real_targets = torch.full((b,), self.config.real_label, device=real.device)
        ones = torch.ones(b, device=real.device)
        zeros = torch.zeros(b, device=real.device)

        # D: maximise log D(x) + log(1 - D(G(z))), real and fake batches in separate passes
        if self.config.r1 > 0:  # the same pass also gives ||grad_x D(x)||^2 (eager, fp32)
            out_real, penalty = r1_penalty(ctx.raw_models["D"], self.view(real))  # (B,) logits, scalar
            ctx.log(r1=penalty)
        else:
            out_real, penalty = D(self.view(real)), None  # (B,) logits
        loss_d_real = F.binary_cross_entropy_with_logits(out_real, real_targets)
        ctx.backward(loss_d_real if penalty is None else loss_d_real + self.config.r1 / 2 * penalty)
        fake = G(ctx.noise(b))  # (B, C, H, W)
        out_fake = D(self.view(fake.detach()))
        loss_d_fake = F.binary_cross_entropy_with_logits(out_fake, zeros)
        ctx.backward(loss_d_fake)
        ctx.step("D")

        # G: maximise log D(G(z)) (the non-saturating loss)
        with ctx.frozen("D"):  # D gives input gradients only
            out_g = D(self.view(fake))
            loss_g = F.binary_cross_entropy_with_logits(out_g, ones)
            ctx.backward(loss_g)
        ctx.step("G")

        ctx.log(loss_d=loss_d_real + loss_d_fake, loss_g=loss_g,
                d_real=torch.sigmoid(out_real).mean(), d_fake=torch.sigmoid(out_fake).mean())
