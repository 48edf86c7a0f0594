"""The pix2pix step: the conditional PatchGAN on real and fake pairs, then the U-Net on the cGAN loss + lambda * L1."""

import torch
import torch.nn.functional as F

from ganzoo.engine import Step, StepContext, linear_decay

from .config import Pix2PixConfig


def gan_loss(logits: torch.Tensor, real: bool, kind: str) -> torch.Tensor:
    """The loss of D's patch logits against all-real (1) or all-fake (0) targets: cross-entropy or least squares."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    if kind == "lsgan":
        return F.mse_loss(logits, target)
    return F.binary_cross_entropy_with_logits(logits, target)


class Pix2PixStep(Step):
    ema_net = None  # the paper averages no weights

    def optimizers(self, nets):
        c = self.config
        return {"G": torch.optim.Adam(nets["G_AB"].parameters(), lr=c.lr, betas=tuple(c.betas)),
                "D": torch.optim.Adam(nets["D"].parameters(), lr=c.lr, betas=tuple(c.betas))}

    def lr_factor(self, iteration: int, total: int) -> float:
        """Constant for the first ``decay_start`` of the run, then linearly down to 0 (the authors' schedule)."""
        return linear_decay(iteration, total, self.config.decay_start)

    def __call__(self, ctx: StepContext, batch) -> None:
        real_a, real_b = batch  # (B, C, H, W) each: B[i] is the true translation of A[i]
        G, D = ctx.models["G_AB"], ctx.models["D"]
        config: Pix2PixConfig = self.config
        fake_b = G(real_a)  # (B, C, H, W); dropout is the generator's noise

        # D: real pairs -> 1, fake pairs -> 0, halved as in the paper (D learns at half G's rate)
        loss_d = 0.5 * (gan_loss(D(real_a, real_b), True, config.gan_loss)
                        + gan_loss(D(real_a, fake_b.detach()), False, config.gan_loss))
        ctx.backward(loss_d)
        ctx.step("D")

        # G: fool D on its pair (non-saturating: fake -> 1) and stay near the true B in L1
        with ctx.frozen("D"):  # D gives input gradients only
            loss_gan = gan_loss(D(real_a, fake_b), True, config.gan_loss)
            loss_l1 = config.lambda_l1 * F.l1_loss(fake_b, real_b)
            loss_g = loss_gan + loss_l1
            ctx.backward(loss_g)
        ctx.step("G")
        ctx.log(loss_d=loss_d, loss_g=loss_g, loss_gan=loss_gan, loss_l1=loss_l1)
