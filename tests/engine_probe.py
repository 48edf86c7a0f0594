"""A probe inside a variant's step: what its networks are, see and give while the engine trains.

The engine options that change no number a run writes (autocast precision, channels_last,
torch.compile) are checked here, so a silently ignored option fails a test. Shared by the CPU
engine tests and the CUDA checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass
class Call:
    """One network call made by the step."""

    net: str  # "G", "D", ...
    wrapper: type  # what the step was given: the module, or the engine's compiled / DDP wrapper
    inputs: torch.Tensor  # the first positional argument
    output: torch.Tensor
    autocast: bool  # whether autocast was on for the call's device


class _Recorder:
    """Stands in for a network in ctx.models: calls it and writes down the call."""

    def __init__(self, name: str, net: nn.Module, calls: list[Call]):
        self.name, self.net, self.calls = name, net, calls

    def __call__(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        out = self.net(x, *args, **kwargs)
        self.calls.append(Call(self.name, type(self.net), x, out, torch.is_autocast_enabled(x.device.type)))
        return out


class NetworkProbe:
    """Wraps ``step_class.__call__`` (with pytest's monkeypatch) to record every network call of every step."""

    def __init__(self, monkeypatch: Any, step_class: type):
        self.calls: list[Call] = []
        self.raw_models: dict[str, nn.Module] = {}
        original = step_class.__call__
        probe = self

        def call(step: Any, ctx: Any, batch: Any) -> None:
            probe.raw_models = ctx.raw_models
            models = ctx.models
            ctx.models = {name: _Recorder(name, net, probe.calls) for name, net in models.items()}
            try:
                original(step, ctx, batch)
            finally:
                ctx.models = models

        monkeypatch.setattr(step_class, "__call__", call)

    def of(self, net: str) -> list[Call]:
        return [c for c in self.calls if c.net == net]


def is_channels_last(t: torch.Tensor) -> bool:
    """NHWC in memory; only meaningful for a 4-d tensor with C > 1 and H*W > 1 (else both formats agree)."""
    return t.is_contiguous(memory_format=torch.channels_last) and not t.is_contiguous()


def unambiguous(t: torch.Tensor) -> bool:
    return t.dim() == 4 and t.shape[1] > 1 and t.shape[2] * t.shape[3] > 1


def assert_options_applied(probe: NetworkProbe, *, dtype: torch.dtype, channels_last: bool, compiled: bool) -> None:
    """Every network call ran under ``dtype`` autocast (or none for fp32), in the asked memory format and wrapper."""
    assert probe.calls, "the step called no network"
    for c in probe.calls:
        assert c.output.dtype == dtype, f"{c.net} gave {c.output.dtype}, expected {dtype}"
        assert c.autocast == (dtype != torch.float32), f"{c.net} ran with autocast={c.autocast}"
        is_compiled = issubclass(c.wrapper, torch._dynamo.eval_frame.OptimizedModule)
        assert is_compiled == compiled, f"{c.net} was called as {c.wrapper.__name__}"
    images = [c.inputs for c in probe.of("D") if unambiguous(c.inputs)]
    assert images, "no (B, C>1, H, W) image reached D: the memory format check would be vacuous"
    wrong = [x.stride() for x in images if is_channels_last(x) != channels_last]
    assert not wrong, f"D saw inputs with strides {wrong[:3]}, expected channels_last={channels_last}"
    weights = [p for net in probe.raw_models.values() for p in net.parameters() if unambiguous(p)]
    assert weights, "no conv weight with more than one input channel and a kernel above 1x1"
    wrong = [tuple(w.shape) for w in weights if is_channels_last(w) != channels_last]
    assert not wrong, f"conv weights of shapes {wrong[:3]} are not in the format channels_last={channels_last} asks for"
