"""Checkpoints without pickle: one safetensors file of tensors plus a JSON header of the rest.

A checkpoint holds networks, EMA, optimizers, the fp16 scaler, RNG states, step state, the
iteration and the data position: everything for an exact resume. Writes are atomic (temp file +
rename), so a killed run never leaves a half-written checkpoint behind; a SHA-256 of the header and
every tensor's bytes, stored beside them, lets a read refuse a file damaged after it was written.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import warnings
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from .files import checkpoint_name, list_checkpoints, temp_path

__all__ = [
    "CorruptCheckpointError",
    "checkpoint_path",
    "list_checkpoints",
    "save_checkpoint",
    "read_checkpoint",
    "checkpoint_shapes",
    "read_latest",
    "first_nonfinite",
    "prune",
    "state_tensors",
    "load_state",
    "describe_key",
    "ema_net_of",
    "read_ema_net",
    "read_header",
    "network_weights",
    "module_tensors",
    "load_module",
    "optimizer_state",
    "load_optimizer",
    "rng_state",
    "load_rng",
]

HEADER_KEY = "ganzoo"
CHECKSUM_KEY = "ganzoo_sha256"  # hex digest of the header text and every tensor (absent in older checkpoints)
DECLARES_CHECKSUM = "checksum"  # header entry {"checksum": "sha256"}: the file was written with CHECKSUM_KEY


class CorruptCheckpointError(ValueError):
    """A checkpoint file that cannot be read or fails its checksum; the message names the file."""


def checkpoint_path(folder: Path, iteration: int) -> Path:
    return folder / checkpoint_name(iteration)


def save_checkpoint(path: Path, tensors: dict[str, torch.Tensor], header: dict[str, Any]) -> None:
    """Write one checkpoint atomically, with the checksum that ``read_checkpoint`` verifies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    flat = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    text = json.dumps({**header, DECLARES_CHECKSUM: "sha256"})  # a missing checksum is then damage, not age
    save_file(flat, str(tmp), metadata={HEADER_KEY: text, CHECKSUM_KEY: checksum(text, flat)})
    os.replace(tmp, path)  # atomic on POSIX: readers see the old file or the new one


