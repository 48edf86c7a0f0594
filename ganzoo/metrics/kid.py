"""Kernel Inception Distance, KID (Bińkowski et al. 2018, "Demystifying MMD GANs").

KID is the squared maximum mean discrepancy between two feature sets under the cubic polynomial
kernel k(x, y) = (x.y / d + 1)^3, with the unbiased estimator (diagonal kernel terms left out).
Unlike FID it has an unbiased estimator, so values from different sample counts are comparable.
As in the paper, it is averaged over ``n_subsets`` random subsets of ``subset_size`` from each
set (drawn without replacement within a subset); the spread over subsets is reported as kid_std
(population standard deviation, as the paper's code computes it). Values may be slightly
negative when the two sets match: the estimator is unbiased, not clipped.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["polynomial_kernel", "mmd2_unbiased", "kernel_inception_distance"]


def polynomial_kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """k(x, y) = (x.y / d + 1)^3 for rows x (m, d) and y (n, d) -> (m, n)."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor) -> float:
    """Unbiased MMD^2 between samples x (m, d) and y (n, d), m, n >= 2, polynomial kernel."""
    m, n = x.shape[0], y.shape[0]
    k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    within_x = (k_xx.sum() - k_xx.diagonal().sum()) / (m * (m - 1))  # mean over i != j
    within_y = (k_yy.sum() - k_yy.diagonal().sum()) / (n * (n - 1))
    return float(within_x + within_y - 2.0 * k_xy.mean())


def kernel_inception_distance(generated: torch.Tensor | np.ndarray, real: torch.Tensor | np.ndarray, *,
                              n_subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> dict[str, float]:
    """KID between features generated (N1, D) and real (N2, D): {"kid_mean", "kid_std"} over subsets."""
    x = torch.as_tensor(generated).detach().to("cpu", torch.float64)  # (N1, D)
    y = torch.as_tensor(real).detach().to("cpu", torch.float64)  # (N2, D)
    if x.dim() != 2 or y.dim() != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"expected features (N1, D) and (N2, D), got {tuple(x.shape)} and {tuple(y.shape)}")
    if n_subsets < 1 or subset_size < 2:
        raise ValueError(f"kid needs n_subsets >= 1 and subset_size >= 2, got {n_subsets} and {subset_size}")
    for what, count in (("generated samples", x.shape[0]), ("reference images", y.shape[0])):
        if subset_size > count:
            raise ValueError(f"kid subset_size {subset_size} is larger than the {count} {what}: draw at "
                             f"least {subset_size} (num_samples) or pass a smaller subset_size")
    if not (torch.isfinite(x).all() and torch.isfinite(y).all()):
        raise ValueError("features contain NaN or Inf; check the samples")
    rng = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(n_subsets):
        pick_x = torch.randperm(x.shape[0], generator=rng)[:subset_size]  # (s,)
        pick_y = torch.randperm(y.shape[0], generator=rng)[:subset_size]  # (s,)
        values.append(mmd2_unbiased(x[pick_x], y[pick_y]))
    return {"kid_mean": float(np.mean(values)), "kid_std": float(np.std(values))}
