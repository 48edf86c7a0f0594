"""Which output paths ganzoo may write: the policy behind `ganzoo sample -o`.

ganzoo writes an image grid to a file with an image suffix, or one PNG per sample into a folder,
and overwrites only images: an existing file that is not an image was not written by ganzoo, so
it is refused rather than replaced. The checks run before any model loads.
"""

from __future__ import annotations

from pathlib import Path

GRID_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")  # formats PIL writes


class TargetRefused(ValueError):
    """An output path that exists and holds something ganzoo did not write (not an image)."""


class BadTargetName(ValueError):
    """An output path whose name cannot be written as asked (an unknown image suffix, say)."""


def grid_target(target: Path, n: int) -> bool:
    """True for one grid image at ``target``, False for a folder of PNGs (a folder, or a path without a
    suffix); refuses an unknown suffix and any existing file that is not an image, which ganzoo did not write."""
    if target.is_dir():
        for path in (target / f"{i:05d}.png" for i in range(n)):
            refuse_non_image(path)
        return False
    suffix = target.suffix.lower()
    if target.exists() and not (suffix in GRID_SUFFIXES and is_image(target)):
        raise TargetRefused(
            f"{target} exists and is not an image{' folder' if not suffix else ''}; "
            f"ganzoo will not overwrite it: choose another -o"
        )
    if not suffix:
        return False
    if suffix not in GRID_SUFFIXES:
        raise BadTargetName(
            f"{target.name!r} has suffix {suffix!r}, not an image format: use "
            f"{', '.join(GRID_SUFFIXES)} for one grid, or a path without a suffix for a folder of PNGs"
        )
    from PIL import features

    if suffix == ".webp" and not features.check("webp"):
        raise BadTargetName("this Pillow cannot write WEBP: use .png or .jpg")
    return True


def refuse_non_image(path: Path) -> None:
    """Refuse to overwrite ``path`` when it exists and is not an image."""
    if path.exists() and not is_image(path):
        raise TargetRefused(f"{path} exists and is not an image; ganzoo will not overwrite it: choose another -o")


def is_image(path: Path) -> bool:
    """Whether Pillow reads ``path`` as an intact image."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.verify()
        return True
    except Exception:
        return False
