"""Where a run computes and how fast: the device it asks for, autocast precision, fused optimizer kernels."""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from ..config import ConfigError


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """The torch device for ``--device`` ("auto", "cpu", "cuda", "cuda:N"); plain "cuda" is this rank's GPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device {name!r} was asked for but CUDA is not available here; use --device cpu")
        index = int(name.partition(":")[2] or local_rank)
        if index >= torch.cuda.device_count():
            raise ConfigError(
                f"device {name!r} was asked for but this machine has {torch.cuda.device_count()} GPU(s), "
                f"cuda:0 to cuda:{torch.cuda.device_count() - 1}"
            )
        if name == "cuda":
            name = f"cuda:{local_rank}"
    elif name != "cpu":
        raise ConfigError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {name!r}")
    return torch.device(name)


def autocast(precision: str, device: torch.device) -> Any:
    """The autocast context of ``precision`` ("fp32": none, "bf16", "fp16") on ``device``."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device.type, dtype=dtype)


def precision_note(precision: str, device: torch.device) -> str | None:
    """A warning line when ``precision`` is emulated on ``device`` (far slower than fp32 there), else None.

    On CPUs, bf16 is native with AVX512-BF16 or AMX and fp16 with AMX-FP16; elsewhere (AVX2 and lower)
    torch emulates them. On CUDA, bf16 is native from compute capability 8.0 (Ampere).
    """
    if precision == "fp32":
        return None
    if device.type == "cuda":
        native = precision == "fp16" or torch.cuda.is_bf16_supported(including_emulation=False)
        where = torch.cuda.get_device_name(device)
    elif device.type == "cpu":
        check = "_is_avx512_bf16_supported" if precision == "bf16" else "_is_amx_fp16_supported"
        native = bool(getattr(torch.cpu, check, lambda: False)()) or (
            precision == "bf16" and bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())
        )
        where = f"this CPU ({torch.backends.cpu.get_cpu_capability()})"
    else:
        return None
    if native:
        return None
    return (
        f"precision {precision} is emulated on {where}, not native: a step may take several times longer "
        f"than in fp32; use --precision fp32 here (docs/engine.md, Precision)"
    )


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
