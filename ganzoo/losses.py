"""GAN losses on discriminator logits, shared by the variants that use them."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F


def bce_real(logits: torch.Tensor, real_label: float = 1.0) -> torch.Tensor:
    """-log D(x): cross-entropy of logits against the "real" target; ``real_label`` < 1 smooths it."""
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, real_label))


def bce_fake(logits: torch.Tensor) -> torch.Tensor:
    """-log(1 - D(G(z))): cross-entropy of logits against the "fake" target 0."""
    return F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits))


def d_loss_bce(real_logits: torch.Tensor, fake_logits: torch.Tensor, real_label: float = 1.0) -> torch.Tensor:
    """-log D(x) - log(1 - D(G(z))): the discriminator's side of the original minimax game.

    ``real_label`` < 1 is one-sided label smoothing: the target for real data only. A step that
    backpropagates the real and fake halves apart (DCGAN) uses bce_real and bce_fake, the same terms.
    """
    return bce_real(real_logits, real_label) + bce_fake(fake_logits)


def g_loss_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(G(z)): strong gradients early in training, when D rejects fakes easily."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def d_loss_logistic(real_logits: torch.Tensor, fake_logits: torch.Tensor, real_label: float = 1.0) -> torch.Tensor:
    """softplus(D(G(z))) + softplus(-D(x)): d_loss_bce as StyleGAN2 writes it; ``real_label`` < 1 smooths it."""
    if real_label != 1:
        return d_loss_bce(real_logits, fake_logits, real_label)
    return F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()


def g_loss_logistic(fake_logits: torch.Tensor) -> torch.Tensor:
    """softplus(-D(G(z))): the non-saturating loss as StyleGAN2 writes it."""
    return F.softplus(-fake_logits).mean()


def ls_real(scores: torch.Tensor) -> torch.Tensor:
    """E[(D(x) - 1)^2]: the least-squares loss (LSGAN, Mao et al. 2017) of scores against the "real" target 1."""
    return F.mse_loss(scores, torch.ones_like(scores))


def ls_fake(scores: torch.Tensor) -> torch.Tensor:
    """E[D(G(z))^2]: the least-squares loss of scores against the "fake" target 0."""
    return F.mse_loss(scores, torch.zeros_like(scores))


def d_loss_ls(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """E[(D(x) - 1)^2] + E[D(G(z))^2]: D's least-squares loss in the 0-1 coding (CycleGAN, pix2pix's lsgan)."""
    return ls_real(real_scores) + ls_fake(fake_scores)


def g_loss_ls(fake_scores: torch.Tensor) -> torch.Tensor:
    """E[(D(G(z)) - 1)^2]: G's least-squares loss, which wants D to call its samples real."""
    return ls_real(fake_scores)


def g_loss_minimax(fake_logits: torch.Tensor) -> torch.Tensor:
    """log(1 - D(G(z))) = -softplus(logit): the game's value as the paper states it; saturates early."""
    return -F.softplus(fake_logits).mean()


def d_loss_hinge(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]: D stops pushing a sample once it is past the margin."""
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def g_loss_hinge(fake_logits: torch.Tensor) -> torch.Tensor:
    """-E[D(G(z))]: the generator's side of the hinge loss (SN-GAN, SAGAN, BigGAN)."""
    return -fake_logits.mean()


def adversarial_losses(name: str, real_label: float = 1.0) -> tuple[Callable, Callable]:
    """(D's loss, G's loss) on logits for a config's ``loss``: "hinge" (SN-GAN, BigGAN) or "non-saturating"
    (the BCE of the original game, G's side -log D(G(z)); ``real_label`` < 1 smooths D's real target)."""
    if name == "hinge":
        return d_loss_hinge, g_loss_hinge
    if name == "non-saturating":
        return partial(d_loss_bce, real_label=real_label), g_loss_nonsaturating
    raise ValueError(f"loss must be 'hinge' or 'non-saturating', got {name!r}")


def gradient_penalty(critic: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """E[(||grad_x critic(x_hat)||_2 - 1)^2] on random interpolates x_hat of real and fake.

    The norm is taken per sample over ALL of its dimensions (C, H, W together), as the paper
    defines it; a norm over one axis only (per channel, say) penalises something else. Runs in
    fp32 and eager mode: double backward through compiled or half-precision graphs is fragile.
    """
    with torch.autocast(real.device.type, enabled=False):
        real, fake = real.detach().float(), fake.detach().float()
        eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device)  # (B, 1, 1, 1)
        x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
        scores = critic(x_hat)
        (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
        return (grad.flatten(1).norm(2, dim=1) - 1).pow(2).mean()


def r1_penalty(critic: torch.nn.Module, real: torch.Tensor, *args: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits on real, E[||grad_x D(x)||^2]) for R1 regularisation (Mescheder et al. 2018).

    The penalty keeps D flat on the real data, which damps the oscillation of plain GAN
    training near its equilibrium. Like gradient_penalty it runs in fp32 and eager mode.
    """
    with torch.autocast(real.device.type, enabled=False):
        x = real.detach().float().requires_grad_(True)
        logits = critic(x, *args)  # (B,); args: a conditional D's labels
        (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
        return logits, grad.flatten(1).pow(2).sum(dim=1).mean()
