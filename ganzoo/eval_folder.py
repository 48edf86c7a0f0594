"""A folder of generated images as the samples of an evaluation, sized from every file's header, not the first.

Every file's header is read before any pixel is decoded (PIL opens lazily): a file PIL cannot identify,
a decompression bomb, an image of over MAX_PIXELS pixels or with a side under MIN_SIDE is refused in
one line naming it, whichever place it has in the folder. All images must share one size, which is
the evaluation size (recorded in the protocol); mixed sizes are refused naming a file of each. The
images are scored in RGB when any file is in colour (grayscale ones are repeated to three channels,
which changes no feature), in grayscale only when every file is.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import torch

__all__ = ["is_image_folder", "folder_samples", "scan_folder", "MAX_PIXELS", "MIN_SIDE"]

MAX_PIXELS = 4096 * 4096  # per image: more than any GAN generates, far less than a decompression bomb
MIN_SIDE = 8  # a shorter side than this leaves nothing for a feature extractor to see
GRAY_MODES = ("1", "L", "I", "F")  # and the 16-bit "I;16*" modes


def is_image_folder(path: Any) -> bool:
    """A folder of images that is not a ganzoo model or run folder (those hold config.json)."""
    if not isinstance(path, (str, os.PathLike)) or not os.path.isdir(path):
        return False
    return not os.path.exists(os.path.join(path, "config.json"))


def scan_folder(files: list[Path]) -> tuple[tuple[int, int], int]:
    """((width, height), channels) that every file shares, from the headers alone; ImageReadError otherwise."""
    from .data.image_files import ImageReadError, open_image

    sizes: dict[tuple[int, int], Path] = {}
    counts: Counter = Counter()
    colour = False
    for path in files:
        with open_image(path, MAX_PIXELS, "resize the samples") as img:  # the header only, bounded
            size, mode = img.size, img.mode
        if min(size) < MIN_SIDE:
            raise ImageReadError(f"image {path} is {size[0]}x{size[1]}: a side under {MIN_SIDE} pixels is too small")
        sizes.setdefault(size, path)
        counts[size] += 1
        colour = colour or not (mode in GRAY_MODES or mode.startswith("I;16"))
    if len(sizes) > 1:
        (a, n_a), (b, n_b) = counts.most_common(2)
        raise ImageReadError(
            f"the samples have {len(sizes)} different sizes, so no one evaluation size fits them: "
            f"{n_a:,} are {a[0]}x{a[1]} (e.g. {sizes[a]}), {n_b:,} are {b[0]}x{b[1]} (e.g. {sizes[b]}); "
            f"save every sample at one size"
        )
    return next(iter(sizes)), 3 if colour else 1


def folder_samples(path: Any, num_samples: int | None, seed: int) -> tuple[torch.Tensor, dict[str, Any]]:
    """The images of a folder as samples (N, C, S, S) in [-1, 1], and what the protocol records of them.

    S is the shorter side the files share (a non-square image is centre-cropped, as the data sets are).
    """
    from .data.folder import find_images, load_folder
    from .metrics.builtin import as_images

    files = find_images(path)
    (width, height), channels = scan_folder(files)
    size = min(width, height)
    count = len(files) if num_samples is None else min(num_samples, len(files))
    _check_memory(path, count, channels, size)
    dataset = load_folder(str(path), image_size=size, channels=channels)
    if num_samples is not None and num_samples > len(dataset):
        raise ValueError(
            f"{path} holds {len(dataset):,} images, fewer than the {num_samples:,} samples asked "
            f"for: generate more, or pass -n {len(dataset)} (with --protocol custom)"
        )
    info = {"image_size": size, "channels": channels, "files": f"{len(files):,} images of {width}x{height}"}
    return as_images(dataset, limit=num_samples, seed=seed), info


def _check_memory(path: Any, count: int, channels: int, size: int) -> None:
    """Refuse before decoding when the samples, as float32, would not fit in the memory available now."""
    from .data.images import check_memory

    what = f"{path}: {count:,} images of {channels}x{size}x{size}"
    check_memory(count * channels * size * size * 4, what, "fewer samples (-n, with --protocol custom)")
