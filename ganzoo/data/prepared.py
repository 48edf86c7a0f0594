"""Image folders prepared once into a uint8 array on disk, which later runs memory-map.

Decoding and resizing every image is most of what a folder data set costs per epoch. Prepared
once, a run reads (N, C, H, W) uint8 pixels from the page cache and scales them to [-1, 1] per
batch, with the same values the decoding path gives. The cache lives under
``$GANZOO_CACHE/prepared`` (default ``~/.cache/ganzoo/prepared``), one folder per key: the
sorted file list with each file's absolute path, size, mtime, ctime and inode number (what git's
index keys a file by), image size, channels and crop. File contents are not hashed: a file rewritten
in place changes its ctime, which no user command can set back, so the next run prepares again.
``images.npy`` holds the pixels (numpy's own header, never pickle), ``header.json`` their shape and
SHA-256, checked at every open; a cache that fails the check is refused and prepared again. Temp
files of a preparation killed midway (``*.tmp-PID``, PID no longer running) are removed by the next.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import torch

from ..processes import process_alive
from .image_files import FolderImageDataset, ImageReadError, open_image, pil_to_pixels

FORMAT = "ganzoo-prepared-images/1"


class PreparedCacheError(ValueError):
    """A prepared-cache folder that ganzoo cannot repair by itself; the message says what to remove."""


def cache_root() -> Path:
    """Where prepared folders live: $GANZOO_CACHE/prepared, default ~/.cache/ganzoo/prepared."""
    return Path(os.environ.get("GANZOO_CACHE") or "~/.cache/ganzoo").expanduser() / "prepared"


def cache_key(files: list[Path], image_size: int, channels: int, crop: int | None) -> str:
    """SHA-256 of what the pixels depend on: every file's path, size, mtime, ctime and inode, and the decoding
    settings; a rewrite that keeps size and mtime still changes the ctime."""
    h = hashlib.sha256(json.dumps([FORMAT, image_size, channels, crop]).encode())
    for path in files:
        st = os.stat(path)
        h.update(f"\n{os.path.abspath(path)}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}".encode())
    return h.hexdigest()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def _open(folder: Path, key: str, shape: tuple[int, ...]) -> np.ndarray:
    """The cached pixels, memory-mapped; ValueError saying why when the cache is missing, stale or corrupt."""
    header_path, data_path = folder / "header.json", folder / "images.npy"
    if not header_path.exists() or not data_path.exists():
        raise FileNotFoundError("not prepared yet")
    if not (header_path.is_file() and data_path.is_file()):
        raise PreparedCacheError(f"{folder} holds a folder where ganzoo keeps files: remove {folder} and run again")
    header = json.loads(header_path.read_text())
    if not isinstance(header, dict):
        raise ValueError(f"{header_path} holds a JSON {type(header).__name__}, not ganzoo's header object")
    if header.get("format") != FORMAT or header.get("key") != key or tuple(header.get("shape", ())) != shape:
        raise ValueError(f"{header_path} does not describe these images")
    if _sha256(data_path) != header.get("sha256"):
        raise ValueError(f"{data_path} does not match the SHA-256 in {header_path.name}")
    pixels = np.load(data_path, mmap_mode="r", allow_pickle=False)
    if pixels.dtype != np.uint8 or pixels.shape != shape:
        raise ValueError(f"{data_path} holds {pixels.dtype} {pixels.shape}, not uint8 {shape}")
    return pixels


def _prepare(folder: Path, key: str, files: list[Path], shape: tuple[int, ...], crop: int | None) -> bool:
    """Decode every file into images.npy (then header.json), each written to a temp file and renamed.

    False, leaving nothing behind, when a file has no exact 8-bit form (a 16-bit or float image): such a
    folder keeps the decoding path. A file that does not read raises ImageReadError naming it.
    """
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for other in folder.parent.iterdir():  # this key's folder and those of files since changed
        if other.is_dir():
            remove_dead_temp_files(other)
    need, free = int(np.prod(shape)), shutil.disk_usage(folder).free
    if need > free:
        raise PreparedCacheError(
            f"preparing {shape[0]:,} images of {shape[1]}x{shape[2]}x{shape[3]} takes {need / 1e9:.1f} GB in {folder}, "
            f"more than the {free / 1e9:.1f} GB free there: set GANZOO_CACHE to a disk with room, or use a smaller "
            f"image size (--image-size N)"
        )
    tmp = folder / f"images.npy.tmp-{os.getpid()}"
    try:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
        for i, path in enumerate(files):
            try:
                with open_image(path) as img:  # a bomb or non-image: refused from its header, naming it
                    pixels = pil_to_pixels(img, shape[2], shape[1], crop=crop)  # (C, H, W)
            except ImageReadError:
                raise
            except (OSError, ValueError, Image.DecompressionBombError) as exc:  # a truncated file, say
                raise ImageReadError(f"cannot read image {path}: {exc}") from None
            if pixels.dtype != np.uint8:
                if not np.array_equal(pixels, np.round(pixels)):
                    return False
                pixels = pixels.astype(np.uint8)
            out[i] = pixels
        out.flush()
        del out
        header = {
            "format": FORMAT,
            "key": key,
            "shape": list(shape),
            "dtype": "uint8",
            "sha256": _sha256(tmp),
            "source": os.path.commonpath([os.path.abspath(f) for f in files]),
        }
        os.replace(tmp, folder / "images.npy")
        tmp_header = folder / f"header.json.tmp-{os.getpid()}"
        tmp_header.write_text(json.dumps(header, indent=2) + "\n")
        os.replace(tmp_header, folder / "header.json")
        return True
    finally:
        tmp.unlink(missing_ok=True)


def remove_dead_temp_files(folder: Path) -> None:
    """Delete ``*.tmp-PID`` files in ``folder`` whose process is gone (a preparation killed midway)."""
    for tmp in folder.glob("*.tmp-*"):
        pid = tmp.name.rpartition(".tmp-")[2]
        if pid.isdigit() and not process_alive(int(pid)):
            tmp.unlink(missing_ok=True)


def prepared_pixels(files: list[Path], *, image_size: int, channels: int, crop: int | None = None) -> np.ndarray | None:
    """The (N, C, H, W) uint8 pixels of ``files``, from the cache or prepared now; None when they have no
    exact uint8 form or $GANZOO_CACHE is a file (the caller then decodes per item, as without a cache);
    ImageReadError naming a bad file."""
    root = cache_root()
    blocked = next((p for p in (root, *root.parents) if p.exists() and not p.is_dir()), None)
    if blocked is not None:  # decoded per item instead, as a folder under 100 images is
        warnings.warn(
            f"images are not prepared: {blocked} (from GANZOO_CACHE) is a file, not a folder; point GANZOO_CACHE "
            f"at a folder",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    key = cache_key(files, image_size, channels, crop)
    folder = root / key[:32]
    shape = (len(files), channels, image_size, image_size)
    try:
        return _open(folder, key, shape)
    except FileNotFoundError:
        pass
    except PreparedCacheError:
        raise
    except (ValueError, OSError) as exc:  # never used half-right: refused, then prepared again
        warnings.warn(
            f"prepared images in {folder} refused ({exc}); preparing them again", RuntimeWarning, stacklevel=3
        )
    if not _prepare(folder, key, files, shape, crop):
        return None
    return _open(folder, key, shape)


class PreparedFolderDataset(FolderImageDataset):
    """A FolderImageDataset whose items come from prepared uint8 pixels instead of decoding each file."""

    def __init__(
        self, files: list[Path], pixels: np.ndarray, *, image_size: int, channels: int, crop: int | None = None
    ) -> None:
        super().__init__(files, image_size=image_size, channels=channels, crop=crop, verify=False)
        self.pixels = pixels  # (N, C, H, W) uint8, memory-mapped

    def batch(self, indices: torch.Tensor) -> torch.Tensor:
        """Items ``indices`` at once: (B, C, H, W) float32 in [-1, 1]; the engine reads batches this way."""
        x = torch.from_numpy(self.pixels[np.asarray(indices, dtype=np.int64)])  # a copy out of the map
        return x.to(torch.float32).div_(127.5).sub_(1.0)  # in place: the decoding path's values, one allocation

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.from_numpy(np.array(self.pixels[index])).to(torch.float32) / 127.5 - 1.0  # (C, H, W)


__all__ = [
    "PreparedCacheError",
    "PreparedFolderDataset",
    "remove_dead_temp_files",
    "cache_key",
    "cache_root",
    "prepared_pixels",
]
