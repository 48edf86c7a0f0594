"""Building a variant's networks: for real (``build_networks``), or on torch's meta device, as
tensors' names, shapes and dtypes without their memory (``meta_networks``).

Loading compares a weight file with these before it builds the real networks, so a config.json that
asks for gigabytes is refused first. On meta, torch runs many ops through Python decompositions that
import its compiler stack on first use (seconds); the ops a network builder typically runs (weight
initialisers, spectral norm's power iteration) are answered here from their shapes instead.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from .registry import PluginError, Variant

RESHAPING = {
    "resize_",
    "resize_as_",
    "set_",
    "squeeze_",
    "unsqueeze_",
    "transpose_",
    "t_",
    "swapdims_",
    "swapaxes_",
    "as_strided_",
}  # in-place ops that change a shape: these still run
BROADCASTING = {
    "add",
    "sub",
    "mul",
    "div",
    "__add__",
    "__sub__",
    "__mul__",
    "__truediv__",
    "__radd__",
    "__rsub__",
    "__rmul__",
    "__rtruediv__",
}


def build_networks(variant: Variant, config: Any) -> dict:
    """The variant's networks, a dict of nn.Module by name; whatever else the plugin's builder does
    (raise, exit, return something else) is reported as that plugin's error."""
    build = variant.load_build()  # PluginError naming the reference when it does not resolve
    who = f"variant {variant.name!r} from plugin {variant.plugin!r}"
    try:
        nets = build(config)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit included: a plugin must not end the program
        raise PluginError(
            f"{who} failed to build its networks: {type(exc).__name__}: {exc} "
            f"(report it to the plugin's authors; other variants are unaffected)"
        ) from exc
    modules = isinstance(nets, dict) and all(isinstance(k, str) and isinstance(m, nn.Module) for k, m in nets.items())
    if not (modules and nets):
        got = (
            type(nets).__name__
            if not isinstance(nets, dict)
            else "{" + ", ".join(f"{k!r}: {type(m).__name__}" for k, m in list(nets.items())[:4]) + "}"
        )
        raise PluginError(
            f"{who}: its build(config) returned {got}, not a dict of torch.nn.Module by name "
            f"(report it to the plugin's authors; other variants are unaffected)"
        )
    return nets


def meta_networks(variant: Variant, config: Any) -> dict[str, torch.nn.Module] | None:
    """The variant's networks on the meta device, or None for a builder that needs real tensors
    (initialisation that reads values, say): callers check those once they are built."""
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
