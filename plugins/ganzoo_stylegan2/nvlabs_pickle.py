"""Reading NVlabs' StyleGAN2-ADA network pickles as plain data: nothing in the file is imported, compiled or run.

Upstream saves ``{"G": ..., "D": ..., "G_ema": ..., "augment_pipe": ..., "training_set_kwargs": {...}}`` with
pickle.dump. Each network is a ``torch_utils.persistence`` object: pickled as a call of
``torch_utils.persistence._reconstruct_persistent_obj(meta)``, where ``meta`` holds the source code of the
module that defines the class (``module_src``), the class name and the object's ``__dict__`` (``state``).
Loading the official way executes ``module_src``. Here that call gives a ``Record`` (class name and state);
``module_src`` is dropped unread. Tensors come as ``torch._utils._rebuild_tensor_v2`` /
``_rebuild_parameter`` of a storage pickled as ``torch.storage._load_from_bytes(b)``, ``b`` a torch.save of
that one storage, read here with ``torch.load(weights_only=True)``. Numbers kept as numpy scalars (upstream's
``np.sqrt`` gains) become Python numbers, numpy arrays numeric arrays. Every other global is refused by name.
"""

from __future__ import annotations

import io
import pickle
import re
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganzoo.pretrained.weights import WeightsError

NUMERIC_KINDS = "biuf"  # numpy dtype kinds a scalar or array may have: bool, int, uint, float


class UnsafePickleError(WeightsError):
    """A network pickle asks for something other than plain data: refused, nothing in it was run."""


@dataclass
class Record:
    """One ``torch_utils.persistence`` object as data: its class name and its ``__dict__`` (module source dropped)."""

    class_name: str
    state: dict = field(default_factory=dict)

    @property
    def children(self) -> dict[str, Record | None]:
        """Its submodules (torch's ``_modules``), by attribute name."""
        return dict(self.state.get("_modules") or {})

    def attr(self, name: str, default: Any = None) -> Any:
        """A plain attribute of the object (``z_dim``, ``conv_clamp``, ...)."""
        return self.state.get(name, default)


class EasyDict(dict):
    """``dnnlib.util.EasyDict`` as the plain dict it is (its attribute access is not needed to read it)."""


def _persistent_record(meta: Any) -> Record:
    """``_reconstruct_persistent_obj(meta)``: the class name and state; ``module_src`` is never looked at."""
    if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("class_name"), str):
        raise UnsafePickleError("a persistence record without type 'class' and a class name: not an NVlabs network")
    state = meta.get("state")
    if not isinstance(state, dict):
        raise UnsafePickleError(f"the persistence record of {meta['class_name']!r} has no state dict")
    return Record(meta["class_name"], dict(state))


