"""Mode coverage on 2D Gaussian mixtures, as measured by VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018).

A sample is high quality (HQ) when it lies within hq_sigmas standard deviations (Euclidean
distance) of its nearest mode centre; a mode is covered when at least one HQ sample has it as
nearest centre. The protocol scores 2,500 generated samples per run; the caller draws them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["mode_coverage"]


def mode_coverage(
    samples: torch.Tensor | np.ndarray, means: torch.Tensor | np.ndarray, std: float, *, hq_sigmas: float = 3.0
) -> dict[str, Any]:
    """Score samples (N, D) against mode centres means (K, D) of per-coordinate std.

    Returns {"modes": covered modes, "num_modes": K, "hq_fraction": HQ samples / N,
    "per_mode": HQ samples nearest to each mode (K ints)}. Non-finite samples count as not HQ.
    """
    x = torch.as_tensor(np.asarray(samples) if not isinstance(samples, torch.Tensor) else samples)
    m = torch.as_tensor(np.asarray(means) if not isinstance(means, torch.Tensor) else means)
    x = x.detach().to("cpu", torch.float64)
    m = m.detach().to("cpu", torch.float64)
    if x.dim() != 2 or m.dim() != 2 or x.shape[1] != m.shape[1]:
        raise ValueError(f"expected samples (N, D) and means (K, D), got {tuple(x.shape)} and {tuple(m.shape)}")
    if x.shape[0] == 0 or m.shape[0] == 0:
        raise ValueError("mode_coverage needs at least one sample and one mode")
    if not std > 0:
        raise ValueError(f"std must be positive, got {std}")
    limit = (hq_sigmas * std) ** 2  # compare squared distances: exact at the boundary
    per_mode = torch.zeros(m.shape[0], dtype=torch.int64)
    for start in range(0, x.shape[0], 65536):
        chunk = x[start : start + 65536]  # (b, D)
        d2 = ((chunk[:, None, :] - m[None, :, :]) ** 2).sum(dim=-1)  # (b, K)
        nearest_d2, nearest = d2.min(dim=1)  # (b,), (b,)
        hq = nearest_d2 <= limit  # NaN compares False
        per_mode += torch.bincount(nearest[hq], minlength=m.shape[0])
    return {
        "modes": int((per_mode > 0).sum()),
        "num_modes": int(m.shape[0]),
        "hq_fraction": float(per_mode.sum()) / x.shape[0],
        "per_mode": per_mode.tolist(),
    }
