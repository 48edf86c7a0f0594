"""The BigGAN step: n_dis D updates, each on its own real batch, then one G update; hinge loss
(or the non-saturating one),
orthogonal regularisation of G's weights (the paper's beta ||W W^T * (1 - I)||_F^2, W one row per
output unit, the shared class embedding left out as in the reference code).

Fakes take labels drawn uniformly over the classes (ctx.fake_labels); D scores every image with
the label it came with. EMA of G and standing statistics are the engine's (--ema).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ganzoo import tricks
from ganzoo.engine import Step, StepContext, adam_per_network
from ganzoo.losses import adversarial_losses

from .config import BigGANConfig


def orthogonal_penalty(G: nn.Module) -> torch.Tensor:
    """Sum of ||W W^T * (1 - I)||^2 over G's weight matrices (convs as rows; the shared embedding excluded)."""
    total = torch.zeros((), device=next(G.parameters()).device)
    for name, p in G.named_parameters():
        if p.dim() < 2 or name.startswith("shared."):
            continue
        w = p.flatten(1)  # (out, in * k * k)
        gram = w @ w.t()  # (out, out)
        total = total + (gram - torch.diag_embed(gram.diagonal())).pow(2).sum()
    return total


class BigGANStep(Step):
    def __init__(self, config: BigGANConfig):
        super().__init__(config)
        self.loss_d, self.loss_g = adversarial_losses(config.loss, config.real_label)

    def optimizers(self, nets):
        return adam_per_network(nets, ("D", "G"), self.config)  # lr for G, lr_d for D

    def __call__(self, ctx: StepContext, batch: Any) -> None:
        D, c = ctx.models["D"], self.config
        for i in range(c.n_dis):
            real, y_real = batch if i == 0 else ctx.next_batch()  # each D update sees new data
            with torch.no_grad():
                fake, y_fake, _ = ctx.generate(real.shape[0])
            out_real, r1 = tricks.score_real(ctx, real, y_real)  # R1 when asked for
            out_fake = D(fake, y_fake)
            loss_d = self.loss_d(out_real, out_fake)
            ctx.backward(loss_d if r1 is None else loss_d + r1)
            ctx.step("D")
        with ctx.frozen("D"):  # D gives input gradients only
            fake, y_fake, z = ctx.generate(real.shape[0])
            loss_g = self.loss_g(D(fake, y_fake))
            ortho = orthogonal_penalty(ctx.raw_models["G"]) if c.ortho > 0 else None
            total = tricks.generator_loss(ctx, loss_g, fake, z)  # + mode seeking when asked for
            ctx.backward(total if ortho is None else total + c.ortho * ortho)
        ctx.step("G")
        extra = {"ortho": ortho} if ortho is not None else {}
        ctx.log(loss_d=loss_d, loss_g=loss_g, d_real=out_real.mean(), d_fake=out_fake.mean(), **extra)
