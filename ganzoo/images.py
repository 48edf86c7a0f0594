"""Single images in and out of a translator: any size and mode in, the model's square input, and back.

The way in is the CycleGAN/pix2pix authors' test-time pipeline (load_size = crop_size, no flip):
the image converted to RGB (or L for a one-channel model), resized to the model's side with bicubic
resampling, and scaled from [0, 255] to [-1, 1]. The way out maps [-1, 1] to 8-bit pixels, rounded,
at the model's side, or resized (bicubic) back to the input's own width and height.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

SIZES = ("model", "original")  # what size a translated image comes back at


class ImageReadError(ValueError):
    """An input that is not an image PIL can read; the message names it."""


def open_image(source: Any) -> Any:
    """A PIL image from a path (str or Path) or a PIL image, fully decoded; anything else is an ImageReadError."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(source, Image.Image):
        return source
    if not isinstance(source, (str, Path)):
        raise ImageReadError(
            f"expected an image path, a PIL image or a (B, C, H, W) tensor in [-1, 1], got {type(source).__name__}"
        )
    path = Path(source).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"no such image file: {path}")
    try:
        with Image.open(path) as img:
            img.load()
            return img.copy()
    except Image.DecompressionBombError as exc:
        raise ImageReadError(f"{path} is refused by Pillow as a possible decompression bomb ({exc})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(
            f"{path} is not an image PIL can read ({type(exc).__name__}: {str(exc)[:120]}); give a PNG, JPEG, "
            f"WEBP, BMP or TIFF file"
        ) from None


def image_to_tensor(image: Any, channels: int, size: int) -> torch.Tensor:
    """A PIL image -> (1, C, size, size) float32 in [-1, 1]: mode L or RGB, resized (bicubic) to the model's side."""
    from PIL import Image

    image = image.convert("L" if channels == 1 else "RGB")
    if image.size != (size, size):
        image = image.resize((size, size), Image.BICUBIC)
    array = np.asarray(image, dtype=np.float32).reshape(size, size, channels)  # (S, S, C)
    return torch.from_numpy(array.copy()).permute(2, 0, 1)[None].div(127.5).sub(1)


def tensor_to_image(x: torch.Tensor, size: tuple[int, int] | None = None) -> Any:
    """(C, H, W) or (1, C, H, W) in [-1, 1] -> a PIL image (L or RGB), resized (bicubic) to ``size`` (W, H) if given."""
    from PIL import Image

    x = x.detach().float().cpu()
    x = x[0] if x.dim() == 4 else x  # (C, H, W)
    pixels = x.add(1).mul(127.5).round().clamp(0, 255).byte().permute(1, 2, 0).numpy()  # (H, W, C)
    image = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
    if size is not None and image.size != tuple(size):
        image = image.resize(tuple(size), Image.BICUBIC)
    return image


def check_size(size: Any) -> str:
    """``size`` for translating an image: "model" (the model's side) or "original" (the input's own size)."""
    if size not in SIZES:
        raise ValueError(f"size must be 'model' (the model's side) or 'original' (the input's size), got {size!r}")
    return size
