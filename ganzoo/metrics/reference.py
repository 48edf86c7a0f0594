"""Reference features computed once and cached as .npz, and published statistics files (``--ref-stats``).

The cache key is the sha256 of the reference images as the extractor sees them (8-bit, at the
evaluated resolution), the extractor's spec and its weights' hash: a different data spec, split,
count, seed, resolution or extractor is a different key, and a folder whose files changed is too.
Files live in ``$GANZOO_CACHE/reference-features`` (default ``~/.cache/ganzoo``) and hold only
arrays and a JSON header: ``features_<layer>`` (N, D), ``mu`` and ``sigma`` of the main layer, and
``meta``, which records the sha256 of the full key and every array. A cache file that is unreadable
(truncated, a flipped byte), changed since it was written (valid, with other numbers), of an older
format, or holding NaN is reported in a warning, ignored and rewritten. Any such file, or a published
one with ``mu`` and ``sigma`` (the FID paper's and StudioGAN's format), is accepted by ``--ref-stats``
(ganzoo.metrics.stats_file checks it).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .npz import open_npz, read_array, read_header
from .sharding import is_main
from .stats_file import MAX_DIM, StatsFileError, read_stats_file

__all__ = ["Reference", "cache_dir", "read_stats_file", "StatsFileError"]

FORMAT = "ganzoo-reference-features/2"  # /2: with a content checksum
MAX_ROW_BYTES = 1 << 16  # per row of an array (16,384 float32 features): a cache file declaring more is not read


def cache_dir() -> Path:
    return Path(os.environ.get("GANZOO_CACHE") or "~/.cache/ganzoo").expanduser() / "reference-features"


class Reference:
    """The reference side of an evaluation: images, and where their features come from.

    images: (N, C, H, W) in [-1, 1]; (0, C, H, W) when only a statistics file is given.
    describe: what the images are (data spec, size, seed), written into the cache file's header.
    stats_file: a published statistics file that replaces the images' FID statistics.
    """

    def __init__(
        self,
        images: torch.Tensor,
        describe: dict[str, Any],
        *,
        stats_file: str | Path | None = None,
        cache: bool = True,
    ):
        self.images = images
        self.describe = describe
        self.stats_file = Path(stats_file).expanduser() if stats_file else None
        self.cache = cache
        self.source = "not used"  # how the features were obtained, for the protocol

    def key(self, extractor: Any) -> str:
        """sha256 over the 8-bit images and the extractor's identity."""
        from .features import to_uint8

        digest = hashlib.sha256()
        digest.update(json.dumps([extractor.spec, extractor.weights_sha256, extractor.layers]).encode())
        digest.update(str(tuple(self.images.shape)).encode())
        for chunk in self.images.split(4096):
            digest.update(to_uint8(chunk).contiguous().numpy().tobytes())
        return digest.hexdigest()

    def features(self, extractor: Any, batch_size: int, device: Any) -> dict[str, torch.Tensor]:
        """The images' features: from the cache when a file for this key verifies, else computed and cached."""
        if self.images.shape[0] == 0 and self.stats_file is not None:
            raise ValueError(
                f"these metrics need the reference images' features, but only a statistics file "
                f"({self.stats_file}) was given: pass --data too"
            )
        key = self.key(extractor) if self.cache else ""
        path = _cache_path(key) if self.cache else None
        if path is not None and path.is_file():
            found = _read_cached(path, key, extractor, self.images.shape[0])
            if found is not None:
                self.source = f"cache {path}"
                return found
        features = extractor.extract(self.images, batch_size=batch_size, device=device, desc="reference features")
        self.source = "computed"
        if (
            path is not None
            and is_main()
            and _write(path, key, features, extractor, {**self.describe, "count": len(self.images)})
        ):
            self.source = f"computed, cached as {path}"
        return features

    def published_stats(self, extractor: Any) -> dict[str, np.ndarray]:
        """FID statistics from ``stats_file``, checked against the extractor's width (and spec, when recorded)."""
        stats, meta = read_stats_file(self.stats_file, extractor)
        if not meta.get("extractor"):
            warnings.warn(
                f"{self.stats_file} does not say which network made it; ganzoo checked only its width "
                f"({extractor.dim}). It must come from the FID Inception (2015-12-05 graph) for FIDs "
                f"to compare",
                stacklevel=2,
            )
        self.source = f"statistics file {self.stats_file} (sha256 {_sha256(self.stats_file)[:16]})"
        return stats


