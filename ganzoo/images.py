"""Single images in and out of a translator: any size and mode in, the model's square input, and back.

The way in is the CycleGAN/pix2pix authors' test-time pipeline (load_size = crop_size, no flip):
the image converted to RGB (or L for a one-channel model), resized to the model's side with bicubic
resampling, and scaled from [0, 255] to [-1, 1]. The way out maps [-1, 1] to 8-bit pixels, rounded,
at the model's side, or resized (bicubic) back to the input's own width and height.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

SIZES = ("model", "original")  # what size a translated image comes back at


MAX_PIXELS = 8192 * 8192  # per image decoded: a 60-megapixel photo passes, a 9000x9000 bomb does not


class ImageReadError(ValueError):
    """An image file that PIL cannot read, or will not decode; the message names the file."""


@contextmanager
def open_image(
    path: Any, max_pixels: int = MAX_PIXELS, fix: str = "resize it, or remove it from the folder", *, name: Any = None
) -> Iterator[Any]:
    """PIL's lazy open of ``path`` (a file name or a binary file), refused (ImageReadError naming it, or ``name``)
    before any pixel is decoded when PIL cannot identify it, calls it a decompression bomb, or it has more than
    ``max_pixels`` pixels."""
    from PIL import Image

    path_shown = path if name is None else name
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageReadError(f"cannot read image {path_shown}: a decompression bomb ({exc})") from None
    except Exception as exc:  # PIL raises many kinds for a file it cannot identify (SyntaxError among them)
        raise ImageReadError(f"cannot read image {path_shown}: {exc}") from None
    with img:
        width, height = img.size
        if width * height > max_pixels:
            raise ImageReadError(
                f"image {path_shown} is {width}x{height} pixels, more than the {max_pixels:,} ganzoo decodes per "
                f"image (a decompression bomb, or a picture far larger than any model's): {fix}"
            )
        yield img


def read_image(source: Any) -> Any:
    """A PIL image from a path (str or Path) or a PIL image, fully decoded; checked from its header first
    (see ``open_image``), so anything else, an unreadable file or a bomb is an ImageReadError naming it."""
    from PIL import Image

    if isinstance(source, Image.Image):
        return source
    if not isinstance(source, (str, Path)):
        raise ImageReadError(
            f"expected an image path, a PIL image or a (B, C, H, W) tensor in [-1, 1], got {type(source).__name__}"
        )
    path = Path(source).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"no such image file: {path}")
    with open_image(path, fix="resize the image before translating it") as img:
        try:
            img.load()
            return img.copy()
        except (OSError, SyntaxError, ValueError) as exc:
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
