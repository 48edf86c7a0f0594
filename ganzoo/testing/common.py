"""What every check of the conformance kit shares: its defaults, its failure message, configs, shapes, builds.

The kit asks a variant's task (ganzoo.tasks) what differs between families: which networks
generate, whether the data are flat vectors or images, which labels a conditional model takes.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import nn

from ganzoo.config import make_config
from ganzoo.registry import Variant, resolve_ref
from ganzoo.tasks import Task, for_data_kind, task_for

DEFAULT_DATA = {
    "image": "mnist-5k",
    "points": "ring8",
    "unpaired": "mnist-5k-inverted",  # bundled, no download
    "paired": "mnist-5k-thick-paired",
}
DEFAULT_SIZES = ((32, 1), (32, 3))  # (image_size, channels) pairs that check_networks builds
POINTS_DIM = 2  # the 2D mixtures' points
PAIRED_KINDS = ("paired",)  # data kinds whose discriminators score (a, b) pairs
# engine options of every kit run: CPU (where resume is bit-exact), a metrics line per step, one checkpoint at the end
ENGINE_QUIET = dict(device="cpu", progress="off", sample_every=0, checkpoint_every=0, log_every=1, seed=0)


def fail(variant: str, check: str, message: str) -> AssertionError:
    """The kit's failure: which variant, which check, and what to fix."""
    return AssertionError(f"variant {variant!r} fails {check}: {message}")


def resolve(v: Variant, field: str, check: str) -> Any:
    """The object a variant's lazy reference ``field`` names; a failure when it does not resolve."""
    ref = getattr(v, field)
    try:
        return resolve_ref(ref)
    except Exception as exc:
        raise fail(v.name, check, f"Variant.{field} = {ref!r} does not resolve: {type(exc).__name__}: {exc}") from exc


def kinds(v: Variant) -> list[str]:
    """The data kinds a variant trains on."""
    return v.data_kind.split(",")


def is_flat(kind: str) -> bool:
    """Whether data of ``kind`` are flat vectors (N, D) rather than images (N, C, H, W)."""
    return for_data_kind(kind).flat


def config_for(v: Variant, kind: str, overrides: dict[str, Any], check: str) -> Any:
    """The variant's config for ``kind``: flat data set ``dim`` (when the config has it)."""
    cls = v.load_config_class()
    fields = {f.name for f in dataclasses.fields(cls)}
    values = dict(overrides)
    if is_flat(kind) and "dim" in fields:
        values.setdefault("dim", POINTS_DIM)
    try:
        return make_config(cls, values, variant=v.name)
    except Exception as exc:
        raise fail(v.name, check, f"config {values} for {kind} data is refused: {type(exc).__name__}: {exc}") from exc


def data_shape(config: Any, kind: str) -> tuple[int, ...]:
    """The shape of one real item as the engine's data specs give it."""
    if is_flat(kind):
        return (getattr(config, "dim", 0) or POINTS_DIM,)
    size = getattr(config, "image_size", 32)
    return (getattr(config, "channels", 1), size, size)


def labels(task: Task, n: int) -> tuple[torch.Tensor, ...]:
    """``(y,)`` with n labels 0, 1, 2, ... for a conditional task; ``()`` for an unconditional one."""
    if not task.conditional:
        return ()
    return (torch.tensor(task.evaluation_labels(n)),)  # (n,) class i mod K


def d_inputs(kind: str, x: torch.Tensor, *y: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """What a discriminator takes: D(x) (with labels, D(x, y)); on paired data it scores pairs, D(a, b)."""
    return (x, x) if kind in PAIRED_KINDS else (x, *y)


def is_discriminator(name: str) -> bool:
    """Discriminators are named "D" or "D_*" (D_A, D_B, ...)."""
    return name == "D" or name.startswith("D_")


def build(v: Variant, config: Any, check: str) -> dict[str, nn.Module]:
    """The variant's networks for ``config``, checked to be a dict of modules holding the task's generators."""
    try:
        nets = v.load_build()(config)
    except Exception as exc:
        raise fail(v.name, check, f"build({config!r}) raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(nets, dict) or not nets:
        raise fail(v.name, check, f"build must return a non-empty dict of networks, got {type(nets).__name__}")
    for name, net in nets.items():
        if not isinstance(name, str) or not isinstance(net, nn.Module):
            raise fail(v.name, check, f"build must map names to nn.Module, got {name!r}: {type(net).__name__}")
    missing = [g for g in task_for(v, config).required_generators() if g not in nets]
    if missing:
        raise fail(
            v.name, check, f"a {v.task} variant needs generator(s) {', '.join(missing)}; build gave {', '.join(nets)}"
        )
    return nets


def check_range(variant: str, check: str, what: str, x: torch.Tensor, shape: tuple[int, ...], kind: str) -> None:
    """``x`` has ``shape``, float32, finite values, and (images) lies in [-1, 1]."""
    if tuple(x.shape) != shape:
        raise fail(variant, check, f"{what} has shape {tuple(x.shape)}, expected {shape}")
    if x.dtype != torch.float32:
        raise fail(variant, check, f"{what} has dtype {x.dtype}, expected torch.float32")
    if not bool(torch.isfinite(x).all()):
        raise fail(variant, check, f"{what} holds NaN or Inf")
    if not is_flat(kind) and (float(x.min()) < -1 - 1e-6 or float(x.max()) > 1 + 1e-6):
        raise fail(
            variant,
            check,
            f"{what} spans [{float(x.min()):.3g}, {float(x.max()):.3g}], outside the image "
            f"range [-1, 1]; end the generator with tanh",
        )
