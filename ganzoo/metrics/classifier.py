"""The MNIST digit judge: a small classifier with an eleventh class, "not a digit", that scores generated digits.

It gives three numbers for a batch of samples: how many are recognisable digits (top class a digit
with probability >= confidence), how evenly the ten digits are covered, and, through
`classifier_features`, the 128-d features in which ganzoo computes a Fréchet distance (the MNIST
analogue of FID). The "not a digit" class is trained on noise, pixel-shuffled digits, blends of two
different digits and random strokes (ganzoo.metrics.judge), so those are rejected rather than
called digits. The bundled weights (mnist_classifier.safetensors) are trained by
benchmarks/train_classifier.py on 4,500 mnist-5k images; the file's metadata records the recipe,
the held-out scores and `real_digits_reference`, the share of real held-out digits the judge
recognises, against which quality bars are set (`relative_bar`).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from .sharding import sharded

__all__ = [
    "MnistClassifier",
    "at_size",
    "WEIGHTS_PATH",
    "load_mnist_classifier",
    "classifier_metadata",
    "classifier_features",
    "digit_scores",
    "requested_digit_scores",
    "real_requested_reference",
    "real_digits_reference",
    "relative_bar",
]

WEIGHTS_PATH = Path(__file__).with_name("mnist_classifier.safetensors")
INPUT_SIZE = 32
FEATURES = 128
NUM_CLASSES = 11  # the ten digits, then "not a digit"
REJECT = 10  # index of the "not a digit" class


def at_size(images: torch.Tensor, size: int) -> torch.Tensor:
    """Images (B, C, H, W) resized to (B, C, size, size) with antialiased bilinear, as the data sets and
    `MnistClassifier.prepare` resize; unchanged when already that size."""
    if images.shape[-2:] == (size, size):
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


class MnistClassifier(nn.Module):
    """Three conv blocks and a 128-d penultimate layer: (B, 1, 32, 32) in [-1, 1] -> 11 logits (digits, reject)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)  # 32x32 -> pool -> 16x16
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)  # 16x16 -> pool -> 8x8
        self.conv3 = nn.Conv2d(64, 64, 3, padding=1)  # 8x8 -> pool -> 4x4
        self.fc = nn.Linear(64 * 4 * 4, FEATURES)
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(FEATURES, NUM_CLASSES)

    @staticmethod
    def prepare(x: torch.Tensor) -> torch.Tensor:
        """Any (B, C, H, W) in [-1, 1] -> (B, 1, 32, 32): channels averaged, resized if needed."""
        if x.dim() != 4:
            raise ValueError(f"expected images (B, C, H, W), got {tuple(x.shape)}")
        x = x.float()
        if x.shape[1] != 1:
            x = x.mean(dim=1, keepdim=True)
        return at_size(x, INPUT_SIZE)  # antialiased bilinear, as the data sets resize

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, 128) penultimate activations."""
        x = self.prepare(x)
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)  # (B, 32, 16, 16)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)  # (B, 64, 8, 8)
        x = F.max_pool2d(F.relu(self.conv3(x)), 2)  # (B, 64, 4, 4)
        return F.relu(self.fc(x.flatten(1)))  # (B, 128)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x)))  # (B, 11) logits


def load_mnist_classifier(device: str | torch.device = "cpu", *, weights: str | Path | None = None) -> MnistClassifier:
    """The trained classifier in eval mode; the load is strict (every tensor present, every shape right)."""
    from safetensors.torch import load_file

    model = MnistClassifier()
    state = load_file(str(weights or WEIGHTS_PATH))
    if "head.bias" in state and state["head.bias"].shape == (REJECT,):
        raise ValueError(
            f"{weights or WEIGHTS_PATH} is a ten-class MNIST classifier without the 'not a digit' class; "
            "retrain it with benchmarks/train_classifier.py"
        )
    model.load_state_dict(state, strict=True)
    return model.eval().to(device)


def classifier_metadata(weights: str | Path | None = None) -> dict[str, str]:
    """The training record stored in the weights file: held-out scores, seed, split, recipe."""
    from safetensors import safe_open

    with safe_open(str(weights or WEIGHTS_PATH), framework="pt") as f:
        return dict(f.metadata() or {})


@functools.lru_cache(maxsize=1)
def _default_classifier() -> MnistClassifier:
    return load_mnist_classifier()


@torch.no_grad()
def _run(images: torch.Tensor, classifier: MnistClassifier | None, batch_size: int, what: str) -> torch.Tensor:
    net = classifier if classifier is not None else _default_classifier()
    if net.training:
        raise ValueError("the classifier is in training mode; call .eval() first")
    device = next(net.parameters()).device

    def run(rows: torch.Tensor) -> torch.Tensor:
        outputs = []
        for start in range(0, rows.shape[0], batch_size):
            batch = rows[start : start + batch_size].to(device)
            outputs.append((net.features(batch) if what == "features" else net(batch)).float().cpu())
        return torch.cat(outputs) if outputs else torch.empty(0, FEATURES if what == "features" else NUM_CLASSES)

    return sharded(run, images)  # under torchrun: each rank classifies a share


def classifier_features(
    images: torch.Tensor, classifier: MnistClassifier | None = None, *, batch_size: int = 500
) -> torch.Tensor:
    """(N, C, H, W) in [-1, 1] -> (N, 128) float32 features on the CPU, for a Fréchet distance."""
    return _run(images, classifier, batch_size, "features")


def digit_scores(
    images: torch.Tensor, *, confidence: float = 0.9, classifier: MnistClassifier | None = None, batch_size: int = 500
) -> dict[str, Any]:
    """How digit-like and how class-balanced samples (N, C, H, W) in [-1, 1] are.

    recognisable: fraction of all samples whose top class is a digit with probability >= confidence.
    rejected: fraction of all samples whose top class is "not a digit".
    class_fractions: for each digit, the fraction of ALL samples whose top class it is (confident
    or not). Rejected samples count for no digit, so the ten and ``rejected`` sum to 1; a balanced
    generator of real-looking digits scores about 0.1 each.
    min_class_fraction: the smallest of the ten; near 0 means a digit is missing (mode collapse).
    """
    if images.shape[0] == 0:
        raise ValueError("digit_scores needs at least one image")
    probs = _run(images, classifier, batch_size, "logits").softmax(dim=1)  # (N, 11)
    top, predicted = probs.max(dim=1)  # (N,), (N,)
    is_digit = predicted < REJECT  # a ten-class network (no reject column) never rejects
    counts = torch.bincount(predicted, minlength=NUM_CLASSES).double() / images.shape[0]  # (11,)
    fractions = counts[:REJECT]
    return {
        "recognisable": float((is_digit & (top >= confidence)).double().mean()),
        "rejected": float(counts[REJECT]),
        "class_fractions": fractions.tolist(),
        "min_class_fraction": float(fractions.min()),
        "num_samples": int(images.shape[0]),
    }


def requested_digit_scores(
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    confidence: float = 0.9,
    classifier: MnistClassifier | None = None,
    batch_size: int = 500,
) -> dict[str, Any]:
    """How well a conditional generator draws the digits it is asked for: images (N, C, H, W) made for
    ``labels`` (N,) in 0..9.

    requested: fraction of samples whose top class is the requested digit with probability >= confidence.
    requested_per_class: the same within each requested digit (NaN for a digit never asked for).
    min_requested: the smallest of those; one digit the generator cannot draw shows here.
    """
    labels = torch.as_tensor(labels, dtype=torch.int64).cpu()
    if images.shape[0] == 0 or labels.shape != (images.shape[0],):
        raise ValueError(
            f"requested_digit_scores needs one label per image, got {tuple(labels.shape)} for {images.shape[0]} images"
        )
    if bool(((labels < 0) | (labels >= REJECT)).any()):
        raise ValueError(f"requested digits must be in 0..9, got {sorted(set(labels.tolist()))[:12]}")
    probs = _run(images, classifier, batch_size, "logits").softmax(dim=1)  # (N, 11)
    top, predicted = probs.max(dim=1)  # (N,), (N,)
    hit = ((predicted == labels) & (top >= confidence)).double()  # (N,)
    per_class = [float(hit[labels == d].mean()) if bool((labels == d).any()) else float("nan") for d in range(REJECT)]
    asked = [v for v in per_class if v == v]
    return {
        "requested": float(hit.mean()),
        "requested_per_class": per_class,
        "min_requested": min(asked),
        "num_samples": int(images.shape[0]),
    }


@functools.lru_cache(maxsize=4)
def real_requested_reference(weights: str | None = None) -> float:
    """``requested`` of mnist-5k's 500 held-out real digits with their true labels: the ceiling for a
    conditional generator under this judge (relative bars scale with it)."""
    from ..data.mnist import load_mnist5k, mnist5k_split

    data = load_mnist5k(None, image_size=INPUT_SIZE, channels=1)
    held = torch.from_numpy(mnist5k_split()[1])
    net = load_mnist_classifier(weights=weights) if weights else None
    return requested_digit_scores(data.tensor[held], data.labels[held], classifier=net)["requested"]


def real_digits_reference(weights: str | Path | None = None) -> float:
    """The share of mnist-5k's 500 held-out real digits the judge recognises (confidence 0.9).

    Measured when the weights were trained and stored in their metadata; the ceiling a generator
    of MNIST-like digits can be expected to reach under this judge.
    """
    meta = classifier_metadata(weights)
    if "heldout_recognisable" not in meta:
        raise ValueError(
            f"{weights or WEIGHTS_PATH} has no heldout_recognisable in its metadata: "
            "retrain it with benchmarks/train_classifier.py"
        )
    return float(meta["heldout_recognisable"])


def relative_bar(fraction: float, weights: str | Path | None = None) -> float:
    """A quality bar given as a share of the real digits' score, as an absolute recognisable fraction.

    A bar of 0.8 means "recognisable for 80% as many samples as real held-out digits are".
    """
    if not 0 <= fraction <= 1:
        raise ValueError(f"a relative bar is a fraction of the real digits' score in [0, 1], got {fraction}")
    return fraction * real_digits_reference(weights)
