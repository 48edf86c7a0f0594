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

from typing import Any, Callable

import torch
from torch.utils.data import Dataset

from .features import load_extractor

__all__ = ["fid", "kid", "precision_recall", "mnist_digits", "modes", "as_images"]

Extractor = Callable[[torch.Tensor], torch.Tensor]  # images (N, C, H, W) -> features (N, D)


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


def _features(extractor: Extractor | str | None, images: torch.Tensor) -> torch.Tensor:
    if extractor is None or isinstance(extractor, str):
        extractor = load_extractor(extractor or "inception")
    return extractor(images)  # (N, D)


def _check_images(samples: torch.Tensor, metric: str) -> None:
    if samples.dim() != 4:
        raise ValueError(f"metric {metric!r} needs images (N, C, H, W), got samples of shape {tuple(samples.shape)}")


def fid(samples: torch.Tensor, reference: torch.Tensor | Dataset, *, extractor: Extractor | str | None = None,
        seed: int = 0) -> dict[str, float | int]:
    """Fréchet Inception Distance (Heusel et al. 2017): Fréchet distance of Gaussians fitted to features."""
    from .frechet import frechet_from_features

    _check_images(samples, "fid")
    return {"fid": frechet_from_features(_features(extractor, samples), _features(extractor, as_images(reference)))}


def kid(samples: torch.Tensor, reference: torch.Tensor | Dataset, *, extractor: Extractor | str | None = None,
        seed: int = 0, n_subsets: int = 100, subset_size: int = 1000) -> dict[str, float | int]:
    """Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD^2, cubic kernel, mean over subsets."""
    from .kid import kernel_inception_distance

    _check_images(samples, "kid")
    fake, real = samples, as_images(reference)
    for what, count in (("generated samples", fake.shape[0]), ("reference images", real.shape[0])):
        if subset_size > count:  # say so before spending time on features
            raise ValueError(f"kid subset_size {subset_size} is larger than the {count} {what}: use "
                             f"num_samples >= {subset_size} or a smaller subset_size option")
    return kernel_inception_distance(_features(extractor, fake), _features(extractor, real),
                                     n_subsets=n_subsets, subset_size=subset_size, seed=seed)


def precision_recall(samples: torch.Tensor, reference: torch.Tensor | Dataset, *,
                     extractor: Extractor | str | None = None, seed: int = 0, k: int = 3) -> dict[str, float | int]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) with k-NN manifolds in feature space."""
    from .precision_recall import precision_recall as score

    _check_images(samples, "precision_recall")
    fake, real = samples, as_images(reference)
    for what, count in (("generated samples", fake.shape[0]), ("reference images", real.shape[0])):
        if count <= k:
            raise ValueError(f"precision_recall with k={k} needs more than {k} {what}, got {count}")
    return score(_features(extractor, fake), _features(extractor, real), k=k)


def mnist_digits(samples: torch.Tensor, reference: torch.Tensor | Dataset, *,
                 extractor: Extractor | str | None = None, seed: int = 0,
                 confidence: float = 0.9, labels: torch.Tensor | None = None) -> dict[str, float | int]:
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
    from .frechet import frechet_from_features

    _check_images(samples, "mnist_digits")
    scores = digit_scores(samples, confidence=confidence)
    mnist = load_extractor("mnist-classifier")
    distance = frechet_from_features(mnist(samples), mnist(as_images(reference)))
    return {
        "mnist_fd": distance,
        "recognisable": scores["recognisable"],
        "min_class_fraction": scores["min_class_fraction"],
        "classes_covered": sum(f >= 0.05 for f in scores["class_fractions"]),
        "rejected": scores["rejected"],
        **(_requested(samples, labels, confidence) if labels is not None else {}),
    }


def _requested(samples: torch.Tensor, labels: torch.Tensor, confidence: float) -> dict[str, float]:
    from .classifier import requested_digit_scores

    scores = requested_digit_scores(samples, labels, confidence=confidence)
    return {"requested": scores["requested"], "min_requested": scores["min_requested"]}


def modes(samples: torch.Tensor, reference: Any, *, extractor: Any = None, seed: int = 0,
          hq_sigmas: float = 3.0) -> dict[str, float | int]:
    """Mode coverage of a 2D Gaussian mixture (VEEGAN/PacGAN protocol); reference carries .means, .std."""
    from .modes import mode_coverage

    if samples.dim() != 2:
        raise ValueError(f"metric 'modes' needs points (N, D), got samples of shape {tuple(samples.shape)}")
    means, std = getattr(reference, "means", None), getattr(reference, "std", None)
    if means is None or std is None:
        raise ValueError("metric 'modes' needs a Gaussian-mixture data set that knows its modes (ring8, grid25)")
    result = mode_coverage(samples, means, std, hq_sigmas=hq_sigmas)
    return {"modes": result["modes"], "num_modes": result["num_modes"], "hq_fraction": result["hq_fraction"]}
