"""Whether a metric's numbers can tell the samples apart: notes for numbers that cannot.

When every sample is the same, or every sample gives the same features (a classifier whose
activations are all zero for grey noise, say), the numbers stay put while the generator changes,
so they say nothing about it; evaluate() writes a "degenerate" note beside such numbers.
"""

from __future__ import annotations

from typing import Any

import torch


def all_same(x: torch.Tensor) -> bool:
    """Whether all rows of ``x`` (N, ...) are equal, to float32 rounding; one row is not "all the same"."""
    if x.shape[0] < 2:
        return False
    flat = x.flatten(1).float()  # (N, D)
    return bool((flat - flat[:1]).abs().max() <= 1e-6 * max(1.0, float(flat.abs().max())))


def degenerate_note(
    samples: torch.Tensor, used: list, extractor: Any, same_samples: bool, same_features: dict[int, bool]
) -> str | None:
    """Why a metric's numbers cannot tell these samples apart, or None when nothing says so."""
    n = samples.shape[0]
    if same_samples:
        return (
            f"all {n:,} generated samples are the same, so the numbers score one sample, not the generator's "
            f"spread (it ignores its noise: collapsed, or never trained)"
        )
    for e in used:
        if id(e) not in same_features:
            same_features[id(e)] = features_all_same(samples, e, extractor)
        if same_features[id(e)]:
            return (
                f"all {n:,} generated samples give the same {e.spec} features, so the numbers cannot tell "
                f"them apart and will not move until the samples look different to that network "
                f"(typical of a generator that has learnt nothing yet: noise or a flat grey)"
            )
    return None


def features_all_same(samples: torch.Tensor, e: Any, extractor: Any) -> bool:
    """Whether extractor ``e`` maps every sample to the same features; reuses evaluate's cached pass if it has one."""
    if extractor is not None and getattr(extractor, "_extractor", None) is e:  # loaded already: .extractor would load
        return all_same(extractor(samples))  # the pass the metric made: no new work
    if not all_same(e(samples[:64])):  # different features among the first few settle it cheaply
        return False
    return all_same(e(samples))
