"""Conformance check of a variant's networks: builds, seeded weights, shapes and ranges, optimizers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from ganzoo.registry import Variant
from ganzoo.tasks import task_for

from .common import (
    DEFAULT_SIZES,
    build,
    check_range,
    config_for,
    d_inputs,
    data_shape,
    fail,
    is_discriminator,
    is_flat,
    kinds,
    labels,
)
from .registration import check_registration


def check_networks(variant: str, *, sizes: Iterable[tuple[int, int]] = DEFAULT_SIZES, **config: Any) -> None:
    """Networks build for every (image_size, channels) in ``sizes`` (and dim=2 for points), the same
    torch seed gives the same weights, generators map noise (or images) to data of the right shape
    in [-1, 1], discriminators ("D", "D_*") score a batch, and the optimizers cover every weight."""
    import dataclasses

    check = "networks"
    v = check_registration(variant)
    fields = {f.name for f in dataclasses.fields(v.load_config_class())}
    for kind in kinds(v):
        variants_of_config = [dict(config)]
        if not is_flat(kind):
            variants_of_config = [
                {
                    **config,
                    **({"image_size": s} if "image_size" in fields else {}),
                    **({"channels": c} if "channels" in fields else {}),
                }
                for s, c in sizes
            ]
        seen: list[Any] = []
        for overrides in variants_of_config:
            cfg = config_for(v, kind, overrides, check)
            if cfg in seen:
                continue
            seen.append(cfg)
            _check_one_build(v, cfg, kind, check)


@torch.no_grad()
def _check_one_build(v: Variant, cfg: Any, kind: str, check: str) -> None:
    torch.manual_seed(0)
    nets = build(v, cfg, check)
    torch.manual_seed(0)
    again = build(v, cfg, check)
    for name, net in nets.items():
        other = again[name].state_dict()
        if any(not torch.equal(t, other[k]) for k, t in net.state_dict().items()):
            raise fail(
                v.name,
                check,
                f"two builds after torch.manual_seed(0) give different {name} weights; "
                f"initialise with torch's global generator so seeded runs repeat",
            )
    task = task_for(v, cfg)
    shape = data_shape(cfg, kind)
    where = f"{kind} data {shape}"
    for net in nets.values():
        net.eval()
    batch = torch.rand(2, *shape) * 2 - 1  # (2, *data_shape) in [-1, 1]
    for g in task.generators(nets):
        if task.samples:
            _check_noise_generator(v, check, g, nets[g], task, shape, where, kind)
        else:
            check_range(v.name, check, f"{g}(x) for {where}", nets[g](batch), (2, *shape), kind)
    for name, net in nets.items():
        if is_discriminator(name):
            out = net(*d_inputs(kind, batch, *labels(task, 2)))
            if not isinstance(out, torch.Tensor) or out.dim() == 0 or out.shape[0] != 2:
                raise fail(
                    v.name,
                    check,
                    f"{name} must score a batch (B, ...) -> (B, ...); for {where} it gave "
                    f"{getattr(out, 'shape', type(out).__name__)}",
                )
            if not bool(torch.isfinite(out).all()):
                raise fail(v.name, check, f"{name} gives NaN or Inf for {where}")
    _check_step(v, cfg, nets, check)


def _check_noise_generator(
    v: Variant, check: str, name: str, G: torch.nn.Module, task: Any, shape: tuple[int, ...], where: str, kind: str
) -> None:
    """A generator from noise declares its latent shape, takes the labels of a conditional task, and fits the data."""
    latent = getattr(G, "latent_shape", None)
    if not (isinstance(latent, tuple) and latent and all(isinstance(d, int) and d > 0 for d in latent)):
        raise fail(
            v.name, check, f"{name}.latent_shape must be a tuple of positive ints (e.g. (nz, 1, 1)), got {latent!r}"
        )
    y = labels(task, 2)
    problem = task.generator_problem(G)  # a conditional G declares its class count
    if problem:
        raise fail(v.name, check, problem)
    check_range(
        v.name, check, f"{name}(z{', y' if y else ''}) for {where}", G(torch.randn(2, *latent), *y), (2, *shape), kind
    )


def _check_step(v: Variant, cfg: Any, nets: dict[str, torch.nn.Module], check: str) -> None:
    """The step's EMA network is one of the networks, and its optimizers cover every trainable weight."""
    step = v.load_step()(cfg)
    if step.ema_net is not None and step.ema_net not in nets:
        raise fail(
            v.name,
            check,
            f"{type(step).__name__}.ema_net = {step.ema_net!r} is not one of the networks "
            f"({', '.join(nets)}); name one or set it to None",
        )
    optimizers = step.optimizers(nets)
    if not isinstance(optimizers, dict) or not all(isinstance(o, torch.optim.Optimizer) for o in optimizers.values()):
        raise fail(v.name, check, "optimizers(nets) must return a dict of torch.optim.Optimizer by name")
    covered = {id(p) for o in optimizers.values() for g in o.param_groups for p in g["params"]}
    for name, net in nets.items():
        left = [k for k, p in net.named_parameters() if p.requires_grad and id(p) not in covered]
        if left:
            more = f" and {len(left) - 1} more" if len(left) > 1 else ""
            raise fail(
                v.name,
                check,
                f"no optimizer updates {name}.{left[0]}{more}; give every trainable network "
                f"an optimizer or freeze it (requires_grad_(False))",
            )
