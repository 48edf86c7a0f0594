"""Improved precision and recall with k-NN manifolds (Kynkäänniemi et al. 2019).

Each feature set defines a manifold: the union of balls around its points, each ball reaching
the point's k-th nearest neighbour within the same set. Precision is the fraction of generated
samples inside the real manifold (sample quality); recall is the fraction of real samples inside
the generated manifold (coverage). A point on a ball's boundary counts as inside.
Distances are float64 and computed in chunks, so 10,000 x 10,000 sets never hold a full matrix.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["knn_radii", "inside_manifold", "precision_recall"]

CHUNK = 1024  # rows per block of the distance matrix


def _squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(m, d), (n, d) -> (m, n) squared Euclidean distances, clipped at 0 against round-off."""
    d2 = (a * a).sum(1, keepdim=True) + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return d2.clamp_(min=0.0)


def knn_radii(points: torch.Tensor, k: int) -> torch.Tensor:
    """(N, d) -> (N,) squared distance from each point to its k-th nearest other point."""
    if points.shape[0] <= k:
        raise ValueError(f"k-NN radii with k={k} need more than {k} points, got {points.shape[0]}")
    radii = []
    for start in range(0, points.shape[0], CHUNK):
        d2 = _squared_distances(points[start : start + CHUNK], points)  # (b, N)
        radii.append(d2.topk(k + 1, dim=1, largest=False).values[:, k])  # index 0 is the point itself
    return torch.cat(radii)


def inside_manifold(queries: torch.Tensor, points: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
    """(Q,) bool: whether each query (Q, d) lies within radii (N,) (squared) of some point (N, d)."""
    inside = []
    for start in range(0, queries.shape[0], CHUNK):
        d2 = _squared_distances(queries[start : start + CHUNK], points)  # (b, N)
        inside.append((d2 <= radii[None, :]).any(dim=1))
    return torch.cat(inside)


def precision_recall(generated: torch.Tensor | np.ndarray, real: torch.Tensor | np.ndarray, *,
                     k: int = 3) -> dict[str, float]:
    """{"precision", "recall"} of generated features (N1, D) against real features (N2, D)."""
    fake = torch.as_tensor(generated).detach().to("cpu", torch.float64)  # (N1, D)
    true = torch.as_tensor(real).detach().to("cpu", torch.float64)  # (N2, D)
    if fake.dim() != 2 or true.dim() != 2 or fake.shape[1] != true.shape[1]:
        raise ValueError(f"expected features (N1, D) and (N2, D), got {tuple(fake.shape)} and {tuple(true.shape)}")
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    for what, count in (("generated samples", fake.shape[0]), ("reference images", true.shape[0])):
        if count <= k:
            raise ValueError(f"precision/recall with k={k} needs more than {k} {what}, got {count}")
    if not (torch.isfinite(fake).all() and torch.isfinite(true).all()):
        raise ValueError("features contain NaN or Inf; check the samples")
    precision = inside_manifold(fake, true, knn_radii(true, k)).double().mean()
    recall = inside_manifold(true, fake, knn_radii(fake, k)).double().mean()
    return {"precision": float(precision), "recall": float(recall)}
