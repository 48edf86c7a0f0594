"""Where a run computes and how fast: the device it asks for, autocast precision, fused optimizer kernels."""

from __future__ import annotations

import contextlib
from typing import Any

import torch


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """The torch device for ``--device`` ("auto", "cpu", "cuda", "cuda:N"); plain "cuda" is this rank's GPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(f"device {name!r} was asked for but CUDA is not available; use --device cpu")
        if name == "cuda":
            name = f"cuda:{local_rank}"
    elif name != "cpu":
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {name!r}")
    return torch.device(name)


def autocast(precision: str, device: torch.device) -> Any:
    """The autocast context of ``precision`` ("fp32": none, "bf16", "fp16") on ``device``."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device.type, dtype=dtype)


def use_fast_kernels(opt: torch.optim.Optimizer) -> None:
    """Give each parameter group that left the choice to torch its fused kernel, else its multi-tensor one.

    torch picks neither on CPU by default, where fused Adam takes a third of the for-loop's time.
    Fused kernels walk memory flat, so channels_last parameters (whose gradients or restored state
    may be laid out otherwise) get the stride-aware multi-tensor ones. A group that set ``foreach``
    or ``fused`` itself, or is differentiable, is left as it is.
    """
    supported = getattr(torch.utils._foreach_utils, "_get_fused_kernels_supported_devices", lambda: ["cuda"])
    fused_devices = set(supported())  # a private helper of torch's; older versions fuse on CUDA only
    for group in opt.param_groups:
        if group.get("foreach") is not None or group.get("fused") or group.get("differentiable"):
            continue
        if "fused" in group and all(
            p.is_floating_point() and p.is_contiguous() and p.device.type in fused_devices for p in group["params"]
        ):
            group["fused"] = True  # Adam, AdamW, SGD, Adagrad
        elif "foreach" in group:
            group["foreach"] = True
