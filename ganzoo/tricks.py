"""The discriminator tricks of ``ganzoo.config.DiscriminatorTricks``, applied once for every variant.

A variant whose config inherits DiscriminatorTricks builds D with ``d_in_channels(config)`` inputs
(and, where its network has a place for it, the ``MinibatchStd`` layer of ganzoo.networks), then
calls ``apply(D, config)``. Packing and augmentation become a transform of D's input, installed as
a forward pre-hook: every call of D sees it (the step's, a gradient penalty's through the raw
module, DDP's and a compiled module's), steps stay as they are, and D's parameter names do not
change, so checkpoints and published folders keep their layout.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .augment import diff_augment


def d_in_channels(config: Any, channels: int) -> int:
    """D's input channels (or features, for flat data) when it judges ``config.pack`` samples at once."""
    return channels * getattr(config, "pack", 1)


def pack(x: torch.Tensor, m: int) -> torch.Tensor:
    """(B, C, ...) -> (B/m, m*C, ...): each group of m consecutive samples becomes one input, sample-major.

    Samples i*m ... i*m + m - 1 share the i-th D input; D scores the group as a whole (PacGAN).
    """
    if x.shape[0] % m:
        raise ValueError(
            f"pack={m} needs a batch that is a multiple of {m}, but D got {x.shape[0]} samples: "
            f"set --batch-size to a multiple of {m}"
        )
    return x.reshape(x.shape[0] // m, m * x.shape[1], *x.shape[2:])


class _InputTransform:
    """D's forward pre-hook: augment each sample, then pack groups of samples."""

    def __init__(self, policy: str, m: int):
        self.policy, self.m = policy, m

    def __call__(self, module: nn.Module, args: tuple) -> tuple:
        x, *rest = args
        if self.policy:
            x = diff_augment(x, self.policy)  # fresh ops per sample, before they are grouped
        if self.m > 1:
            x = pack(x, self.m)
        return (x, *rest)


def apply(D: nn.Module, config: Any) -> nn.Module:
    """Install the input-side tricks of ``config`` on ``D`` (in place) and return it."""
    policy, m = getattr(config, "augment", ""), getattr(config, "pack", 1)
    if policy or m > 1:
        D.register_forward_pre_hook(_InputTransform(policy, m))
    return D


def score_real(ctx: Any, real: torch.Tensor, *args: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(D's logits on ``real``, the R1 term gamma/2 * E||grad D||^2 or None): one pass serves both.

    With ``config.r1`` > 0 the pass runs through the raw module in fp32 and eager mode (double
    backward), as ganzoo.losses.r1_penalty does; the penalty is logged as "r1".
    """
    gamma = getattr(ctx.config, "r1", 0.0)
    if gamma <= 0:
        return ctx.models["D"](real, *args), None
    from .losses import r1_penalty

    out, penalty = r1_penalty(ctx.raw_models["D"], real, *args)
    ctx.log(r1=penalty)
    return out, gamma / 2 * penalty
