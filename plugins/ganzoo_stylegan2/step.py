"""The StyleGAN2 step: G's and D's non-saturating logistic losses, with lazy regularisation.

Per iteration, in the official order (NVlabs stylegan2-ada's phases): Gmain, G's update with style
mixing on; Greg, every ``pl_interval`` steps an extra G update on the path-length penalty; Dmain,
D's update; Dreg, every ``r1_interval`` steps an extra D update on the R1 penalty. The engine runs
the phases (ganzoo.engine.Phase): it weights each lazy penalty by its interval and corrects Adam's
rate and betas for the extra updates (the paper's "lazy regularisation"). The iteration counter
that decides when the penalties run is the engine's (in every checkpoint); the running mean path
length is this step's own state, saved with it. DiffAugment and packing act inside D, as for
every GAN (ganzoo.tricks).
"""

from __future__ import annotations

import math

import torch

from ganzoo import tricks
from ganzoo.engine import AdamStep, Phase, StepContext
from ganzoo.losses import d_loss_logistic, g_loss_logistic

from .config import StyleGAN2Config


class StyleGAN2Step(AdamStep):
    optimizer_networks = {"G": ("G",), "D": ("D",)}
    phases = (
        Phase("Gmain", "G", frozen=("D",)),  # D gives input gradients only
        Phase("Greg", "G", every="pl_interval", when="pl_weight"),
        Phase("Dmain", "D"),
        Phase("Dreg", "D", every="r1_interval", when="r1"),
    )

    def __init__(self, config: StyleGAN2Config):
        super().__init__(config)
        self.pl_mean = torch.zeros([])  # running mean of the path lengths

    def Gmain(self, ctx: StepContext, real: torch.Tensor) -> torch.Tensor:
        """-log D(G(z)), as softplus(-D(G(z)))."""
        fake = ctx.models["G"](ctx.noise(real.shape[0]), mixing=self.config.style_mixing)  # (B, C, H, W)
        loss_g = g_loss_logistic(ctx.models["D"](fake))
        ctx.log(loss_g=loss_g)
        return loss_g

    def Greg(self, ctx: StepContext, real: torch.Tensor) -> torch.Tensor:
        """The path-length penalty on a batch shrunk by ``pl_batch_shrink``, times its weight."""
        penalty = self._path_length_penalty(ctx, max(1, real.shape[0] // self.config.pl_batch_shrink))
        ctx.log(pl_penalty=penalty, pl_mean=self.pl_mean)
        return penalty * self.config.pl_weight

    def Dmain(self, ctx: StepContext, real: torch.Tensor) -> torch.Tensor:
        """-log D(x) - log(1 - D(G(z))), as softplus terms; fakes drawn without G's graph."""
        G, D = ctx.models["G"], ctx.models["D"]
        with torch.no_grad():
            fake = G(ctx.noise(real.shape[0]), mixing=self.config.style_mixing)  # (B, C, H, W)
        out_real, out_fake = tricks.observe_real(ctx, D(real)), D(fake)  # (B,) logits; reals reach ADA
        loss_d = d_loss_logistic(out_real, out_fake, self.config.real_label)
        ctx.log(loss_d=loss_d, d_real=out_real.mean(), d_fake=out_fake.mean())
        return loss_d

    def Dreg(self, ctx: StepContext, real: torch.Tensor) -> torch.Tensor:
        """gamma/2 * E||grad_x D(x)||^2 on the real batch: the shared R1 term (logged as "r1")."""
        _, r1 = tricks.score_real(ctx, real, observe=False)  # Dmain gave ADA this iteration's reals
        return r1

    def ema_decay(self, iteration: int, batch_size: int, decay: float) -> float:
        """The official schedule: half-life ema_kimg thousand images, at most ema_rampup of the images seen."""
        c = self.config
        if c.ema_kimg <= 0:
            return decay
        half_life = c.ema_kimg * 1000
        if c.ema_rampup > 0:
            half_life = min(half_life, iteration * batch_size * c.ema_rampup)
        return 0.5 ** (batch_size / max(half_life, 1e-8))

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {"pl_mean": self.pl_mean}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        if "pl_mean" in tensors:
            self.pl_mean = tensors["pl_mean"].clone()

    def _path_length_penalty(self, ctx: StepContext, n: int) -> torch.Tensor:
        """E[(|J_w^T y| - a)^2]: image changes of equal size for equal steps in W (fp32, eager)."""
        G = ctx.raw_models["G"]
        with torch.autocast(ctx.device.type, enabled=False):
            z = ctx.noise(n)  # (n, z_dim)
            ws = G.mapping(z)  # (n, num_ws, w_dim)
            if self.config.style_mixing > 0:
                ws = G.mix(ws, z, self.config.style_mixing)
            img = G.render(ws)  # (n, C, H, W)
            y = torch.randn_like(img) / math.sqrt(img.shape[2] * img.shape[3])
            (grad,) = torch.autograd.grad((img * y).sum(), ws, create_graph=True)  # (n, num_ws, w_dim)
            lengths = grad.square().sum(dim=2).mean(dim=1).sqrt()  # (n,)
            mean = self.pl_mean.to(lengths.device).lerp(lengths.mean(), self.config.pl_decay)
            self.pl_mean = mean.detach()
            return (lengths - mean).square().mean()
