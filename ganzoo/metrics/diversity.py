"""Variety within each class of a conditional generator, in the bundled digit judge's feature space.

A conditional bar that only asks "is each sample the digit asked for" is met by one prototype per
class. These numbers are what such a generator fails:

- spread: per class, the root-mean-square distance of the judge's 128-d features to the class mean;
  ``spread_ratio`` is the generated samples' spread over real digits' spread of the same class,
  averaged over the classes (``spread_ratio_min``: the narrowest class). Real digits score about 1,
  one prototype per class 0. The conditional bar asks ``spread_ratio`` >= 0.9.
- intra_fd: per class, the Fréchet distance between generated and real judge features, averaged over
  the classes (``intra_fd_worst``: the worst class), reported beside real-vs-real
  (``real_intra_fd_reference``: held-out real digits against the training digits, the same way). A
  Fréchet distance from a few dozen samples of 128-d features is dominated by the sample count, so
  each class's generated samples are cut to as many as real-vs-real has of that class (about 50):
  both then carry the same bias and compare, though neither is an FID on its own.

The real digits are mnist-5k's 4,500 training digits; the held-out 500 are the real-vs-real check.
"""

from __future__ import annotations

import functools

import torch

from . import SPREAD_BAR as SPREAD_BAR  # the bar lives torch-free in ganzoo.metrics, for the cards


def class_spread(features: torch.Tensor, labels: torch.Tensor) -> dict[int, float]:
    """{class: RMS distance of its rows of ``features`` (N, D) to their mean}, for each class in ``labels`` (N,)."""
    out = {}
    for c in sorted(set(labels.tolist())):
        rows = features[labels == c].double()  # (n_c, D)
        out[c] = float((rows - rows.mean(0)).pow(2).sum(1).mean().sqrt())
    return out


def _fd(a: torch.Tensor, b: torch.Tensor) -> float:
    """Fréchet distance of two feature sets; few samples are this metric's protocol (see above), not a mistake."""
    import warnings

    from .fidelity import fid_from_stats, stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(fid_from_stats(stats(a), stats(b)))


@functools.lru_cache(maxsize=1)
def _real_features() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Judge features and labels of mnist-5k's training digits and of its held-out digits."""
    from ..data.mnist import load_mnist5k, mnist5k_split
    from .classifier import INPUT_SIZE, classifier_features

    data = load_mnist5k(None, image_size=INPUT_SIZE, channels=1)
    train, held = (torch.from_numpy(part) for part in mnist5k_split())
    return (
        classifier_features(data.tensor[train]),
        data.labels[train],
        classifier_features(data.tensor[held]),
        data.labels[held],
    )


def score_features(features: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Spread ratio and intra-class Fréchet distance of judge ``features`` (N, 128) drawn for ``labels`` (N,),
    against mnist-5k's training digits of the same classes."""
    real, real_labels, _, held_labels = _real_features()
    labels = torch.as_tensor(labels, dtype=torch.int64).cpu()
    classes = sorted(set(labels.tolist()))
    if any(int((labels == c).sum()) < 2 for c in classes):
        raise ValueError("each class needs at least 2 samples to have a spread; draw more")
    mine, theirs = class_spread(features, labels), class_spread(real, real_labels)
    ratios = [mine[c] / theirs[c] for c in classes]
    counts = {c: int((held_labels == c).sum()) for c in classes}  # what real-vs-real rests on, per class
    distances = [_fd(features[labels == c][: counts[c]], real[real_labels == c]) for c in classes]
    return {
        "spread_ratio": sum(ratios) / len(ratios),
        "spread_ratio_min": min(ratios),
        "intra_fd": sum(distances) / len(distances),
        "intra_fd_worst": max(distances),
        "real_intra_fd_reference": real_reference()["intra_fd"],
        "classes": len(classes),
    }


def conditional_diversity(samples: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """The numbers above for images ``samples`` (N, 1, H, W) in [-1, 1] drawn for digits ``labels`` (N,)."""
    from .classifier import classifier_features

    return score_features(classifier_features(samples), labels)


@functools.lru_cache(maxsize=1)
def real_reference() -> dict[str, float]:
    """Real-vs-real under the same reading: the 500 held-out real digits scored as if generated."""
    real, real_labels, held, held_labels = _real_features()
    mine, theirs = class_spread(held, held_labels), class_spread(real, real_labels)
    classes = sorted(mine)
    ratios = [mine[c] / theirs[c] for c in classes]
    distances = [_fd(held[held_labels == c], real[real_labels == c]) for c in classes]
    return {
        "spread_ratio": sum(ratios) / len(ratios),
        "spread_ratio_min": min(ratios),
        "intra_fd": sum(distances) / len(distances),
        "intra_fd_worst": max(distances),
    }


def class_diversity(
    samples: torch.Tensor,
    reference: object = None,
    *,
    extractor: object = None,
    seed: int = 0,
    sample_labels: torch.Tensor | None = None,
) -> dict[str, float]:
    """The metric ``class_diversity`` (``ganzoo eval``, ``ganzoo bench``): spread ratio first, as its headline.

    Digits only: the judge and the real reference are fixed (mnist-5k), so ``reference`` and ``extractor`` are
    not used; ``sample_labels`` are the digits the samples were drawn for.
    """
    if sample_labels is None:
        raise ValueError("class_diversity scores a class-conditional model: this one takes no labels")
    if samples.dim() != 4 or samples.shape[1] != 1:
        raise ValueError(f"class_diversity reads grayscale digits (N, 1, H, W), got {tuple(samples.shape)}")
    return conditional_diversity(samples, sample_labels)
