"""The Fréchet distance between two Gaussians, the core of FID (Heusel et al. 2017).

    d^2 = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2))

The trace of the matrix square root is computed from eigenvalues of the symmetric positive
semi-definite matrix sqrt(S1) S2 sqrt(S1), which has the same eigenvalues as S1 S2. Unlike
scipy.linalg.sqrtm of the non-symmetric product S1 S2, this never goes complex and stays finite
when the covariances are singular (fewer samples than feature dimensions). Everything is float64.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["frechet_distance", "feature_stats", "frechet_from_features"]


def _as_float64(x: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().to("cpu", torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


def _psd_sqrt(sigma: np.ndarray) -> np.ndarray:
    """Symmetric square root of a (D, D) covariance; round-off negative eigenvalues become 0."""
    values, vectors = np.linalg.eigh((sigma + sigma.T) / 2)  # (D,), (D, D)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(mu1: np.ndarray | torch.Tensor, sigma1: np.ndarray | torch.Tensor,
                     mu2: np.ndarray | torch.Tensor, sigma2: np.ndarray | torch.Tensor) -> float:
    """Squared Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2); means (D,), covariances (D, D)."""
    mu1, mu2, sigma1, sigma2 = (_as_float64(a) for a in (mu1, mu2, sigma1, sigma2))
    d = mu1.shape[0] if mu1.ndim == 1 else -1
    if mu1.shape != (d,) or mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(f"expected means (D,) and covariances (D, D) of one D, got {mu1.shape}, "
                         f"{sigma1.shape}, {mu2.shape}, {sigma2.shape}")
    if not all(np.isfinite(a).all() for a in (mu1, mu2, sigma1, sigma2)):
        raise ValueError("means and covariances must be finite (a generator that outputs NaN has no Fréchet distance)")
    root1 = _psd_sqrt(sigma1)  # (D, D)
    product = root1 @ sigma2 @ root1  # (D, D) symmetric PSD, same spectrum as sigma1 @ sigma2
    eigenvalues = np.linalg.eigvalsh((product + product.T) / 2)  # (D,)
    trace_sqrt = np.sqrt(np.clip(eigenvalues, 0.0, None)).sum()
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt
    return float(max(value, 0.0))  # a true distance is >= 0; round-off can dip a hair below


def feature_stats(features: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and unbiased covariance (D, D) of features (N, D), N >= 2, in float64."""
    f = _as_float64(features)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"need features (N, D) with N >= 2 to estimate a covariance, got shape {f.shape}")
    if not np.isfinite(f).all():
        raise ValueError("features contain NaN or Inf; check the samples")
    return f.mean(axis=0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])


def frechet_from_features(f1: np.ndarray | torch.Tensor, f2: np.ndarray | torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to features f1 (N1, D) and f2 (N2, D)."""
    return frechet_distance(*feature_stats(f1), *feature_stats(f2))
