"""The CycleGAN step: both generators on LSGAN + cycle + identity losses, then both PatchGANs
on real images and on fakes drawn from a pool of past generator outputs."""

import torch
import torch.nn.functional as F

from ganzoo.config import ConfigError
from ganzoo.engine import LinearDecayStep, StepContext
from ganzoo.losses import d_loss_ls, g_loss_ls

from .config import CycleGANConfig


class ImagePool:
    """A buffer of past fakes: each new fake is shown as is, or (p = 0.5, once full) swapped for a stored one.

    Showing the discriminators a history of generator outputs, not only the latest, damps oscillation.
    """

    def __init__(self, size: int):
        self.size = size
        self.images: torch.Tensor | None = None  # (n, C, H, W), n <= size

    def query(self, fakes: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return fakes
        out = []
        for fake in fakes.detach():
            fake = fake.unsqueeze(0)
            n = 0 if self.images is None else self.images.shape[0]
            if n < self.size:
                self.images = fake.clone() if self.images is None else torch.cat([self.images, fake])
                out.append(fake)
            elif torch.rand(()) < 0.5:
                i = int(torch.randint(0, self.size, ()))
                out.append(self.images[i : i + 1].clone())
                self.images[i : i + 1] = fake
            else:
                out.append(fake)
        return torch.cat(out)


class CycleGANStep(LinearDecayStep):
    """One Adam over both generators, one over both PatchGANs; constant for the first ``decay_start`` of the
    run, then linearly down to 0 (the paper's schedule)."""

    ema_net = None  # two generators; the paper averages neither
    optimizer_networks = {"G": ("G_AB", "G_BA"), "D": ("D_A", "D_B")}

    def __init__(self, config: CycleGANConfig):
        if config.one_way:
            raise ConfigError(
                "a one_way cyclegan model (one generator, as the authors' released files) translates only: the "
                "cycle loss needs both generators; train with one_way=false"
            )
        super().__init__(config)
        self.pool_a, self.pool_b = ImagePool(config.pool_size), ImagePool(config.pool_size)

    def __call__(self, ctx: StepContext, batch) -> None:
        real_a, real_b = batch  # (B, C, H, W) each, from unrelated images of the two domains
        m, c = ctx.models, self.config
        lam, lam_idt = c.lambda_cycle, c.lambda_cycle * c.lambda_identity

        # generators: fool both PatchGANs (least squares), map back to the start, leave targets unchanged
        with ctx.frozen("D_A", "D_B"):  # the PatchGANs give input gradients only
            fake_b, fake_a = m["G_AB"](real_a), m["G_BA"](real_b)
            rec_a, rec_b = m["G_BA"](fake_b), m["G_AB"](fake_a)
            pred_fb, pred_fa = m["D_B"](fake_b), m["D_A"](fake_a)
            loss_gan = g_loss_ls(pred_fb) + g_loss_ls(pred_fa)
            loss_cycle = lam * (F.l1_loss(rec_a, real_a) + F.l1_loss(rec_b, real_b))
            loss_idt = torch.zeros((), device=real_a.device)
            if lam_idt > 0:
                loss_idt = lam_idt * (F.l1_loss(m["G_AB"](real_b), real_b) + F.l1_loss(m["G_BA"](real_a), real_a))
            loss_g = loss_gan + loss_cycle + loss_idt
            ctx.backward(loss_g)
        ctx.step("G")

        # discriminators: real -> 1, (pooled) fake -> 0, halved as in the paper
        loss_d = 0.0
        for D, real, pool, fake in ((m["D_A"], real_a, self.pool_a, fake_a), (m["D_B"], real_b, self.pool_b, fake_b)):
            pred_real, pred_fake = D(real), D(pool.query(fake))
            loss_d = loss_d + 0.5 * d_loss_ls(pred_real, pred_fake)
        ctx.backward(loss_d)
        ctx.step("D")
        ctx.log(loss_g=loss_g, loss_d=loss_d, loss_gan=loss_gan, loss_cycle=loss_cycle, loss_idt=loss_idt)

    def state_tensors(self):
        return {
            name: pool.images
            for name, pool in (("pool_a", self.pool_a), ("pool_b", self.pool_b))
            if pool.images is not None
        }

    def load_state_tensors(self, tensors):
        self.pool_a.images = tensors.get("pool_a")
        self.pool_b.images = tensors.get("pool_b")
