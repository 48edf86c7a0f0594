"""The built-in metrics' compute functions, registered by the core plugin as MetricSpec entries.

Every compute function has one signature, so evaluate() and third-party metrics fit together:

    compute(samples, reference, *, extractor=None, seed=0, **options) -> dict[str, float]

samples: generated (N, C, H, W) images in [-1, 1] or (N, D) points. reference: the real data, a
tensor or the data set (points data sets carry their mixture's means and std). extractor: what
maps images to features: a FeatureExtractor, a CachedExtractor, a spec string, or None for
"inception". Options are keyword-only with defaults, so evaluate() can write the ones in force
into the protocol. The first key of the returned dict is the metric's headline number.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import Dataset

from .features import MNIST_SPEC

__all__ = [
    "fid",
    "kid",
    "inception_score",
    "precision_recall",
    "density_coverage",
    "intra_fid",
    "mnist_digits",
    "modes",
    "as_images",
    "reference_labels",
]


def as_images(reference: torch.Tensor | Dataset, *, limit: int | None = None, seed: int = 0) -> torch.Tensor:
    """Reference images as one (N, C, H, W) tensor; more than ``limit`` become a seeded random subset."""
    if isinstance(reference, torch.Tensor):
        images, count = reference, reference.shape[0]
    else:
        images, count = getattr(reference, "tensor", None), len(reference)
    pick = None
    if limit is not None and count > limit:
        pick = torch.randperm(count, generator=torch.Generator().manual_seed(seed))[:limit].sort().values
    if images is None:  # a lazily read data set (a folder, torchvision): read only what is used
        indices = pick.tolist() if pick is not None else range(count)
        images = torch.stack([reference[i] for i in indices]) if count else torch.empty(0)
    elif pick is not None:
        images = images[pick]
    if images.dim() != 4:
        raise ValueError(f"expected reference images (N, C, H, W), got shape {tuple(images.shape)}")
    return images.float()


def reference_labels(
    reference: Dataset, *, limit: int | None = None, seed: int = 0
) -> tuple[torch.Tensor, list[str] | None] | None:
    """The labels (N,) and class names of the images as_images() returns for the same arguments; None
    when the data set has no labels."""
    labels = getattr(reference, "labels", None)
    if labels is None:
        return None
    count = len(reference)
    if limit is not None and count > limit:  # the same seeded pick as as_images
        labels = labels[torch.randperm(count, generator=torch.Generator().manual_seed(seed))[:limit].sort().values]
    return labels, getattr(reference, "classes", None)


def _cached(extractor: Any) -> Any:
    """A CachedExtractor for whatever the caller gave: one already, an extractor, a spec string or None."""
    from .features import CachedExtractor, FeatureExtractor

    if isinstance(extractor, CachedExtractor):
        return extractor
    cached = CachedExtractor(extractor.spec if isinstance(extractor, FeatureExtractor) else (extractor or "inception"))
    if isinstance(extractor, FeatureExtractor):
        cached._extractor = extractor
    return cached


def _check_images(samples: torch.Tensor, metric: str) -> None:
    if samples.dim() != 4:
        raise ValueError(f"metric {metric!r} needs images (N, C, H, W), got samples of shape {tuple(samples.shape)}")


def _check_counts(metric: str, samples: torch.Tensor, real: torch.Tensor, least: int, option: str) -> None:
    """Say so before any feature pass when a set is too small for the metric's options."""
    for what, count in (("generated samples", samples.shape[0]), ("reference images", real.shape[0])):
        if 0 < count < least or (count == 0 and what == "generated samples"):
            raise ValueError(
                f"{metric} needs at least {least} {what} ({option}), got {count}: draw more "
                f"(num_samples / num_reference) or lower {option.split(' ')[0]}"
            )


