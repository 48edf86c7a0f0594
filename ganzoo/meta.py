"""Networks built on torch's meta device: their tensors' names, shapes and dtypes without their memory.

Loading compares a weight file with these before it builds the real networks, so a config.json that
asks for gigabytes is refused first. On meta, torch runs many ops through Python decompositions that
import its compiler stack on first use (seconds); the ops a network builder typically runs (weight
initialisers, spectral norm's power iteration) are answered here from their shapes instead.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from .registry import PluginError, Variant

RESHAPING = {"resize_", "resize_as_", "set_", "squeeze_", "unsqueeze_", "transpose_", "t_", "swapdims_",
             "swapaxes_", "as_strided_"}  # in-place ops that change a shape: these still run
BROADCASTING = {"add", "sub", "mul", "div", "__add__", "__sub__", "__mul__", "__truediv__", "__radd__", "__rsub__",
                "__rmul__", "__rtruediv__"}


def meta_networks(variant: Variant, config: Any) -> dict[str, torch.nn.Module] | None:
    """The variant's networks on the meta device, or None for a builder that needs real tensors
    (initialisation that reads values, say): callers check those once they are built."""
    from .api import build_networks

    try:
        with torch.device("meta"), _ShapesOnly():
            return build_networks(variant, config)
    except PluginError:
        return None


class _ShapesOnly(TorchFunctionMode):
    """Answers ops on meta tensors from shapes alone where torch would run a slow Python decomposition."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        first = args[0] if args else kwargs.get("tensor", kwargs.get("input"))
        if not (isinstance(first, torch.Tensor) and first.is_meta) or name in RESHAPING:
            return func(*args, **kwargs)
        if name.endswith("_") and not name.endswith("__"):
            return first  # in place (normal_, zeros_, ...): no data to change, the shape stays
        if name == "normalize":
            return kwargs["out"] if kwargs.get("out") is not None else torch.empty_like(first)
        if name == "mv":  # (n, m) by (m,) -> (n,)
            return torch.empty(first.shape[:1], dtype=first.dtype, device="meta")
        if name == "vdot":
            return torch.empty((), dtype=first.dtype, device="meta")
        if name in BROADCASTING and len(args) == 2:
            other = args[1]
            shape = torch.broadcast_shapes(first.shape, other.shape if isinstance(other, torch.Tensor) else ())
            return torch.empty(shape, dtype=torch.result_type(first, other), device="meta")
        return func(*args, **kwargs)
