"""Which output paths ganzoo may write: the policy behind `ganzoo sample -o`.

ganzoo writes an image grid to a file with an image suffix, or one PNG per sample into a folder,
and overwrites only images: an existing file that is not an image was not written by ganzoo, so
it is refused rather than replaced. A symbolic link is never written through: one at a path ganzoo
would write is refused. The checks run before any model loads, and leave nothing behind.
"""

from __future__ import annotations

import errno
import os
import re
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
        for entry in os.scandir(target):  # only the files there: n may be far more
            if PNG_NAME.fullmatch(entry.name) and int(entry.name[:-4]) < n:
                refuse_non_image(Path(entry.path))
        return False
    refuse_link(target)
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


PNG_NAME = re.compile(r"[0-9]{5,}\.png")  # the names of a folder's samples: 00000.png, 00001.png, ...
MIN_PNG_BYTES = 67  # the smallest PNG file: signature, header, one data chunk and the end chunk


def refuse_non_image(path: Path) -> None:
    """Refuse to overwrite ``path`` when it exists and is not an image, or is a link."""
    refuse_link(path)
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


def refuse_link(path: Path) -> None:
    """Refuse a symbolic link where ganzoo would write a file: it would write wherever the link points."""
    if path.is_symlink():
        raise TargetRefused(
            f"{path} is a symbolic link (to {os.readlink(path)}); ganzoo does not write through links: "
            f"remove it or choose another -o"
        )


def refuse_unwritable(target: Path, as_grid: bool, files: int) -> None:
    """Refuse an output ganzoo cannot write, before a model loads: a folder it cannot create files in (/proc,
    /sys, a read-only one), a grid file it cannot open (immutable), or ``files`` PNGs more than the disk holds."""
    folder = target.parent if as_grid else target
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise TargetRefused(f"cannot write {target}: {existing} is not a folder; choose another -o")
    probe = existing / f".ganzoo-probe-{os.getpid()}"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(probe)
        if as_grid and target.exists():
            os.close(os.open(target, os.O_WRONLY))  # no O_TRUNC: the file is left as it is
    except OSError as exc:
        where = target if as_grid and target.exists() and exc.errno in (errno.EPERM, errno.EACCES) else existing
        what = f"cannot write {where}" if where == target else f"cannot create files in {where}"
        raise TargetRefused(f"{what}: {exc.strerror}; choose another -o") from None
    if as_grid:
        return
    fs = os.statvfs(existing)
    if fs.f_files and files > fs.f_favail:
        raise TargetRefused(
            f"{files:,} PNG files are more than the {fs.f_favail:,} files the file system of {existing} has room "
            f"for: ask for fewer samples (-n) or choose another -o"
        )
    if files * MIN_PNG_BYTES > fs.f_bavail * fs.f_frsize:
        raise TargetRefused(
            f"{files:,} PNG files need over {files * MIN_PNG_BYTES / 2**30:,.1f} GiB, more than the "
            f"{fs.f_bavail * fs.f_frsize / 2**30:,.1f} GiB free at {existing}: ask for fewer samples (-n) or "
            f"choose another -o"
        )
