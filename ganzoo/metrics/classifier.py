"""A small MNIST digit classifier that scores generated digits.

It gives three numbers for a batch of samples: how many are recognisable digits (confident
predictions), how evenly the ten classes are covered, and, through `classifier_features`, the
128-d features in which ganzoo computes a Fréchet distance (the MNIST analogue of FID).
The bundled weights (mnist_classifier.safetensors) are trained by benchmarks/train_classifier.py
on 4,500 mnist-5k images; their held-out accuracy is in the file's metadata.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "MnistClassifier",
    "WEIGHTS_PATH",
    "load_mnist_classifier",
    "classifier_metadata",
    "classifier_features",
    "digit_scores",
]

WEIGHTS_PATH = Path(__file__).with_name("mnist_classifier.safetensors")
INPUT_SIZE = 32
FEATURES = 128


class MnistClassifier(nn.Module):
    """Three conv blocks and a 128-d penultimate layer: (B, 1, 32, 32) in [-1, 1] -> 10 logits."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)  # 32x32 -> pool -> 16x16
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)  # 16x16 -> pool -> 8x8
        self.conv3 = nn.Conv2d(64, 64, 3, padding=1)  # 8x8 -> pool -> 4x4
        self.fc = nn.Linear(64 * 4 * 4, FEATURES)
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(FEATURES, 10)

    @staticmethod
    def prepare(x: torch.Tensor) -> torch.Tensor:
        """Any (B, C, H, W) in [-1, 1] -> (B, 1, 32, 32): channels averaged, resized if needed."""
        if x.dim() != 4:
            raise ValueError(f"expected images (B, C, H, W), got {tuple(x.shape)}")
        x = x.float()
        if x.shape[1] != 1:
            x = x.mean(dim=1, keepdim=True)
        if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False, antialias=True)
        return x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, 128) penultimate activations."""
        x = self.prepare(x)
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)  # (B, 32, 16, 16)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)  # (B, 64, 8, 8)
        x = F.max_pool2d(F.relu(self.conv3(x)), 2)  # (B, 64, 4, 4)
        return F.relu(self.fc(x.flatten(1)))  # (B, 128)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x)))  # (B, 10) logits


def load_mnist_classifier(device: str | torch.device = "cpu", *, weights: str | Path | None = None) -> MnistClassifier:
    """The trained classifier in eval mode; the load is strict (every tensor present, every shape right)."""
    from safetensors.torch import load_file

    model = MnistClassifier()
    state = load_file(str(weights or WEIGHTS_PATH))
    model.load_state_dict(state, strict=True)
    return model.eval().to(device)


def classifier_metadata(weights: str | Path | None = None) -> dict[str, str]:
    """The training record stored in the weights file: held-out accuracy, seed, split, recipe."""
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
    outputs = []
    for start in range(0, images.shape[0], batch_size):
        batch = images[start : start + batch_size].to(device)
        outputs.append((net.features(batch) if what == "features" else net(batch)).float().cpu())
    return torch.cat(outputs) if outputs else torch.empty(0, FEATURES if what == "features" else 10)


def classifier_features(
    images: torch.Tensor, classifier: MnistClassifier | None = None, *, batch_size: int = 500
) -> torch.Tensor:
    """(N, C, H, W) in [-1, 1] -> (N, 128) float32 features on the CPU, for a Fréchet distance."""
    return _run(images, classifier, batch_size, "features")


def digit_scores(
    images: torch.Tensor, *, confidence: float = 0.9, classifier: MnistClassifier | None = None, batch_size: int = 500
) -> dict[str, Any]:
    """How digit-like and how class-balanced samples (N, C, H, W) in [-1, 1] are.

    recognisable: fraction of all samples whose top softmax probability is >= confidence.
    class_fractions: for each digit, the fraction of ALL samples whose top prediction it is
    (confident or not; the ten sum to 1). A perfectly balanced generator scores 0.1 each.
    min_class_fraction: the smallest of those; near 0 means a digit is missing (mode collapse).
    """
    if images.shape[0] == 0:
        raise ValueError("digit_scores needs at least one image")
    probs = _run(images, classifier, batch_size, "logits").softmax(dim=1)  # (N, 10)
    top, predicted = probs.max(dim=1)  # (N,), (N,)
    fractions = torch.bincount(predicted, minlength=10).double() / images.shape[0]
    return {
        "recognisable": float((top >= confidence).double().mean()),
        "class_fractions": fractions.tolist(),
        "min_class_fraction": float(fractions.min()),
        "num_samples": int(images.shape[0]),
    }