def fid(
    samples: torch.Tensor, reference: torch.Tensor | Dataset, *, extractor: Any = None, seed: int = 0
) -> dict[str, float | int]:
    """Fréchet Inception Distance (Heusel et al. 2017), torch-fidelity's formula; the reference's statistics
    may come from a published file."""
    from .fidelity import fid_from_stats

    _check_images(samples, "fid")
    fx = _cached(extractor)
    return {"fid": fid_from_stats(fx.stats(samples), fx.stats(as_images(reference)))}


def kid(
    samples: torch.Tensor,
    reference: torch.Tensor | Dataset,
    *,
    extractor: Any = None,
    seed: int = 0,
    n_subsets: int = 100,
    subset_size: int = 1000,
) -> dict[str, float | int]:
    """Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD^2, cubic kernel, mean over subsets."""
    from .fidelity import kid as score

    _check_images(samples, "kid")
    fx, real = _cached(extractor), as_images(reference)
    _check_counts("kid", samples, real, subset_size, f"subset_size {subset_size}")
    return score(fx(samples), fx(real), subsets=n_subsets, subset_size=subset_size, seed=seed)


def inception_score(
    samples: torch.Tensor, reference: Any = None, *, extractor: Any = None, seed: int = 0, splits: int = 10
) -> dict[str, float | int]:
    """Inception Score (Salimans et al. 2016) of the samples alone, from the FID Inception's logits."""
    from .features import INCEPTION_SPEC
    from .fidelity import inception_score as score

    _check_images(samples, "is")
    fx = _cached(extractor)
    if fx.spec != INCEPTION_SPEC:
        raise ValueError(
            f"metric 'is' is defined on the FID Inception's 1,008 ImageNet classes: use --features "
            f"inception, not {fx.spec}"
        )
    return score(fx.extract(samples)["logits_unbiased"], splits=splits, seed=seed)


