"""Image files: found under a folder, checked, and decoded one at a time into the model's range.

Any size and mode goes in; each item comes out as (C, image_size, image_size) in [-1, 1]: the
shorter side is resized to image_size, the centre is cropped, and the mode is converted to "L"
(channels=1) or "RGB" (channels=3). 16-bit grayscale (modes I;16 and 16-bit I) is scaled from
[0, 65535] and float images (mode F) are read as [0, 1]; an integer image of unknown range or a float
one outside [0, 1] is refused naming the file. Files are found recursively and sorted, so the order is stable.
Both the folder data set (folder.py) and its prepared cache (prepared.py) read images through this module,
and `ganzoo eval FOLDER` (eval_folder.py) reads its headers. Every file is opened by `open_image`, which
reads the header only: a file PIL cannot identify, a decompression bomb or an image of more than
MAX_PIXELS pixels is refused in one line naming it before any pixel is decoded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torch.utils.data import Dataset

from ..images import MAX_PIXELS, ImageReadError, open_image

__all__ = [
    "IMAGE_EXTENSIONS",
    "FolderImageDataset",
    "ImageReadError",
    "MAX_PIXELS",
    "find_images",
    "open_image",
    "pil_to_model_range",
    "pil_to_pixels",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff")
VERIFY_LIMIT = 20_000  # folders up to this size have every file checked when the data set is built


def find_images(root: str | Path) -> list[Path]:
    """Every image file under root (recursive, extension case-insensitive), sorted; errors name root."""
    root = Path(root).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"no such folder: {root}")
    if not root.is_dir():
        raise NotADirectoryError(f"not a folder: {root}")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
    if not files:
        kinds = ", ".join(e.lstrip(".") for e in IMAGE_EXTENSIONS)
        raise FileNotFoundError(f"no images ({kinds}) found under {root}")
    return files


def pil_to_model_range(img: Image.Image, image_size: int, channels: int, *, crop: int | None = None) -> torch.Tensor:
    """A PIL image -> float32 (channels, image_size, image_size) in [-1, 1].

    crop, when given, first cuts a centred crop x crop square (CelebA's usual 178) out of the image.
    """
    pixels = pil_to_pixels(img, image_size, channels, crop=crop)  # (C, H, W) on the 8-bit scale
    return torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32)) / 127.5 - 1.0


def pil_to_pixels(img: Image.Image, image_size: int, channels: int, *, crop: int | None = None) -> np.ndarray:
    """A PIL image -> (channels, image_size, image_size) on the 8-bit scale [0, 255], resized and cropped.

    uint8 for 8-bit images; float32 for high-bit and float ones, whose values need not be whole.
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    top = _value_range(img)  # before exif_transpose, which keeps neither the format nor the TIFF tags
    img = ImageOps.exif_transpose(img)  # photos stored sideways come out upright
    if img.mode in ("P", "PA"):
        img = img.convert("RGBA")  # palettes (with transparency) expand faithfully only through RGBA
    if top is not None:
        img = _on_8bit_scale(img, top)
    if img.mode != "F":  # "F": one float channel, repeated below when RGB is asked for
        img = img.convert("L" if channels == 1 else "RGB")
    if crop is not None:
        img = _center_crop(img, min(crop, *img.size))
    w, h = img.size
    scale = image_size / min(w, h)
    size = (max(image_size, round(w * scale)), max(image_size, round(h * scale)))
    if size != img.size:
        img = img.resize(size, Image.Resampling.BILINEAR)  # PIL's bilinear is antialiased when shrinking
    img = _center_crop(img, image_size)
    array = np.asarray(img)  # (H, W) or (H, W, 3), on the 8-bit scale [0, 255]
    array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)  # (C, H, W)
    if array.shape[0] != channels:
        array = np.repeat(array, channels, axis=0)  # a float grayscale image asked for as RGB
    return array


def _value_range(img: Image.Image) -> float | None:
    """The top of a 16-bit, integer or float grayscale image's value range (None for 8-bit modes); a
    range the file does not imply is refused."""
    if img.mode.startswith("I;16"):
        return 65535.0
    if img.mode == "I":  # 32-bit integers: PNG uses it for 16-bit gray, TIFF says its bit depth
        bits = 16 if img.format == "PNG" else (getattr(img, "tag_v2", None) or {}).get(258, (0,))[0]
        if bits not in (8, 16):
            raise ValueError(
                f"mode I image ({bits or 'unknown'}-bit integers) has no known value range: "
                f"save it as an 8- or 16-bit PNG"
            )
        return float(2**bits - 1)
    if img.mode == "F":
        return 1.0  # float images are read as values in [0, 1]
    return None


def _on_8bit_scale(img: Image.Image, top: float) -> Image.Image:
    """A high-bit grayscale image as mode "F" scaled from [0, top] to [0, 255]; convert("L") would clip it
    (a 16-bit PNG came out white). Values outside [0, top] are refused."""
    values = np.asarray(img, dtype=np.float64)  # (H, W)
    if values.size and not (np.isfinite(values).all() and values.min() >= 0 and values.max() <= top):
        raise ValueError(
            f"mode {img.mode} image holds values in [{values.min():g}, {values.max():g}], outside "
            f"[0, {top:g}]: save it as an 8- or 16-bit PNG"
        )
    return Image.fromarray((values * (255.0 / top)).astype(np.float32))


def _center_crop(img: Image.Image, size: int) -> Image.Image:
    w, h = img.size
    left, top = (w - size) // 2, (h - size) // 2
    return img.crop((left, top, left + size, top + size))


def _read(path: Path, image_size: int, channels: int, crop: int | None) -> torch.Tensor:
    try:
        with open_image(path) as img:
            return pil_to_model_range(img, image_size, channels, crop=crop)
    except ImageReadError:
        raise
    except (OSError, ValueError, Image.DecompressionBombError) as exc:  # a truncated file, say: found decoding
        raise ImageReadError(f"cannot read image {path}: {exc}") from exc


def _verify(path: Path) -> None:
    """Cheap check: PIL identifies the file, its structure (PNG chunk CRCs, say) holds, its mode has a known range."""
    try:
        with open_image(path) as img:
            _value_range(img)
            img.verify()
    except ImageReadError:
        raise
    except Exception as exc:  # PIL raises many kinds here (SyntaxError among them)
        raise ImageReadError(f"cannot read image {path}: {exc}") from exc


class FolderImageDataset(Dataset):
    """Image files decoded on access; item i is (C, image_size, image_size) in [-1, 1]."""

    def __init__(
        self, files: list[Path], *, image_size: int, channels: int, crop: int | None = None, verify: bool | None = None
    ) -> None:
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels}")
        self.files = list(files)
        self.image_size = image_size
        self.channels = channels
        self.crop = crop  # centred square cut before resizing (None: none)
        self.labels: torch.Tensor | None = None  # (N,) class of each file, in the ImageFolder layout
        self.classes: list[str] | None = None  # sorted class folder names
        if verify if verify is not None else len(self.files) <= VERIFY_LIMIT:
            for path in self.files:
                _verify(path)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> torch.Tensor:
        return _read(self.files[index], self.image_size, self.channels, self.crop)  # (C, H, W)
