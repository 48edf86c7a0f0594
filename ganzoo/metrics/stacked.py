"""Stacked-MNIST mode count (Metz et al. 2017; VEEGAN, PacGAN): which of the 1,000 digit triples samples show.

Each of a sample's three channels is read by the bundled MNIST judge (ganzoo.metrics.classifier);
a channel counts as a digit when the judge's top class is a digit with probability >= confidence.
A sample whose three channels all count is assigned the mode 100 * R + 10 * G + B; one with a
channel the judge rejects ("not a digit") or is unsure of is assigned no mode. The numbers:
modes covered (of 1,000), KL(mode histogram of the assigned samples || uniform), the share of
samples assigned and the share of channels read as digits, which bounds it (the assigned share is
about its cube when the channels are independent). Modes covered grow with the sample count, so
the protocol fixes it (num_scored). To tell collapse from per-digit precision, it also reports the
modes the assigned samples would be expected to cover were their three digits drawn independently,
each from its channel's own digit histogram: a generator whose modes fall short of that ties its
channels together (mode collapse in the joint); one that matches it only draws, or is read on,
some digits more often than others.
"""

from __future__ import annotations

import math
from typing import Any

import torch

__all__ = ["stacked_mnist_modes", "channel_digits", "modes_if_independent", "NUM_SCORED"]

NUM_SCORED = 26_000  # samples scored, as in VEEGAN's and PacGAN's Stacked-MNIST tables
NUM_MODES = 1_000


def channel_digits(samples: torch.Tensor, *, confidence: float = 0.9, batch_size: int = 1500) -> torch.Tensor:
    """(N, 3, H, W) in [-1, 1] -> (N, 3) int64: the judge's digit for each channel, -1 where it rejects
    the channel or its top probability is below ``confidence``."""
    from .classifier import REJECT, _default_classifier

    net = _default_classifier()
    n = samples.shape[0]
    channels = samples.reshape(n * 3, 1, *samples.shape[-2:])  # (3N, 1, H, W): sample i's channels at 3i..3i+2
    digits = []
    with torch.no_grad():
        for start in range(0, channels.shape[0], batch_size):
            probs = net(channels[start : start + batch_size].float()).softmax(dim=1)  # (b, 11)
            top, predicted = probs.max(dim=1)  # (b,), (b,)
            digits.append(torch.where((predicted < REJECT) & (top >= confidence), predicted, -1))
    return torch.cat(digits).view(n, 3)


def stacked_mnist_modes(samples: torch.Tensor, reference: Any = None, *, extractor: Any = None, seed: int = 0,
                        confidence: float = 0.9, num_scored: int = NUM_SCORED) -> dict[str, float | int]:
    """Modes covered (of 1,000), KL of the mode histogram to uniform, the share of samples assigned a mode,
    the share of channels read as digits, and the modes expected were the channels independent.

    Scores the first ``num_scored`` of ``samples`` (N, 3, H, W) and refuses fewer. ``reference`` and
    ``extractor`` are not used: the judge and the 1,000 modes are fixed. The KL is over the assigned
    samples only (NaN when none is); one mode alone gives log(1000) = 6.91, a uniform spread about
    1000 / (2 * assigned samples) from finite sampling.
    """
    if samples.dim() != 4 or samples.shape[1] != 3:
        raise ValueError(f"metric 'stacked_mnist_modes' needs 3-channel images (N, 3, H, W), got samples of shape "
                         f"{tuple(samples.shape)}")
    if samples.shape[0] < num_scored:
        raise ValueError(f"metric 'stacked_mnist_modes' scores {num_scored:,} samples (its protocol), got "
                         f"{samples.shape[0]:,}: draw {num_scored} or more (`ganzoo eval -n {num_scored}`)")
    digits = channel_digits(samples[:num_scored], confidence=confidence)  # (n, 3)
    assigned = (digits >= 0).all(dim=1)  # (n,)
    modes = (digits[assigned] * torch.tensor([100, 10, 1])).sum(dim=1)  # (a,)
    counts = torch.bincount(modes, minlength=NUM_MODES).double()  # (1000,)
    if modes.numel():
        p = counts[counts > 0] / modes.numel()
        kl = float((p * (p * NUM_MODES).log()).sum())
    else:
        kl = math.nan
    return {"modes": int((counts > 0).sum()), "kl": kl, "assigned": float(assigned.double().mean()),
            "channels_read": float((digits >= 0).double().mean()),
            "modes_if_independent": modes_if_independent(digits[assigned]), "num_modes": NUM_MODES}


def modes_if_independent(digits: torch.Tensor) -> float:
    """(A, 3) digits of the assigned samples -> the modes A draws would cover on average, were each
    channel's digit drawn independently from that channel's histogram in ``digits``."""
    if not digits.numel():
        return 0.0
    p = [torch.bincount(digits[:, c], minlength=10).double() / digits.shape[0] for c in range(3)]  # 3 x (10,)
    joint = (p[0][:, None, None] * p[1][None, :, None] * p[2][None, None, :]).flatten()  # (1000,)
    return float((1 - (1 - joint) ** digits.shape[0]).sum())
