"""The StyleGAN2 step: G's and D's non-saturating logistic losses, with lazy regularisation.

Per iteration, in the official order: G's update (style mixing on), every ``pl_interval`` steps
an extra G update on the path-length penalty, D's update, every ``r1_interval`` steps an extra D
update on the R1 penalty. Each lazy penalty is weighted by its interval, and Adam's rate and betas
are corrected for the extra updates (the paper's "lazy regularisation"). The iteration counter
that decides when the penalties run is the engine's (in every checkpoint); the running mean path
length is this step's own state, saved with it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ganzoo.augment import diff_augment
from ganzoo.engine import Step, StepContext
from ganzoo.losses import r1_penalty

from .config import StyleGAN2Config


class StyleGAN2Step(Step):
    def __init__(self, config: StyleGAN2Config):
        super().__init__(config)
        policy = config.augment
        self.view = (lambda x: diff_augment(x, policy)) if policy else (lambda x: x)  # what D sees of an image
        self.pl_mean = torch.zeros([])  # running mean of the path lengths

    def optimizers(self, nets):
        c = self.config

        def adam(name: str, interval: int, regularised: bool) -> torch.optim.Optimizer:
            ratio = interval / (interval + 1) if regularised else 1.0  # lazy regularisation's correction
            rate = c.lr_d if name == "D" and c.lr_d > 0 else c.lr  # lr_d: two time-scale updates
            return torch.optim.Adam(nets[name].parameters(), lr=rate * ratio,
                                    betas=tuple(b ** ratio for b in c.betas), eps=1e-8)

        return {"G": adam("G", c.pl_interval, c.pl_weight > 0), "D": adam("D", c.r1_interval, c.r1_gamma > 0)}

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

    def __call__(self, ctx: StepContext, real: torch.Tensor) -> None:
        G, D = ctx.models["G"], ctx.models["D"]
        c, b, it = self.config, real.shape[0], ctx.iteration

        with ctx.frozen("D"):  # G's update: D gives input gradients only
            loss_g = F.softplus(-D(self.view(G(ctx.noise(b), mixing=c.style_mixing)))).mean()
            ctx.backward(loss_g)
        ctx.step("G")
        if c.pl_weight > 0 and it % c.pl_interval == 0:
            penalty = self._path_length_penalty(ctx, max(1, b // c.pl_batch_shrink))
            ctx.backward(penalty * (c.pl_weight * c.pl_interval))
            ctx.step("G")
            ctx.log(pl_penalty=penalty, pl_mean=self.pl_mean)

        with torch.no_grad():
            fake = G(ctx.noise(b), mixing=c.style_mixing)  # (B, C, H, W)
        out_real, out_fake = D(self.view(real)), D(self.view(fake))  # (B,) logits
        loss_d = F.softplus(out_fake).mean() + F.softplus(-out_real).mean()
        ctx.backward(loss_d)
        ctx.step("D")
        if c.r1_gamma > 0 and it % c.r1_interval == 0:
            raw_d = ctx.raw_models["D"]  # double backward needs the eager module
            _, r1 = r1_penalty(lambda x: raw_d(self.view(x)), real)
            ctx.backward(r1 * (c.r1_gamma / 2 * c.r1_interval))
            ctx.step("D")
            ctx.log(r1=r1)
        ctx.log(loss_d=loss_d, loss_g=loss_g, d_real=out_real.mean(), d_fake=out_fake.mean())

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
