"""The least-squares GAN losses (Mao et al. 2017, eq. 2) on raw discriminator scores."""

import torch


def d_loss_ls(real_scores: torch.Tensor, fake_scores: torch.Tensor, a: float, b: float) -> torch.Tensor:
    """1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2]: D regresses real to b, generated to a."""
    return 0.5 * (real_scores - b).pow(2).mean() + 0.5 * (fake_scores - a).pow(2).mean()


def g_loss_ls(fake_scores: torch.Tensor, c: float) -> torch.Tensor:
    """1/2 E[(D(G(z)) - c)^2]: G wants D to say c of its images."""
    return 0.5 * (fake_scores - c).pow(2).mean()
