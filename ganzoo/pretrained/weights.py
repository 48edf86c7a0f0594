"""Weight checks: a safetensors file's tensors against a model's networks, before any is copied in.

Every load (published folders, run checkpoints, imported releases) ends here: names, shapes and
dtypes are compared first (from the file's header alone where possible), then values are checked
finite, then all tensors are copied in at once, so a model is never half-loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import safe_open

from ..registry import Variant

if TYPE_CHECKING:
    from ..model import GanModel

# dtypes a weight may be stored in; each is converted to the network's own dtype when loaded
FLOAT_DTYPES = ("float32", "float16", "bfloat16", "float64")
INT_DTYPES = ("int64", "int32", "int16", "int8", "uint8")  # counters such as num_batches_tracked
HEADER_DTYPES = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U8": "uint8",
    "BOOL": "bool",
    "F8_E4M3": "float8_e4m3fn",
    "F8_E5M2": "float8_e5m2",
    "C64": "complex64",
    "C128": "complex128",
}
MAX_OVERSIZE = 8  # networks may hold at most this many times the file's bytes (plus 256 MiB) beyond it


class WeightsError(ValueError):
    """A weight file that is corrupt, truncated, or made for other networks."""


def read_header(path: Path) -> dict[str, tuple[tuple[int, ...], str]]:
    """Each tensor's shape and dtype name from a safetensors file's header alone: no tensor data is read."""
    try:
        with safe_open(str(path), framework="pt") as f:
            slices = {k: f.get_slice(k) for k in f.keys()}
            return {
                k: (tuple(s.get_shape()), HEADER_DTYPES.get(s.get_dtype(), s.get_dtype().lower()))
                for k, s in slices.items()
            }
    except Exception as exc:  # truncated or not a safetensors file at all
        raise WeightsError(f"{path} is corrupt or truncated ({exc}); delete it and download or save it again") from None


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """Every tensor of a safetensors file, on the CPU; a corrupt or truncated file is a WeightsError."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # truncated or not a safetensors file at all
        raise WeightsError(f"{path} is corrupt or truncated ({exc}); delete it and download or save it again") from None


def expected_tensors(nets: Any, names: list[str]) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """ "NET.param" -> (shape, dtype) of the networks ``names`` among ``nets``: what a file must hold for them."""
    return {f"{n}.{k}": (tuple(v.shape), v.dtype) for n in names for k, v in nets[n].state_dict().items()}


def check_fits(
    variant: Variant,
    nets: dict[str, torch.nn.Module],
    names: list[str],
    found: dict[str, tuple[tuple[int, ...], str]],
    source: Path,
    config_path: Path,
) -> None:
    """Meta networks against a weight file's header: the tensors of ``names`` must match, and the networks
    the file does not hold must not be out of proportion with it (a config.json made to allocate gigabytes)."""
    check_tensors(variant.name, expected_tensors(nets, names), found, source)
    need = networks_bytes(nets)
    size = source.stat().st_size
    if too_large(need, size):
        raise WeightsError(
            f"{config_path} describes networks of {need / 2**20:,.0f} MiB, out of proportion with the "
            f"{size / 2**20:,.1f} MiB of {source}: the config does not belong to these weights"
        )


def networks_bytes(nets: dict[str, torch.nn.Module]) -> int:
    """The bytes every tensor of ``nets`` takes (meta networks answer from shapes alone)."""
    return sum(t.numel() * t.element_size() for net in nets.values() for t in net.state_dict().values())


def too_large(need: int, held: int) -> bool:
    """Whether networks of ``need`` bytes are out of proportion with the ``held`` bytes of weights given for them."""
    return need > MAX_OVERSIZE * held + (256 << 20)


def check_tensors(
    variant: str,
    expected: dict[str, tuple[tuple[int, ...], torch.dtype]],
    found: dict[str, tuple[tuple[int, ...], str]],
    source: Path | str,
) -> None:
    """Names, shapes and dtypes of a file's tensors against the networks': the one check behind every load."""
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    if missing:
        raise WeightsError(
            f"{source} lacks tensor {missing[0]!r}{_more(missing)}: the file does not match "
            f"variant {variant!r} with this config"
        )
    if extra:
        raise WeightsError(
            f"{source} has unexpected tensor {extra[0]!r}{_more(extra)}: it was saved from other "
            f"networks than {variant!r} with this config"
        )
    for key, (shape, dtype) in expected.items():
        if found[key][0] != shape:
            raise WeightsError(
                f"tensor {key!r} in {source} has shape {found[key][0]} but "
                f"{variant!r} with this config expects {shape}: "
                f"the weights are from another architecture"
            )
        have = found[key][1]
        name = _dtype_name(dtype)
        kinds = FLOAT_DTYPES if dtype.is_floating_point else INT_DTYPES if name in INT_DTYPES else (name,)
        if have not in kinds:
            raise WeightsError(
                f"tensor {key!r} in {source} is {have}, but {variant!r} holds {' or '.join(kinds)} "
                f"there: the file is corrupt or not ganzoo weights"
            )


def _more(names: list[str]) -> str:
    return f" and {len(names) - 1} more" if len(names) > 1 else ""


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def assign_strict(model: GanModel, tensors: dict[str, torch.Tensor], nets: list[str], source: Path | str) -> None:
    """Check every tensor of ``nets`` against ``tensors`` first (names, shapes, dtypes, finite values),
    then copy them all in, converted to the networks' dtypes (never half-loaded)."""
    expected = expected_tensors(model.nets, nets)
    found = {k: (tuple(v.shape), _dtype_name(v.dtype)) for k, v in tensors.items()}
    check_tensors(model.variant.name, expected, found, source)
    for key in expected:
        if tensors[key].is_floating_point() and not bool(torch.isfinite(tensors[key]).all()):
            raise WeightsError(
                f"tensor {key!r} in {source} holds NaN or Inf values: the weights are corrupt "
                f"(or were saved from a diverged run); download or save them again"
            )
    for n in nets:
        prefix = n + "."
        own = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        model.nets[n].load_state_dict(own, strict=True)
