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

Modes covered and the KL both depend on how many samples they rest on: an even spread over the
1,000 modes shows KL 0.10 on 5,000 samples from finite sampling alone, 0.019 on 26,000. The
papers' classifier assigns every sample a mode, so their 26,000 draws are 26,000 scored samples;
this judge assigns only the ones it reads with confidence (76% of real triples, often a fifth of
a generator's). per="drawn" (the default) scores 26,000 draws, so a generator the judge reads less
well is scored on fewer samples, with more sampling noise in its KL; per="assigned" scores the
first 26,000 samples assigned a mode, which compares evenness at the papers' sample count, while
the assigned share still says how well the judge reads the generator.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import torch

__all__ = ["stacked_mnist_modes", "score_digits", "digits_until_assigned", "channel_digits", "modes_if_independent", "NUM_SCORED"]

NUM_SCORED = 26_000  # samples scored, as in VEEGAN's and PacGAN's Stacked-MNIST tables
NUM_MODES = 1_000
PER = ("drawn", "assigned")  # what num_scored counts: samples drawn, or samples assigned a mode


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
                        confidence: float = 0.9, num_scored: int = NUM_SCORED, per: str = "drawn") -> dict[str, float | int]:
    """Modes covered (of 1,000), KL of the mode histogram to uniform, the share of samples assigned a mode,
    the share of channels read as digits, and the modes expected were the channels independent.

    per="drawn" scores the first ``num_scored`` of ``samples`` (N, 3, H, W) and refuses fewer.
    per="assigned" scores the shortest prefix of ``samples`` that holds ``num_scored`` samples assigned a
    mode, so that modes and KL rest on as many samples as in the papers' protocol, whose classifier
    assigns every sample; it refuses samples that hold fewer. ``reference`` and ``extractor`` are not
    used: the judge and the 1,000 modes are fixed. The KL is over the assigned samples only (NaN when
    none is); one mode alone gives log(1000) = 6.91, a uniform spread about 1000 / (2 * assigned
    samples) from finite sampling (0.019 at 26,000, 0.1 at 5,000).
    """
    if samples.dim() != 4 or samples.shape[1] != 3:
        raise ValueError(f"metric 'stacked_mnist_modes' needs 3-channel images (N, 3, H, W), got samples of shape "
                         f"{tuple(samples.shape)}")
    _check_per(per)
    if per == "drawn":
        if samples.shape[0] < num_scored:
            raise ValueError(f"metric 'stacked_mnist_modes' scores {num_scored:,} samples (its protocol), got "
                             f"{samples.shape[0]:,}: draw {num_scored} or more (`ganzoo eval -n {num_scored}`)")
        return score_digits(channel_digits(samples[:num_scored], confidence=confidence), num_scored=num_scored)
    digits = digits_until_assigned(samples.split(num_scored), num_scored, confidence=confidence)  # (n, 3)
    return score_digits(digits, num_scored=num_scored, per="assigned")


def digits_until_assigned(chunks: Iterable[torch.Tensor], num_assigned: int, *, confidence: float = 0.9) -> torch.Tensor:
    """Read ``chunks`` of samples (each (n, 3, H, W)) in order, stopping once ``num_assigned`` have been
    assigned a mode (or the chunks run out) -> (N, 3) channel digits of every sample read. A lazy iterable
    of chunks (a generator drawing each) draws only as many as it takes; the first is always read."""
    digits, assigned = [], 0
    for chunk in chunks:
        digits.append(channel_digits(chunk, confidence=confidence))
        assigned += int((digits[-1] >= 0).all(dim=1).sum())
        if assigned >= num_assigned:
            break
    return torch.cat(digits)


def score_digits(digits: torch.Tensor, *, num_scored: int = NUM_SCORED, per: str = "drawn") -> dict[str, float | int]:
    """The metric's numbers from (N, 3) channel digits in draw order (-1: not read): over the first
    ``num_scored`` rows (per="drawn"), or over the shortest prefix holding ``num_scored`` assigned rows
    (per="assigned"). Lets a caller draw and read samples chunk by chunk (benchmarks/stacked_mnist.py)."""
    _check_per(per)
    assigned = (digits >= 0).all(dim=1)  # (N,)
    if per == "drawn":
        if digits.shape[0] < num_scored:
            raise ValueError(f"the stacked-MNIST protocol scores {num_scored:,} samples, got {digits.shape[0]:,}")
        digits, assigned = digits[:num_scored], assigned[:num_scored]
    else:
        rows = torch.nonzero(assigned).flatten()  # (A,)
        if rows.numel() < num_scored:
            share = rows.numel() / max(digits.shape[0], 1)
            hint = (f"draw about {math.ceil(1.1 * num_scored / share):,}" if share else
                    "the judge reads none of them as three digits, so no number of draws will do")
            raise ValueError(f"per='assigned' scores the first {num_scored:,} samples assigned a mode, but only "
                             f"{rows.numel():,} of the {digits.shape[0]:,} given were ({share:.1%}): {hint}")
        end = int(rows[num_scored - 1]) + 1
        digits, assigned = digits[:end], assigned[:end]
    modes = (digits[assigned] * torch.tensor([100, 10, 1])).sum(dim=1)  # (a,)
    counts = torch.bincount(modes, minlength=NUM_MODES).double()  # (1000,)
    if modes.numel():
        p = counts[counts > 0] / modes.numel()
        kl = float((p * (p * NUM_MODES).log()).sum())
    else:
        kl = math.nan
    return {"modes": int((counts > 0).sum()), "kl": kl, "assigned": float(assigned.double().mean()),
            "channels_read": float((digits >= 0).double().mean()),
            "modes_if_independent": modes_if_independent(digits[assigned]), "num_modes": NUM_MODES,
            "drawn": int(digits.shape[0]), "scored": int(modes.numel())}


def _check_per(per: str) -> None:
    if per not in PER:
        raise ValueError(f"per must be 'drawn' (score the first num_scored samples) or 'assigned' (score the first "
                         f"num_scored samples the judge assigns a mode), got {per!r}")


def modes_if_independent(digits: torch.Tensor) -> float:
    """(A, 3) digits of the assigned samples -> the modes A draws would cover on average, were each
    channel's digit drawn independently from that channel's histogram in ``digits``."""
    if not digits.numel():
        return 0.0
    p = [torch.bincount(digits[:, c], minlength=10).double() / digits.shape[0] for c in range(3)]  # 3 x (10,)
    joint = (p[0][:, None, None] * p[1][None, :, None] * p[2][None, None, :]).flatten()  # (1000,)
    return float((1 - (1 - joint) ** digits.shape[0]).sum())
