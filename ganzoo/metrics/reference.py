"""Reference features computed once and cached as .npz, and published statistics files (``--ref-stats``).

The cache key is the sha256 of the reference images as the extractor sees them (8-bit, at the
evaluated resolution), the extractor's spec and its weights' hash: a different data spec, split,
count, seed, resolution or extractor is a different key, and a folder whose files changed is too.
Files live in ``$GANZOO_CACHE/reference-features`` (default ``~/.cache/ganzoo``) and hold only
arrays and a JSON header (``np.load(allow_pickle=False)``): ``features_<layer>`` (N, D), ``mu`` and
``sigma`` of the main layer, and ``meta``. Any such file, or a published one with ``mu`` and
``sigma`` (the FID paper's and StudioGAN's format), is accepted by ``--ref-stats``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["Reference", "cache_dir", "read_stats_file", "StatsFileError"]

FORMAT = "ganzoo-reference-features/1"


class StatsFileError(ValueError):
    """A statistics file that does not fit: unreadable, missing arrays, or of another extractor or width."""


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
        """The images' features: from the cache when a file for this key is there, else computed and cached."""
        if self.images.shape[0] == 0 and self.stats_file is not None:
            raise ValueError(
                f"these metrics need the reference images' features, but only a statistics file "
                f"({self.stats_file}) was given: pass --data too"
            )
        path = cache_dir() / f"{self.key(extractor)[:40]}.npz" if self.cache else None
        if path is not None and path.is_file():
            found = _read_cached(path, extractor, self.images.shape[0])
            if found is not None:
                self.source = f"cache {path}"
                return found
        features = extractor.extract(self.images, batch_size=batch_size, device=device, desc="reference features")
        self.source = "computed"
        if path is not None:
            _write(path, features, extractor, {**self.describe, "count": int(self.images.shape[0])})
            self.source = f"computed, cached as {path}"
        return features

    def published_stats(self, extractor: Any) -> dict[str, np.ndarray]:
        """FID statistics from ``stats_file``, checked against the extractor's width (and spec, when recorded)."""
        stats, meta = read_stats_file(self.stats_file)
        recorded = meta.get("extractor")
        if recorded and recorded != extractor.spec:
            raise StatsFileError(
                f"{self.stats_file} holds statistics of {recorded} features, but this evaluation "
                f"uses {extractor.spec}: pass --features {recorded}, or statistics of "
                f"{extractor.spec}"
            )
        if stats["mu"].shape[0] != extractor.dim:
            raise StatsFileError(
                f"{self.stats_file} holds {stats['mu'].shape[0]}-d statistics, but {extractor.spec} "
                f"gives {extractor.dim}-d features: the file belongs to another extractor or layer"
            )
        if not recorded:
            warnings.warn(
                f"{self.stats_file} does not say which network made it; ganzoo checked only its width "
                f"({extractor.dim}). It must come from the FID Inception (2015-12-05 graph) for FIDs "
                f"to compare",
                stacklevel=2,
            )
        self.source = f"statistics file {self.stats_file} (sha256 {_sha256(self.stats_file)[:16]})"
        return stats


def read_stats_file(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """{"mu", "sigma"} and the JSON header (empty for published files) of a .npz statistics file."""
    path = Path(path)
    if not path.is_file():
        raise StatsFileError(f"statistics file {path} does not exist (from --ref-stats)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (ValueError, OSError, EOFError) as exc:  # not a zip, truncated, or an object array (pickle)
        raise StatsFileError(f"{path} is not a readable .npz of plain arrays: {exc}") from None
    missing = [k for k in ("mu", "sigma") if k not in arrays]
    if missing:
        raise StatsFileError(
            f"{path} has no {' or '.join(missing)} array (it holds {sorted(arrays) or 'nothing'}); "
            f"a statistics file holds the mean 'mu' (D,) and covariance 'sigma' (D, D) of features"
        )
    mu, sigma = arrays["mu"], arrays["sigma"]
    if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
        raise StatsFileError(f"{path}: mu must be (D,) and sigma (D, D), got {mu.shape} and {sigma.shape}")
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise StatsFileError(f"{path} holds NaN or Inf statistics")
    meta = json.loads(str(arrays["meta"])) if "meta" in arrays else {}
    return {"mu": mu, "sigma": sigma}, meta


def _read_cached(path: Path, extractor: Any, count: int) -> dict[str, torch.Tensor] | None:
    """A cache file's features, or None (with a warning) when it is unreadable or does not match."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            features = {layer: torch.from_numpy(data[f"features_{layer}"].copy()) for layer in extractor.layers}
    except (ValueError, OSError, EOFError, KeyError) as exc:
        warnings.warn(
            f"reference-feature cache {path} is unreadable ({exc}); computing the features again", stacklevel=3
        )
        return None
    if (
        meta.get("format") != FORMAT
        or meta.get("extractor") != extractor.spec
        or any(f.shape[0] != count for f in features.values())
    ):
        warnings.warn(
            f"reference-feature cache {path} does not match this evaluation; computing the features again", stacklevel=3
        )
        return None
    return features


def _write(path: Path, features: dict[str, torch.Tensor], extractor: Any, describe: dict[str, Any]) -> None:
    """features_<layer>, mu and sigma of the main layer, and a JSON header; written atomically."""
    from .fidelity import stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a small reference set is warned about where FID is computed
        main = stats(features[extractor.layer]) if features[extractor.layer].shape[0] >= 2 else None
    meta = {
        "format": FORMAT,
        "extractor": extractor.spec,
        "weights_sha256": extractor.weights_sha256,
        "layer": extractor.layer,
        **describe,
    }
    arrays = {f"features_{k}": v.numpy() for k, v in features.items()}
    if main is not None:
        arrays.update(mu=main["mu"], sigma=main["sigma"])
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, meta=np.array(json.dumps(meta)), **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _sha256(path: Path) -> str:
    from .inception import sha256_file

    return sha256_file(path)
