"""The image metrics' arithmetic, from features: torch-fidelity's where it has it, ganzoo's where it has none.

From torch-fidelity (so a ganzoo number equals ``torch_fidelity.calculate_metrics`` on the same images):
  FID (Heusel et al. 2017), KID (Bińkowski et al. 2018: unbiased MMD^2, cubic kernel, subsets),
  IS (Salimans et al. 2016: 10 splits of shuffled logits), precision/recall (Kynkäänniemi et al. 2019, k = 3).
Written here because torch-fidelity has none: density and coverage (Naeem et al. 2020, k = 5).
Every function takes features (N, D) as torch tensors; the generated set comes first.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

__all__ = [
    "stats",
    "fid_from_stats",
    "kid",
    "inception_score",
    "precision_recall",
    "density_coverage",
    "FewSamplesWarning",
]


class FewSamplesWarning(UserWarning):
    """Fewer samples than feature dimensions: the covariance is singular and FID mostly measures the count."""


def stats(features: torch.Tensor) -> dict[str, np.ndarray]:
    """{"mu": (D,), "sigma": (D, D)} as torch-fidelity computes them; warns when N <= D."""
    from torch_fidelity.metric_fid import fid_features_to_statistics

    _check(features, "features")
    n, d = features.shape
    if n < 2:
        raise ValueError(f"FID needs at least 2 samples to estimate a covariance, got {n}")
    if n <= d:
        warnings.warn(
            f"FID from {n:,} samples of {d}-d features: the covariance is singular and the value is dominated "
            f"by the sample count, not the generator (use well over {d:,} samples; papers use 10k-50k)",
            FewSamplesWarning,
            stacklevel=3,
        )
    return fid_features_to_statistics(features.detach().cpu().float())


def fid_from_stats(fake: dict[str, np.ndarray], real: dict[str, np.ndarray]) -> float:
    """The Fréchet distance of two {"mu", "sigma"} (torch-fidelity's formula); mixed dtypes meet in float64."""
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_statistics_to_metric

    if fake["mu"].shape != real["mu"].shape or fake["sigma"].shape != real["sigma"].shape:
        raise ValueError(
            f"statistics of different dimensions: {fake['mu'].shape[0]} and {real['mu'].shape[0]} "
            f"features; both must come from the same extractor layer"
        )
    if fake["mu"].dtype != real["mu"].dtype or fake["sigma"].dtype != real["sigma"].dtype:
        fake, real = (
            {k: np.asarray(v, np.float64) for k, v in s.items() if k in ("mu", "sigma")} for s in (fake, real)
        )
    value = float(fid_statistics_to_metric(fake, real, verbose=False)[KEY_METRIC_FID])
    if not np.isfinite(value):  # statistics so large that the arithmetic overflows
        raise ValueError("the Fréchet distance overflowed (statistics of values near 1e150 or more); check the inputs")
    return value


def kid(
    fake: torch.Tensor, real: torch.Tensor, *, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> dict[str, float]:
    """{"kid_mean", "kid_std"} over ``subsets`` random subsets of ``subset_size`` from each set."""
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

    _check(fake, "generated features"), _check(real, "reference features")
    for what, count in (("generated samples", fake.shape[0]), ("reference images", real.shape[0])):
        if subset_size > count:
            raise ValueError(
                f"kid subset_size {subset_size} is larger than the {count:,} {what}: use at least "
                f"{subset_size} or a smaller subset_size option"
            )
    out = kid_features_to_metric(
        fake.cpu(),
        real.cpu(),
        kid_subsets=subsets,
        kid_subset_size=subset_size,
        rng_seed=seed,
        verbose=False,
        kid_kernel="poly",
        kid_kernel_poly_degree=3,
        kid_kernel_poly_gamma=None,
        kid_kernel_poly_coef0=1,
    )
    return {"kid_mean": out[KEY_METRIC_KID_MEAN], "kid_std": out[KEY_METRIC_KID_STD]}


def inception_score(logits: torch.Tensor, *, splits: int = 10, seed: int = 0) -> dict[str, float]:
    """{"is_mean", "is_std"} over ``splits`` splits of the shuffled samples' logits (N, classes)."""
    from torch_fidelity.metric_isc import KEY_METRIC_ISC_MEAN, KEY_METRIC_ISC_STD, isc_features_to_metric

    _check(logits, "logits")
    if not 1 <= splits <= logits.shape[0]:
        raise ValueError(
            f"the Inception Score needs 1 <= splits <= samples, got {splits} splits of {logits.shape[0]:,}"
        )
    out = isc_features_to_metric(logits.cpu(), splits=splits, shuffle=True, rng_seed=seed)
    return {"is_mean": out[KEY_METRIC_ISC_MEAN], "is_std": out[KEY_METRIC_ISC_STD]}


def precision_recall(fake: torch.Tensor, real: torch.Tensor, *, k: int = 3) -> dict[str, float]:
    """{"precision", "recall", "f_score"} with k-NN manifolds (the generated set first, as torch-fidelity takes it)."""
    from torch_fidelity.metric_prc import prc_features_to_metric

    _check_knn(fake, real, k, "precision_recall")
    out = prc_features_to_metric(
        fake.cpu(), real.cpu(), prc_neighborhood=k, prc_batch_size=10_000, save_cpu_ram=True, verbose=False
    )
    return {"precision": out["precision"], "recall": out["recall"], "f_score": out["f_score"]}


def density_coverage(fake: torch.Tensor, real: torch.Tensor, *, k: int = 5, chunk: int = 1024) -> dict[str, float]:
    """Density and coverage (Naeem et al. 2020) from balls around the real features only.

    r_i is the distance from real point i to its k-th nearest other real point;
    density = 1/(kM) sum_j #{i : |fake_j - real_i| <= r_i} (can exceed 1 when samples crowd the real data);
    coverage = 1/N #{i : some fake_j lies within r_i of real_i}.
    """
    _check_knn(fake, real, k, "density_coverage")
    x, y = fake.double().cpu(), real.double().cpu()  # (M, D), (N, D)
    radii = torch.cat([torch.cdist(part, y).kthvalue(k + 1, dim=1).values for part in y.split(chunk)])  # (N,)
    hits = torch.zeros(y.shape[0], dtype=torch.float64)  # per real point: how many fakes fall in its ball
    for part in x.split(chunk):
        hits += (torch.cdist(part, y) <= radii[None, :]).sum(0).double()
    return {"density": float(hits.sum() / (k * x.shape[0])), "coverage": float((hits > 0).double().mean())}


def _check(features: torch.Tensor, what: str) -> None:
    if features.dim() != 2:
        raise ValueError(f"expected {what} (N, D), got shape {tuple(features.shape)}")
    if not torch.isfinite(features).all():
        blame = {"generated features": "check the samples", "reference features": "check the reference data"}.get(
            what, "check the images"
        )
        raise ValueError(f"{what} contain NaN or Inf; {blame}")


def _check_knn(fake: torch.Tensor, real: torch.Tensor, k: int, metric: str) -> None:
    _check(fake, "generated features"), _check(real, "reference features")
    if fake.shape[1] != real.shape[1]:
        raise ValueError(f"expected features (N1, D) and (N2, D), got {tuple(fake.shape)} and {tuple(real.shape)}")
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    for what, count in (("generated samples", fake.shape[0]), ("reference images", real.shape[0])):
        if count <= k:
            raise ValueError(f"{metric} with k={k} needs more than {k} {what}, got {count}")
