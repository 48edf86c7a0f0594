"""Run folders that lose nothing: one process at a time, never a folder ganzoo did not write.

A run folder is one whose config.json is ganzoo's run record (a JSON object with "ganzoo_version"
and "variant"). A new run goes only into a missing or empty folder; an existing run folder is
continued only with resume, and only once it has a checkpoint. ``claim`` refuses a foreign
folder before writing anything, then takes an exclusive ``fcntl.flock`` on ``.ganzoo.lock``, held
for the whole run (the kernel drops it when the process ends, however it ends, so a killed run
never leaves the folder stuck), and under it checks the rest and removes the temp files that a
crashed process left behind. ``check_before_start`` runs the read-only part early, before data loads.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock; runs there are not protected against a concurrent start
    fcntl = None

LOCK_NAME = ".ganzoo.lock"
CHECKPOINT_NAME = re.compile(r"^step-(\d{9})\.safetensors$")  # in checkpoints/
TEMP_NAME = re.compile(r"^\..+\.tmp-(\d+)$")  # what temp_path names: ".NAME.tmp-PID"


def temp_path(path: Path) -> Path:
    """Where to write ``path`` before renaming it into place: hidden, and named after this process."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all: a temp file, then a rename."""
    tmp = temp_path(path)
    tmp.write_text(text)
    os.replace(tmp, path)


class RunFolderInUseError(FileExistsError):
    """Another process holds the run folder's lock."""


class NotARunFolderError(FileExistsError):
    """The folder holds files that ganzoo did not write; ganzoo writes nothing there."""


def is_run_folder(folder: Path) -> bool:
    """True when ``folder/config.json`` is ganzoo's run record."""
    try:
        record = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and "ganzoo_version" in record and "variant" in record


def has_checkpoints(folder: Path) -> bool:
    folder = folder / "checkpoints"
    return folder.is_dir() and any(CHECKPOINT_NAME.match(p.name) for p in folder.iterdir())


def check_not_foreign(folder: str | Path, *, resume: bool) -> None:
    """Refuse, without writing anything, a folder that holds files ganzoo did not write."""
    folder = Path(folder)
    if resume:
        if not is_run_folder(folder):
            raise FileNotFoundError(f"cannot resume {folder}: it has no ganzoo config.json (is it a ganzoo run folder?)")
        return
    if folder.exists() and not folder.is_dir():
        raise NotARunFolderError(f"--out {folder} is a file, not a folder; choose another --out")
    if not folder.is_dir() or is_run_folder(folder):
        return
    others = [p for p in folder.iterdir() if p.name != LOCK_NAME and not TEMP_NAME.match(p.name)]
    if others:
        shown = ", ".join(sorted(p.name for p in others)[:3]) + (", ..." if len(others) > 3 else "")
        raise NotARunFolderError(f"--out {folder} is not empty ({shown}) and is not a ganzoo run folder; ganzoo "
                                 f"writes only into a new or empty folder: choose another --out")


def check_before_start(folder: str | Path, *, resume: bool) -> None:
    """The quick checks that need no lock and write nothing (foreign folder, folder in use): before data loads."""
    check_not_foreign(folder, resume=resume)
    RunLock.check_free(Path(folder))


def check_new_run(folder: Path) -> None:
    """Under the lock: refuse a run folder that a new run would overwrite."""
    check_not_foreign(folder, resume=False)
    if is_run_folder(folder):
        if has_checkpoints(folder):
            raise FileExistsError(f"run folder {folder} already has checkpoints; resume it with "
                                  f"`ganzoo train --resume {folder}` or choose a new --out")
        raise FileExistsError(f"run folder {folder} holds a run that stopped before its first checkpoint, so there "
                              f"is nothing to resume; delete the folder or choose a new --out")


def check_resume(folder: Path) -> None:
    """Under the lock: refuse to resume a folder without a checkpoint."""
    check_not_foreign(folder, resume=True)
    if not has_checkpoints(folder):
        raise FileNotFoundError(f"nothing to resume in {folder}: no checkpoints/step-*.safetensors there")


class RunLock:
    """An exclusive lock on a run folder, held until ``release`` or the end of the process."""

    def __init__(self, folder: Path):
        self.path = folder / LOCK_NAME
        self._fd: int | None = None
        if fcntl is None:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # BlockingIOError: someone holds it
            error = _in_use(folder, fd)
            os.close(fd)
            raise error from None
        os.ftruncate(fd, 0)
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": started}).encode())
        self._fd = fd

    @staticmethod
    def check_free(folder: Path) -> None:
        """Raise RunFolderInUseError if a process holds the folder's lock now; takes nothing, creates nothing."""
        if fcntl is None:
            return
        try:
            fd = os.open(folder / LOCK_NAME, os.O_RDONLY)
        except OSError:  # no lock file (or no folder): nobody holds it
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise _in_use(folder, fd) from None
        finally:
            os.close(fd)  # closing drops a lock this probe took

    def release(self) -> None:
        """Drop the lock; the file stays (removing it could let two processes lock two different files)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _in_use(folder: Path, fd: int) -> RunFolderInUseError:
    holder = os.read(fd, 4096).decode(errors="replace")
    return RunFolderInUseError(f"run folder {folder} is in use by {_describe(holder)}; wait for it to finish or "
                               f"choose another --out")


def _describe(holder: str) -> str:
    try:
        info = json.loads(holder)
        return f"process {info['pid']} on {info['host']} (started {info['started']})"
    except (ValueError, KeyError, TypeError):  # it has locked the file but not yet written who it is
        return "another process"


def claim(folder: Path, *, resume: bool) -> RunLock:
    """Lock the folder for this process, check what it holds, and remove stale temp files.

    Only the foreign-folder rule is checked before the lock (a foreign folder must not even get a
    lock file); the rest under it, so that a run in progress is reported as in use, not as a
    run that stopped before its first checkpoint.
    """
    check_not_foreign(folder, resume=resume)
    folder.mkdir(parents=True, exist_ok=True)
    lock = RunLock(folder)
    try:
        (check_resume if resume else check_new_run)(folder)
        remove_stale_temp_files(folder)
    except BaseException:
        lock.release()
        raise
    return lock


def remove_stale_temp_files(folder: Path) -> list[Path]:
    """Remove ganzoo's own temp files (``.NAME.tmp-PID``) in the run folder whose process is gone."""
    removed = []
    for parent in (folder, folder / "checkpoints"):
        if not parent.is_dir():
            continue
        for path in parent.iterdir():
            m = TEMP_NAME.match(path.name)
            if m and path.is_file() and not _alive(int(m.group(1))):
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # exists but is someone else's (or cannot tell): keep its file
        return True
    return True