def precision_recall(
    samples: torch.Tensor, reference: torch.Tensor | Dataset, *, extractor: Any = None, seed: int = 0, k: int = 3
) -> dict[str, float | int]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) with k-NN manifolds in feature space."""
    from .fidelity import precision_recall as score

    _check_images(samples, "precision_recall")
    fx, real = _cached(extractor), as_images(reference)
    _check_counts("precision_recall", samples, real, k + 1, f"k {k} + 1")
    return score(fx(samples), fx(real), k=k)


def density_coverage(
    samples: torch.Tensor, reference: torch.Tensor | Dataset, *, extractor: Any = None, seed: int = 0, k: int = 5
) -> dict[str, float | int]:
    """Density and coverage (Naeem et al. 2020): how crowded, and how much of the real data, the samples are."""
    from .fidelity import density_coverage as score

    _check_images(samples, "density_coverage")
    fx, real = _cached(extractor), as_images(reference)
    _check_counts("density_coverage", samples, real, k + 1, f"k {k} + 1")
    return score(fx(samples), fx(real), k=k)


def intra_fid(
    samples: torch.Tensor,
    reference: torch.Tensor | Dataset,
    *,
    extractor: Any = None,
    seed: int = 0,
    sample_labels: torch.Tensor | None = None,
    reference_labels: torch.Tensor | None = None,
) -> dict[str, float | int]:
    """FID within each class (Miyato and Koyama 2018), of a conditional model against a labelled reference:
    the mean over classes, the worst class, and how many classes were scored."""
    from .fidelity import fid_from_stats, stats

    _check_images(samples, "intra_fid")
    if sample_labels is None:
        raise ValueError("intra_fid scores a class-conditional model: this one takes no labels")
    if reference_labels is None:
        raise ValueError(
            "intra_fid needs a labelled reference set (mnist-5k, cifar10:ROOT, an ImageFolder layout, "
            "hf: with a label column)"
        )
    fx, real = _cached(extractor), as_images(reference)
    fake_features, real_features = fx(samples), fx(real)  # (N, D), (M, D): one pass each, shared with fid
    values = []
    for c in sorted(set(sample_labels.tolist())):
        mine, theirs = sample_labels == c, reference_labels == c
        if int(theirs.sum()) < 2 or int(mine.sum()) < 2:
            raise ValueError(
                f"intra_fid: class {c} has {int(mine.sum())} samples and {int(theirs.sum())} reference "
                f"images; each class needs at least 2 of both (draw more)"
            )
        values.append(fid_from_stats(stats(fake_features[mine]), stats(real_features[theirs])))
    return {
        "intra_fid": float(sum(values) / len(values)),
        "intra_fid_worst": float(max(values)),
        "classes": len(values),
    }


def mnist_digits(
    samples: torch.Tensor,
    reference: torch.Tensor | Dataset,
    *,
    extractor: Any = None,
    seed: int = 0,
    confidence: float = 0.9,
    labels: torch.Tensor | None = None,
) -> dict[str, float | int]:
    """Scores from the bundled MNIST classifier; ``extractor`` is not used (it has its own network).

    mnist_fd: Fréchet distance between samples and reference in the classifier's 128-d features.
    recognisable: fraction of samples whose top class is a digit with probability >= confidence.
    min_class_fraction: share of samples of the rarest predicted digit (0.1 when balanced and none rejected).
    classes_covered: digits predicted for at least half their fair share (5%) of the samples.
    rejected: fraction of samples whose top class is "not a digit" (they count for no digit).
    With ``labels`` (the digit each sample was asked for, from a conditional model), also
    requested: fraction of samples judged to be the digit asked for, with probability >= confidence;
    min_requested: the same for the worst-drawn digit.
    """
    from .classifier import digit_scores
    from .fidelity import fid_from_stats

    _check_images(samples, "mnist_digits")
    scores = digit_scores(samples, confidence=confidence)
    mnist = _cached(extractor) if getattr(extractor, "spec", None) == MNIST_SPEC else _judge_features(extractor)
    distance = fid_from_stats(mnist.stats(samples), mnist.stats(as_images(reference)))
    return {
        "mnist_fd": distance,
        "recognisable": scores["recognisable"],
        "min_class_fraction": scores["min_class_fraction"],
        "classes_covered": sum(f >= 0.05 for f in scores["class_fractions"]),
        "rejected": scores["rejected"],
        **(_requested(samples, labels, confidence) if labels is not None else {}),
    }


def _judge_features(extractor: Any) -> Any:
    """A CachedExtractor of the judge's features on evaluate()'s device, sharing its reference (and so its cache)."""
    from .features import CachedExtractor

    mnist = CachedExtractor(
        MNIST_SPEC, batch_size=getattr(extractor, "batch_size", 64), device=getattr(extractor, "device", None)
    )
    mnist.reference = getattr(extractor, "reference", None)
    return mnist


def _requested(samples: torch.Tensor, labels: torch.Tensor, confidence: float) -> dict[str, float]:
    from .classifier import requested_digit_scores

    scores = requested_digit_scores(samples, labels, confidence=confidence)
    return {"requested": scores["requested"], "min_requested": scores["min_requested"]}


def modes(
    samples: torch.Tensor, reference: Any, *, extractor: Any = None, seed: int = 0, hq_sigmas: float = 3.0
) -> dict[str, float | int]:
    """Mode coverage of a 2D Gaussian mixture (VEEGAN/PacGAN protocol); reference carries .means, .std."""
    from .modes import mode_coverage

    if samples.dim() != 2:
        raise ValueError(f"metric 'modes' needs points (N, D), got samples of shape {tuple(samples.shape)}")
    means, std = getattr(reference, "means", None), getattr(reference, "std", None)
    if means is None or std is None:
        raise ValueError("metric 'modes' needs a Gaussian-mixture data set that knows its modes (ring8, grid25)")
    result = mode_coverage(samples, means, std, hq_sigmas=hq_sigmas)
    return {"modes": result["modes"], "num_modes": result["num_modes"], "hq_fraction": result["hq_fraction"]}