def _storage_from_bytes(data: Any) -> torch.UntypedStorage | torch.TypedStorage:
    """``torch.storage._load_from_bytes``: the embedded torch.save of one storage, read with weights_only=True."""
    if not isinstance(data, bytes):
        raise UnsafePickleError(f"torch.storage._load_from_bytes given {type(data).__name__}, not bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's remarks on the legacy format and TypedStorage
            out = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        named = re.search(r"GLOBAL ([\w.]+)", str(exc))
        what = f"the global {named.group(1)}" if named else "more than a tensor storage"
        raise UnsafePickleError(
            f"an embedded storage (torch.storage._load_from_bytes) asks for {what}: refused by "
            f"torch.load(weights_only=True); nothing in it was executed"
        ) from None
    except (RuntimeError, EOFError, ValueError, OSError) as exc:
        raise UnsafePickleError(f"an embedded storage is unreadable ({str(exc).splitlines()[0][:160]})") from None
    if not isinstance(out, (torch.UntypedStorage, torch.TypedStorage)):
        raise UnsafePickleError(f"an embedded storage holds a {type(out).__name__}, not one tensor storage")
    return out


def _tensor(storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any, hooks: Any, *metadata: Any):
    """``torch._utils._rebuild_tensor_v2``: a view of a storage read above, its extent checked."""
    if not isinstance(storage, torch.TypedStorage):
        raise UnsafePickleError(f"a tensor rebuilt from a {type(storage).__name__}, not a storage read from bytes")
    if hooks or (metadata and metadata[0]):
        raise UnsafePickleError("a tensor with backward hooks or metadata: not saved weights")
    if not all(isinstance(v, int) and v >= 0 for v in (offset, *size, *stride)) or len(size) != len(stride):
        raise UnsafePickleError(f"a tensor with size {size!r}, stride {stride!r}, offset {offset!r}: corrupt")
    empty = torch.empty(0, dtype=storage.dtype)
    values = storage._untyped_storage.nbytes() // empty.element_size()
    end = offset + sum((n - 1) * s for n, s in zip(size, stride)) + 1 if all(size) else 0
    if end > values:
        raise UnsafePickleError(f"a tensor of size {tuple(size)} reaches past its storage of {values} values")
    return empty.set_(storage._untyped_storage, offset, tuple(size), tuple(stride))


def _parameter(data: Any, requires_grad: Any, hooks: Any) -> torch.Tensor:
    """``torch._utils._rebuild_parameter``: the tensor itself (a parameter's gradient flag is not needed)."""
    if not isinstance(data, torch.Tensor) or hooks:
        raise UnsafePickleError("a parameter that is not a plain tensor without hooks")
    return data


def _dtype(name: Any, align: Any = False, copy: Any = False) -> np.dtype:
    """``numpy.dtype``: numeric ones only."""
    dtype = np.dtype(name) if isinstance(name, str) and len(name) <= 4 else None
    if dtype is None or dtype.kind not in NUMERIC_KINDS:
        raise UnsafePickleError(f"a numpy dtype {name!r}: only numeric dtypes are read")
    return dtype


def _scalar(dtype: Any, data: Any = b"") -> bool | int | float:
    """``numpy.core.multiarray.scalar``: a numeric numpy scalar, as a Python number."""
    if not isinstance(dtype, np.dtype) or dtype.kind not in NUMERIC_KINDS or not isinstance(data, bytes):
        raise UnsafePickleError("a numpy scalar that is not a number stored as bytes")
    if len(data) != dtype.itemsize:
        raise UnsafePickleError(f"a numpy {dtype} scalar of {len(data)} bytes: corrupt")
    return np.frombuffer(data, dtype=dtype)[0].item()


class NDArray:
    """A numpy array under reconstruction (``_reconstruct`` then its state); ``value`` is the numeric array."""

    value: np.ndarray | None = None

    def __setstate__(self, state: Any) -> None:
        ok = isinstance(state, tuple) and len(state) == 5 and isinstance(state[2], np.dtype)
        if not ok or state[2].kind not in NUMERIC_KINDS or not isinstance(state[4], bytes):
            raise UnsafePickleError("a numpy array that is not numeric data stored as bytes")
        shape, dtype, fortran, raw = state[1], state[2], state[3], state[4]
        if not all(isinstance(n, int) and n >= 0 for n in shape) or len(raw) != int(np.prod(shape)) * dtype.itemsize:
            raise UnsafePickleError(f"a numpy array of shape {shape!r} with {len(raw)} bytes: corrupt")
        self.value = np.frombuffer(raw, dtype=dtype).reshape(shape, order="F" if fortran else "C").copy()


def _reconstruct(cls: Any, shape: Any, typecode: Any) -> NDArray:
    """``numpy.core.multiarray._reconstruct(numpy.ndarray, ...)``: an empty array its state then fills."""
    if cls is not NDArray:
        raise UnsafePickleError("numpy's _reconstruct of something other than numpy.ndarray")
    return NDArray()


ALLOWED: dict[str, Any] = {
    "torch_utils.persistence._reconstruct_persistent_obj": _persistent_record,
    "torch._utils._rebuild_tensor_v2": _tensor,
    "torch._utils._rebuild_parameter": _parameter,
    "torch.storage._load_from_bytes": _storage_from_bytes,
    "collections.OrderedDict": OrderedDict,
    "dnnlib.util.EasyDict": EasyDict,
    "builtins.set": set,
    "builtins.frozenset": frozenset,
    "numpy.dtype": _dtype,
    "numpy.ndarray": NDArray,
    **{f"numpy.{core}.multiarray.scalar": _scalar for core in ("core", "_core")},
    **{f"numpy.{core}.multiarray._reconstruct": _reconstruct for core in ("core", "_core")},
}


class _Unpickler(pickle._Unpickler):
    """Resolves only the globals in ALLOWED, each to the safe function above; sets state (BUILD) only on numpy
    arrays and dtypes under reconstruction, so nothing can rewire the functions and classes it hands out.
    The pure-Python unpickler, whose BUILD can be overridden (its speed is not the bottleneck: the bytes are)."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def find_class(self, module: str, name: str) -> Any:
        key = f"{module}.{name}"
        if key not in ALLOWED:
            raise UnsafePickleError(
                f"the network pickle asks for the global {key}, which an NVlabs network's data does not need: "
                f"refused before it was imported (nothing in the file was executed)"
            )
        return ALLOWED[key]

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"the network pickle has a persistent id {str(pid)[:60]!r}: not a plain pickle")

    def load_build(self) -> None:
        target, state = self.stack[-2], self.stack[-1]
        if isinstance(target, (NDArray, np.dtype)):
            return pickle._Unpickler.load_build(self)
        if state is None or (type(state) is dict and not state):  # an empty state sets nothing
            self.stack.pop()
            return None
        raise UnsafePickleError(
            f"the network pickle sets the state of a {type(target).__name__}, which plain data never needs: "
            f"refused (nothing in the file was executed)"
        )

    dispatch[pickle.BUILD[0]] = load_build


def loads(data: bytes) -> Any:
    """Unpickle NVlabs network bytes into Records, tensors and plain containers, running nothing from them."""
    try:
        return _plain(_Unpickler(io.BytesIO(data)).load())
    except UnsafePickleError:
        raise
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
        RecursionError,
    ) as exc:
        raise UnsafePickleError(
            f"the network pickle is corrupt or truncated ({type(exc).__name__}: {str(exc)[:160]}); nothing in it "
            f"was executed: download it again"
        ) from None


def read_network_pickle(path: str | Path) -> dict:
    """An NVlabs network pickle file (``ffhq.pkl`` ...) as a dict of Records; see ``loads``."""
    data = loads(Path(path).read_bytes())
    if not isinstance(data, dict):
        raise UnsafePickleError(f"{path} holds a {type(data).__name__}, not the dict of networks NVlabs saves")
    return data


def _plain(value: Any) -> Any:
    """EasyDicts as dicts and arrays under reconstruction as arrays, all the way down."""
    if isinstance(value, Record):
        value.state = _plain(value.state)
        return value
    if isinstance(value, NDArray):
        return value.value
    if isinstance(value, dict):
        return (
            type(value)((k, _plain(v)) for k, v in value.items())
            if type(value) is OrderedDict
            else {k: _plain(v) for k, v in value.items()}
        )
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value
