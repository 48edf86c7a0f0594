"""The StyleGAN2 step: G's and D's non-saturating logistic losses, with lazy regularisation.

Per iteration, in the official order (NVlabs stylegan2-ada's phases): Gmain, G's update with style
mixing on; Greg, every ``pl_interval`` steps an extra G update on the path-length penalty; Dmain,
D's update; Dreg, every ``r1_interval`` steps an extra D update on the R1 penalty. The engine runs
the phases (ganzoo.engine.Phase): it weights each lazy penalty by its interval and corrects Adam's
rate and betas for the extra updates (the paper's "lazy regularisation"). The iteration counter
that decides when the penalties run is the engine's (in every checkpoint); the running mean path
length is this step's own state, saved with it. DiffAugment and packing act inside D, as for
every GAN (ganzoo.tricks). A conditional run (``num_classes`` > 0: NVlabs' conditional nets) draws
fake labels uniformly, gives G and D the labels, and takes the real batch's labels for D and R1.
"""

from __future__ import annotations

import math
from typing import Any

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

    def _real(self, batch: Any) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """The real images (B, C, H, W) and, for a conditional run, their labels (B,) as D's extra input."""
        return (batch[0], (batch[1],)) if self.config.num_classes else (batch, ())

    def _fake(self, ctx: StepContext, n: int) -> tuple[torch.Tensor, tuple[torch.Tensor, ...], torch.Tensor]:
        """n generated images (n, C, H, W) with style mixing, the labels drawn for them (conditional runs), their z."""
        y = (ctx.fake_labels(n),) if self.config.num_classes else ()
        z = ctx.noise(n)  # (n, z_dim)
        return ctx.models["G"](z, *y, mixing=self.config.style_mixing), y, z

    def Gmain(self, ctx: StepContext, batch: Any) -> torch.Tensor:
        """-log D(G(z)), as softplus(-D(G(z)))."""
        fake, y, z = self._fake(ctx, self._real(batch)[0].shape[0])  # (B, C, H, W)
        loss_g = g_loss_logistic(ctx.models["D"](fake, *y))
        ctx.log(loss_g=loss_g)
        return tricks.generator_loss(ctx, loss_g, fake, z)  # + mode seeking when asked for

    def Greg(self, ctx: StepContext, batch: Any) -> torch.Tensor:
        """The path-length penalty on a batch shrunk by ``pl_batch_shrink``, times its weight."""
        penalty = self._path_length_penalty(ctx, max(1, self._real(batch)[0].shape[0] // self.config.pl_batch_shrink))
        ctx.log(pl_penalty=penalty, pl_mean=self.pl_mean)
        return penalty * self.config.pl_weight

    def Dmain(self, ctx: StepContext, batch: Any) -> torch.Tensor:
        """-log D(x) - log(1 - D(G(z))), as softplus terms; fakes drawn without G's graph."""
        D = ctx.models["D"]
        real, y_real = self._real(batch)
        with torch.no_grad():
            fake, y_fake, _ = self._fake(ctx, real.shape[0])  # (B, C, H, W)
        out_real, out_fake = (
            tricks.observe_real(ctx, D(real, *y_real)),
            D(fake, *y_fake),
        )  # (B,) logits; reals reach ADA
        loss_d = d_loss_logistic(out_real, out_fake, self.config.real_label)
        ctx.log(loss_d=loss_d, d_real=out_real.mean(), d_fake=out_fake.mean())
        return loss_d

    def Dreg(self, ctx: StepContext, batch: Any) -> torch.Tensor:
        """gamma/2 * E||grad_x D(x)||^2 on the real batch: the shared R1 term (logged as "r1")."""
        real, y_real = self._real(batch)
        _, r1 = tricks.score_real(ctx, real, *y_real, observe=False, scheduled=True)  # Dmain fed ADA; lazy here
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
            y = ctx.fake_labels(n) if self.config.num_classes else None  # (n,)
            ws = G.mapping(z, y=y)  # (n, num_ws, w_dim)
            if self.config.style_mixing > 0:
                ws = G.mix(ws, z, self.config.style_mixing, y)
            img = G.render(ws)  # (n, C, H, W)
            y = torch.randn_like(img) / math.sqrt(img.shape[2] * img.shape[3])
            (grad,) = torch.autograd.grad((img * y).sum(), ws, create_graph=True)  # (n, num_ws, w_dim)
            lengths = grad.square().sum(dim=2).mean(dim=1).sqrt()  # (n,)
            mean = self.pl_mean.to(lengths.device).lerp(lengths.mean(), self.config.pl_decay)
            self.pl_mean = mean.detach()
            return (lengths - mean).square().mean()
