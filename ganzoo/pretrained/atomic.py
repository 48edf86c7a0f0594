"""Folders put in place whole: two folders swapped in one step, and the hidden folders of killed saves removed.

A save writes a hidden sibling ``.NAME.HEX.tmp-PID`` and swaps it with the folder (Linux
``renameat2(RENAME_EXCHANGE)``; elsewhere two renames, the old folder set aside as
``.NAME.HEX.old-PID`` for an instant). Whatever a killed save leaves, the next save beside it
removes (or, for a set-aside folder whose home is gone, puts back), once its process is gone.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
import sys
import uuid
from pathlib import Path

from ..processes import process_alive

TEMP_FOLDER = re.compile(r"^\.(.+)\.[0-9a-f]{8}\.(tmp|old)-(\d+)$")  # a save in progress: ".NAME.HEX.tmp-PID"
AT_FDCWD, RENAME_EXCHANGE = -100, 2  # renameat2(2): paths relative to the working directory; swap the two


def swap(a: Path, b: Path) -> None:
    """Exchange two folders: in one step where the system can (Linux renameat2), else in two renames."""
    if _exchange(a, b):
        return
    old = b.parent / f".{b.name}.{uuid.uuid4().hex[:8]}.old-{os.getpid()}"
    os.rename(b, old)  # a kill here leaves the old model at ``old``: the next save puts it back (remove_stale_saves)
    try:
        os.rename(a, b)
    except OSError:
        os.rename(old, b)
        raise
    os.rename(old, a)


def _exchange(a: Path, b: Path) -> bool:
    """renameat2(RENAME_EXCHANGE): True when done, False where the system or file system has no such call."""
    if sys.platform != "linux":
        return False
    try:
        call = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # a C library without it
        return False
    call.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if call(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def remove_stale_saves(parent: Path) -> list[Path]:
    """Remove the hidden folders of saves whose process is gone (killed mid-save): an unfinished new model is
    deleted; an old model set aside for a swap is put back where its folder is missing, else deleted."""
    removed = []
    try:
        entries = list(parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        m = TEMP_FOLDER.match(entry.name)
        if not (m and entry.is_dir() and not entry.is_symlink()) or process_alive(int(m.group(3))):
            continue
        home = parent / m.group(1)
        if m.group(2) == "old" and not home.exists():
            os.rename(entry, home)
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def link_or_copy(src: str | Path, dst: str | Path) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system, or one without hard links
        shutil.copy2(src, dst)