def _cache_path(key: str) -> Path | None:
    """The cache file of ``key``; None (with a warning) when $GANZOO_CACHE is not a folder that can hold it."""
    folder = cache_dir()
    blocked = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
    if blocked is not None:
        warnings.warn(
            f"reference features are not cached: {blocked} (from GANZOO_CACHE) is a file, not a folder; "
            f"point GANZOO_CACHE at a folder, or pass --no-cache",
            stacklevel=3,
        )
        return None
    return folder / f"{key[:40]}.npz"


def _read_cached(path: Path, key: str, extractor: Any, count: int) -> dict[str, torch.Tensor] | None:
    """A cache file's features, or None (with a warning) when it is unreadable, changed or does not match."""
    try:
        found = _cached_arrays(path, key, extractor, count)
    except (ValueError, OSError, KeyError, zipfile.BadZipFile) as exc:  # NpzError, bad JSON among them
        found = f"is unreadable ({exc})"
    if isinstance(found, str):
        warnings.warn(f"reference-feature cache {path} {found}; computing the features again", stacklevel=3)
        return None
    return found


def _cached_arrays(path: Path, key: str, extractor: Any, count: int) -> dict[str, torch.Tensor] | str:
    """The features of a cache file that verifies, or why it does not; headers are checked before data is read."""
    with open_npz(path) as archive:
        meta_header = read_header(archive, "meta")
        if meta_header is None or meta_header.dtype.kind != "U" or meta_header.nbytes > 1 << 20:
            return "has no readable header"
        meta = json.loads(str(read_array(archive, "meta", meta_header).reshape(())[()]))
        if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("extractor") != extractor.spec:
            return "was written by another ganzoo or for another extractor"
        names = meta.get("arrays")
        wanted = [f"features_{layer}" for layer in extractor.layers]
        if not isinstance(names, list) or not set(wanted) <= set(names):
            return "does not match this evaluation"
        headers = {name: read_header(archive, str(name)) for name in names}
        for name, header in headers.items():
            if header is None or header.dtype.kind != "f" or header.nbytes > max(count, MAX_DIM) * MAX_ROW_BYTES:
                return f"holds a missing or implausible array {name!r}"
        if any(headers[name].shape[:1] != (count,) for name in wanted):
            return "does not match this evaluation"
        arrays = {name: read_array(archive, str(name), header) for name, header in headers.items()}
    if meta.get("content_sha256") != _content_sha256(key, arrays):
        return "does not match its checksum (it changed after ganzoo wrote it)"
    if not all(np.isfinite(a).all() for a in arrays.values()):
        return "holds NaN or Inf features"
    return {layer: torch.from_numpy(arrays[f"features_{layer}"]) for layer in extractor.layers}


def _content_sha256(key: str, arrays: dict[str, np.ndarray]) -> str:
    """sha256 of the cache key and every array (name, dtype, shape, bytes): content bound to the images it is of."""
    digest = hashlib.sha256(key.encode())
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(json.dumps([name, array.dtype.str, list(array.shape)]).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _write(path: Path, key: str, features: dict[str, torch.Tensor], extractor: Any, describe: dict[str, Any]) -> bool:
    """features_<layer>, mu and sigma of the main layer, a JSON header and their checksum, written atomically;
    False (with a warning) when the folder cannot be written."""
    from .fidelity import stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a small reference set is warned about where FID is computed
        main = stats(features[extractor.layer]) if features[extractor.layer].shape[0] >= 2 else None
    arrays = {f"features_{k}": v.numpy() for k, v in features.items()}
    if main is not None:
        arrays.update(mu=np.asarray(main["mu"]), sigma=np.asarray(main["sigma"]))
    meta = {
        "format": FORMAT,
        "extractor": extractor.spec,
        "weights_sha256": extractor.weights_sha256,
        "layer": extractor.layer,
        **describe,
        "arrays": sorted(arrays),
        "content_sha256": _content_sha256(key, arrays),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    except OSError as exc:
        warnings.warn(f"reference features are not cached: cannot write {path.parent} ({exc})", stacklevel=3)
        return False
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, meta=np.array(json.dumps(meta)), **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def _sha256(path: Path) -> str:
    from .inception import sha256_file

    return sha256_file(path)