def checksum(header_text: str, tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over the header text and, in name order, each tensor's name, dtype, shape and bytes."""
    digest = hashlib.sha256(header_text.encode())
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        digest.update(f"\0{name}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy())  # the raw bytes, any dtype (bf16 included)
    return digest.hexdigest()


def read_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """A checkpoint's tensors and header, checksum verified.

    A file whose header declares a checksum must carry it under CHECKSUM_KEY, and no metadata key but
    ganzoo's two: a renamed or deleted checksum is refused as damage. Only a checkpoint from before
    checksums (no declaration, no key) loads unverified, with a warning that says so.
    """
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            header = json.loads(metadata[HEADER_KEY])
            if not isinstance(header, dict):
                raise ValueError(f"its {HEADER_KEY!r} metadata is a JSON {type(header).__name__}, not an object")
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:
        raise CorruptCheckpointError(f"cannot read checkpoint {path}: {exc}") from exc
    stray = sorted(set(metadata) - {HEADER_KEY, CHECKSUM_KEY})
    expected = metadata.get(CHECKSUM_KEY)
    if stray or (expected is None and header.pop(DECLARES_CHECKSUM, None) is not None):
        what = f"metadata keys ganzoo never writes ({', '.join(map(repr, stray))})" if stray else "no checksum"
        raise CorruptCheckpointError(
            f"checkpoint {path} is corrupt ({what}, where ganzoo wrote {CHECKSUM_KEY!r}): it cannot be verified"
        )
    if expected is None:
        warnings.warn(
            f"checkpoint {path} has no checksum (written before ganzoo kept one): loaded unverified",
            UserWarning,
            stacklevel=2,
        )
    elif checksum(metadata[HEADER_KEY], tensors) != expected:  # the header text as written, declaration included
        raise CorruptCheckpointError(
            f"checkpoint {path} is corrupt (checksum mismatch: its bytes changed after ganzoo wrote it)"
        )
    header.pop(DECLARES_CHECKSUM, None)  # the caller gets the header it wrote
    return tensors, header


def checkpoint_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Each tensor's shape in a checkpoint, from its file header alone: no tensor data is read."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except Exception as exc:
        raise CorruptCheckpointError(f"cannot read checkpoint {path}: {exc}") from exc


def read_latest(folder: Path, resume_command: str) -> tuple[Path, dict[str, torch.Tensor], dict[str, Any]]:
    """The newest checkpoint in ``folder``; when it is corrupt, the error names the newest earlier one that verifies.

    There is no silent fallback: the damaged file stays for the user to inspect, and the run does not
    quietly redo steps (and drop their metrics) from an older checkpoint.
    """
    found = list_checkpoints(folder)
    if not found:
        raise FileNotFoundError(f"nothing to resume in {folder.parent}: no checkpoints/step-*.safetensors there")
    try:
        return found[-1], *read_checkpoint(found[-1])
    except CorruptCheckpointError as exc:
        problem = str(exc)
    for earlier in reversed(found[:-1]):
        try:
            read_checkpoint(earlier)
        except CorruptCheckpointError:
            continue
        raise CorruptCheckpointError(
            f"{problem}; the previous checkpoint {earlier.name} verifies: move "
            f"{found[-1]} out of {folder} and run `{resume_command}` again"
        )
    raise CorruptCheckpointError(
        f"{problem}; no earlier checkpoint in {folder} verifies either, so this run cannot be resumed: start a new run"
    )


def first_nonfinite(tensors: dict[str, torch.Tensor]) -> str | None:
    """The first (in order) floating-point tensor holding NaN or Inf, or None; one host sync per device and dtype.

    A fused 2-norm per device is the quick test: a finite norm means every element is finite. Only
    when a norm is not finite (or overflowed, for huge but finite values) is each tensor checked.
    """
    floats = [(k, v) for k, v in tensors.items() if v.is_floating_point()]
    groups: dict[tuple, list[torch.Tensor]] = {}
    for _, v in floats:
        groups.setdefault((v.device, v.dtype), []).append(v.detach())
    if all(bool(torch.stack(torch._foreach_norm(ts, 2)).isfinite().all()) for ts in groups.values()):
        return None
    return next((k for k, v in floats if not bool(v.isfinite().all())), None)


def prune(folder: Path, keep: int) -> None:
    for old in list_checkpoints(folder)[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)


# ---- the key layout: net.NAME.* / ema.* / optim.NAME.* / rng.* / step.* / tricks.NAME.* ---------

LEGACY_EMA_NET = "G"  # the network an older checkpoint's "ema." keys average (before headers named it)
TRICKS_PREFIX = "tricks."  # the discriminator tricks' own state per network (ADA's p), absent before ADA


def state_tensors(
    nets: dict[str, torch.nn.Module],
    ema: torch.nn.Module | None,
    optimizers: dict[str, torch.optim.Optimizer],
    step_state: dict[str, torch.Tensor],
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """A training state as checkpoint tensors, and the header entries (optimizers, rng) that are not tensors."""
    tensors: dict[str, torch.Tensor] = {}
    for name, net in nets.items():
        tensors.update(module_tensors(f"net.{name}", net))
    if ema is not None:
        tensors.update(module_tensors("ema", ema))
    optim_meta = {}
    for name, opt in optimizers.items():
        t, optim_meta[name] = optimizer_state(f"optim.{name}", opt)
        tensors.update(t)
    t, rng_meta = rng_state()
    tensors.update(t)
    tensors.update({f"step.{k}": v for k, v in step_state.items()})
    return tensors, {"optimizers": optim_meta, "rng": rng_meta}


def load_state(
    tensors: dict[str, torch.Tensor],
    header: dict[str, Any],
    source: Any,
    nets: dict[str, torch.nn.Module],
    ema: torch.nn.Module | None,
    optimizers: dict[str, torch.optim.Optimizer],
    ema_option: Any = None,
) -> dict[str, torch.Tensor]:
    """Load networks, EMA, optimizers and RNG from a checkpoint; returns the step's own state tensors.

    The optimizers keep their current settings (lr, betas, ...): the config decides them, so a resume may
    lower the rate. A name or shape that differs is one clear ValueError before the networks change.
    """
    for name, net in nets.items():
        load_module(f"net.{name}", net, tensors, source)
    if ema is not None:
        if not any(k.startswith("ema.") for k in tensors):
            raise ValueError(f"checkpoint {source} has no EMA weights but the run asks for ema={ema_option}")
        load_module("ema", ema, tensors, source)
    for name, opt in optimizers.items():
        settings = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
        load_optimizer(f"optim.{name}", opt, tensors, header["optimizers"][name])
        for group, fresh in zip(opt.param_groups, settings):
            group.update(fresh)
    load_rng(tensors, header["rng"])
    return {k[len("step.") :]: v for k, v in tensors.items() if k.startswith("step.")}


def describe_key(key: str) -> str:
    """What part of a training state a checkpoint key belongs to, in words: "network 'G'", "the EMA network", ..."""
    part, name = (key.split(".", 2) + [""])[:2]
    return {
        "net": f"network {name!r}",
        "ema": "the EMA network",
        "optim": f"the optimizer of {name!r}",
        "step": "the step's own state",
        "tricks": f"the discriminator tricks' state of {name!r}",
    }.get(part, key)


def ema_net_of(header: dict[str, Any], keys: Any) -> str | None:
    """The network a checkpoint's EMA averages: its header's "ema_net", or G for an older one with "ema." keys."""
    if "ema_net" in header:
        return header["ema_net"]
    return LEGACY_EMA_NET if any(k.startswith("ema.") for k in keys) else None


def read_ema_net(path: Path) -> str | None:
    """``ema_net_of`` a checkpoint file from its header alone: no tensor data is read."""
    header, keys = read_header(path, with_keys=True)
    return ema_net_of(header, keys)


def read_header(path: Path, *, with_keys: bool = False) -> Any:
    """A checkpoint's JSON header (and its tensor names with ``with_keys``), unverified: no tensor data is read."""
    try:
        with safe_open(str(path), framework="pt") as f:
            header = json.loads((f.metadata() or {})[HEADER_KEY])
            keys = list(f.keys())
    except Exception as exc:
        raise CorruptCheckpointError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(header, dict):
        raise CorruptCheckpointError(f"cannot read checkpoint {path}: its header is not a JSON object")
    return (header, keys) if with_keys else header


def network_weights(items: dict[str, Any], ema_net: str | None, *, ema: bool = True) -> dict[str, dict[str, Any]]:
    """A checkpoint's entries ("net.G.x", "ema.x") as {network: {"x": ...}}; with ``ema``, the EMA's for ``ema_net``.

    ``items`` may map keys to tensors or to anything else (shapes from a header, say).
    """
    weights: dict[str, dict[str, Any]] = {}
    for key, value in items.items():
        if key.startswith("net."):
            net, name = key[len("net.") :].split(".", 1)
            weights.setdefault(net, {})[name] = value
    if ema and ema_net is not None and any(k.startswith("ema.") for k in items):
        weights[ema_net] = {k[len("ema.") :]: v for k, v in items.items() if k.startswith("ema.")}
    return weights


# ---- pieces of state <-> tensors + JSON ---------------------------------------------------------


def module_tensors(prefix: str, module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v for k, v in module.state_dict().items()}


def load_module(
    prefix: str, module: torch.nn.Module, tensors: dict[str, torch.Tensor], source: Any = "the checkpoint"
) -> None:
    """Load ``prefix.*`` tensors strictly; a name or shape that differs is one clear ValueError, nothing loaded."""
    start = prefix + "."
    found = {k[len(start) :]: v for k, v in tensors.items() if k.startswith(start)}
    expected = module.state_dict()
    problem = next((f"lacks tensor {prefix}.{k}" for k in expected if k not in found), None)
    problem = problem or next(
        (f"has tensor {prefix}.{k} that the network does not" for k in found if k not in expected), None
    )
    problem = problem or next(
        (
            f"holds {prefix}.{k} of shape {tuple(found[k].shape)} where the network has {tuple(v.shape)}"
            for k, v in expected.items()
            if found[k].shape != v.shape
        ),
        None,
    )
    if problem:
        raise ValueError(
            f"{source} {problem}: the run's config.json no longer describes the networks it saved "
            f"(was it edited?); restore config.json, or start a new run"
        )
    module.load_state_dict(found, strict=True)


def optimizer_state(prefix: str, opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer's state dict into tensors and a JSON-able rest."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, dict[str, Any]] = {}
    for index, entry in sd["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}.{index}.{key}"] = value
            else:
                plain.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": sd["param_groups"], "plain": plain}


def load_optimizer(
    prefix: str, opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> None:
    state: dict[int, dict[str, Any]] = {}
    start = prefix + "."
    for name, value in tensors.items():
        if name.startswith(start):
            index, key = name[len(start) :].split(".", 1)
            state.setdefault(int(index), {})[key] = value
    for index, entry in meta["plain"].items():
        state.setdefault(int(index), {}).update(entry)
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    for p, entry in opt.state.items():  # saved contiguous: back in the parameter's layout (channels_last)
        for key, value in entry.items():
            if isinstance(value, torch.Tensor) and value.shape == p.shape and value.stride() != p.stride():
                entry[key] = torch.empty_like(p, dtype=value.dtype).copy_(value)


def rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    version, values, gauss = random.getstate()
    return tensors, {"python": [version, list(values), gauss]}


def load_rng(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    names = sorted((k for k in tensors if k.startswith("rng.cuda.")), key=lambda k: int(k.rsplit(".", 1)[1]))
    cuda = [tensors[k] for k in names]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])
    version, values, gauss = meta["python"]
    random.setstate((version, tuple(values), gauss))
