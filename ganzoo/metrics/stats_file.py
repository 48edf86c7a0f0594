"""FID statistics files (``--ref-stats FILE.npz``): ``mu`` (D,), ``sigma`` (D, D) and an optional JSON ``meta``.

Only those three arrays are read, each after its .npy header is checked (ganzoo.metrics.npz): a file
with other arrays beside them costs nothing for them, and a declared shape too large for the
extractor's width is refused before its data is read. Then the numbers: real floating-point, finite,
small enough that the Fréchet distance does not overflow, and sigma symmetric and positive
semi-definite, as a covariance is. Every refusal is one StatsFileError naming the file.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .npz import ArrayHeader, NpzError, open_npz, read_array, read_header

__all__ = ["StatsFileError", "read_stats_file", "MAX_DIM"]

MAX_DIM = 8192  # widest statistics read when the extractor's width is not known (sigma: 512 MiB in float64)
MAX_META_BYTES = 1 << 20
MAX_VALUE = 1e100  # beyond this, squares and products in the Fréchet distance overflow float64
NUMBER_KINDS = "fiu"  # float, signed and unsigned integers


class StatsFileError(ValueError):
    """A statistics file that does not fit: unreadable, missing arrays, or of another extractor or width."""


def read_stats_file(path: str | Path, extractor: Any = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """{"mu", "sigma"} and the JSON header (empty for published files) of a .npz statistics file.

    extractor: when given (with ``spec`` and ``dim``), the file's recorded extractor and its width are
    checked against it before the arrays are read.
    """
    path = Path(path)
    if not path.is_file():
        raise StatsFileError(f"statistics file {path} does not exist (from --ref-stats)")
    try:
        with open_npz(path) as archive:
            return _read(path, archive, extractor)
    except NpzError as exc:
        raise StatsFileError(f"{exc}; a statistics file is np.savez(FILE, mu=mu, sigma=sigma)") from None
    except (OSError, zipfile.BadZipFile) as exc:
        raise StatsFileError(f"{path} is not a readable .npz of plain arrays: {exc}") from None


def _read(path: Path, archive: zipfile.ZipFile, extractor: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    headers = {name: read_header(archive, name) for name in ("mu", "sigma")}
    missing = [k for k, v in headers.items() if v is None]
    if missing:
        held = sorted(n[: -len(".npy")] for n in archive.namelist() if n.endswith(".npy"))
        raise StatsFileError(
            f"{path} has no {' or '.join(missing)} array (it holds {held or 'nothing'}); "
            f"a statistics file holds the mean 'mu' (D,) and covariance 'sigma' (D, D) of features"
        )
    meta = _meta(path, archive)
    recorded = meta.get("extractor")
    if extractor is not None and recorded and recorded != extractor.spec:
        raise StatsFileError(
            f"{path} holds statistics of {recorded} features, but this evaluation "
            f"uses {extractor.spec}: pass --features {recorded}, or statistics of "
            f"{extractor.spec}"
        )
    mu_h, sigma_h = headers["mu"], headers["sigma"]
    for name, header in headers.items():
        _check_dtype(path, name, header)
    if len(mu_h.shape) != 1 or sigma_h.shape != (mu_h.shape[0], mu_h.shape[0]):
        raise StatsFileError(f"{path}: mu must be (D,) and sigma (D, D), got {mu_h.shape} and {sigma_h.shape}")
    width = mu_h.shape[0]
    if extractor is not None and width != extractor.dim:
        raise StatsFileError(
            f"{path} holds {width}-d statistics, but {extractor.spec} "
            f"gives {extractor.dim}-d features: the file belongs to another extractor or layer"
        )
    if not 1 <= width <= MAX_DIM:
        raise StatsFileError(f"{path} declares {width:,}-d statistics; ganzoo reads 1 to {MAX_DIM:,} features")
    mu, sigma = (read_array(archive, name, headers[name]) for name in ("mu", "sigma"))
    _check_values(path, mu.astype(np.float64), sigma.astype(np.float64))
    native = {name: a.astype(a.dtype.newbyteorder("=")) for name, a in (("mu", mu), ("sigma", sigma))}
    return native, meta


def _meta(path: Path, archive: zipfile.ZipFile) -> dict[str, Any]:
    """The JSON object in ``meta`` (a 0-d string array), {} when there is none."""
    header = read_header(archive, "meta")
    if header is None:
        return {}
    if header.dtype.kind not in "US" or header.count != 1 or header.nbytes > MAX_META_BYTES:
        raise StatsFileError(
            f"{path}: its 'meta' array must be one JSON string, got {header.dtype} of shape {header.shape}; "
            f"drop it, or write np.array(json.dumps({{...}}))"
        )
    value = read_array(archive, "meta", header).reshape(())[()]
    try:
        meta = json.loads(value.decode() if isinstance(value, bytes) else str(value))
    except (ValueError, UnicodeDecodeError) as exc:
        raise StatsFileError(f"{path}: its 'meta' array is not valid JSON ({exc}); drop it or fix it") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("extractor", ""), (str, type(None))):
        raise StatsFileError(
            f"{path}: its 'meta' must be a JSON object whose 'extractor' is a string, got {str(value)[:80]!r}"
        )
    return meta


def _check_dtype(path: Path, name: str, header: ArrayHeader) -> None:
    kind = header.dtype.kind
    if kind == "c":
        raise StatsFileError(
            f"{path}: {name} is complex ({header.dtype}); statistics of features are real: "
            f"save the real part if the imaginary one is zero"
        )
    if kind not in NUMBER_KINDS or header.dtype.fields is not None or header.dtype.subdtype is not None:
        raise StatsFileError(f"{path}: {name} must hold real numbers, but it holds {header.dtype}")


def _check_values(path: Path, mu: np.ndarray, sigma: np.ndarray) -> None:
    """Finite, not overflowing the Fréchet distance, and sigma a covariance (symmetric, PSD)."""
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise StatsFileError(f"{path} holds NaN or Inf statistics; the file is damaged: make it again")
    top = max(float(np.abs(mu).max()), float(np.abs(sigma).max()))
    if top > MAX_VALUE:
        raise StatsFileError(
            f"{path} holds values up to {top:.3g}, too large for a Fréchet distance (it would overflow): "
            f"the statistics are damaged or not of features"
        )
    scale = float(np.abs(sigma).max()) or 1.0
    if np.abs(sigma - sigma.T).max() > 1e-5 * scale:
        raise StatsFileError(f"{path}: sigma is not symmetric, so it is not a covariance; the file is damaged")
    jitter = 1e-6 * scale
    try:
        np.linalg.cholesky(sigma + jitter * np.eye(sigma.shape[0]))
    except np.linalg.LinAlgError:
        raise StatsFileError(
            f"{path}: sigma is not positive semi-definite (it has a negative eigenvalue), so it is not a "
            f"covariance; the file is damaged"
        ) from None
