"""Run folders that lose nothing: one process at a time, never a folder ganzoo did not write.

``RunFolder`` alone knows a run's files: config.json (the run record), metrics.jsonl, samples/
and checkpoints/; it reads the record, claims the folder and reads the networks' weights back.

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
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..processes import process_alive
from .files import CHECKPOINT_NAME, TEMP_NAME, atomic_write_text, checkpoint_name, list_checkpoints, temp_path

if TYPE_CHECKING:
    import torch

try:
    import fcntl
except ImportError:  # Windows: no flock; runs there are not protected against a concurrent start
    fcntl = None

LOCK_NAME = ".ganzoo.lock"
RECORD_NAME = "config.json"
RECORD_SHAPES = {"variant": str, "config": dict, "data": dict, "engine": dict}  # what a resume needs

__all__ = [
    "RunFolder",
    "RunLock",
    "RunFolderInUseError",
    "NotARunFolderError",
    "claim",
    "check_before_start",
    "is_run_folder",
    "has_checkpoints",
    "remove_stale_temp_files",
    "atomic_write_text",
    "temp_path",
    "CHECKPOINT_NAME",
    "TEMP_NAME",
    "LOCK_NAME",
]


class RunFolder:
    """One run folder's files: where each lives, the run record, the lock, and the checkpoints' weights."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.config_path = self.path / RECORD_NAME
        self.checkpoints_dir = self.path / "checkpoints"
        self.metrics_path = self.path / "metrics.jsonl"

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def sample_path(self, step: int) -> Path:
        """Where the sample grid at ``step`` goes."""
        return self.path / "samples" / f"step-{step:06d}.png"

    def checkpoint_path(self, step: int) -> Path:
        """Where the checkpoint at ``step`` goes."""
        return self.checkpoints_dir / checkpoint_name(step)

    def checkpoints(self) -> list[Path]:
        """Complete checkpoints, oldest first."""
        return list_checkpoints(self.checkpoints_dir)

    def is_run_folder(self) -> bool:
        """True when config.json is ganzoo's run record."""
        return is_run_folder(self.path)

    # ---- the lock ---------------------------------------------------------------------------------

    def check_before_start(self, *, resume: bool) -> None:
        """The quick checks that need no lock and write nothing (foreign folder, folder in use)."""
        check_before_start(self.path, resume=resume)

    def claim(self, *, resume: bool) -> RunLock:
        """Lock the folder for this process, check what it holds, and remove stale temp files (see ``claim``)."""
        return claim(self.path, resume=resume)

    # ---- the run record (config.json) -------------------------------------------------------------

    def read_record(self) -> dict[str, Any]:
        """config.json, checked for the keys a resume needs; errors name the file and the fix."""
        from ..config import ConfigError

        path = self.config_path
        if not path.is_file():
            raise FileNotFoundError(f"cannot resume {self.path}: it has no config.json (is it a ganzoo run folder?)")
        try:
            record = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not valid JSON ({exc}); restore it from a copy or start a new run") from None
        if not isinstance(record, dict):
            raise ConfigError(f"{path} is not a ganzoo run record (a JSON object with {', '.join(RECORD_SHAPES)})")
        for key, kind in RECORD_SHAPES.items():
            if not isinstance(record.get(key), kind):
                what = "is missing" if key not in record else f"is not a {kind.__name__}"
                raise ConfigError(
                    f"{path}: key {key!r} {what}; the file was edited or damaged: restore it from a "
                    f"copy (ganzoo writes it when a run starts) or start a new run"
                )
        if not isinstance(record["data"].get("spec"), str):
            raise ConfigError(
                f"{path}: 'data' has no 'spec' (the --data the run trains on); restore it or start a new run"
            )
        return record

    def write_record(self, record: dict[str, Any]) -> None:
        """Write config.json atomically."""
        atomic_write_text(self.config_path, json.dumps(record, indent=2) + "\n")

    def record_changes(
        self, step: int, changes: dict[str, Any], config_dict: dict[str, Any], engine_dict: dict[str, Any]
    ) -> None:
        """On a resume with new settings: config.json takes them, and keeps a history of what changed when.

        A resume on another number of processes has ``changes["world_size"]``: the record's world size follows.
        """
        record = json.loads(self.config_path.read_text())
        record["config"] = config_dict
        record["engine"] = engine_dict
        if "world_size" in changes:
            record["world_size"] = changes["world_size"]
        record.setdefault("resumed", []).append({"step": step, **changes})
        self.write_record(record)

    # ---- checkpoints --------------------------------------------------------------------------------

    def find_checkpoint(self, checkpoint: str | Path | None = None) -> Path:
        """The newest complete checkpoint, or the one named ``checkpoint`` (a file of checkpoints/)."""
        found = self.checkpoints()
        if not found:
            raise FileNotFoundError(f"run {self.path} has no checkpoints yet")
        if checkpoint is None:
            return found[-1]
        matches = [p for p in found if p.name == Path(checkpoint).name]
        if not matches:
            raise FileNotFoundError(
                f"{checkpoint} is not a complete checkpoint of run {self.path}; it has "
                f"{', '.join(p.name for p in found)}"
            )
        return matches[0]

    def read_weights(
        self, checkpoint: str | Path | None = None, *, ema: bool = True
    ) -> tuple[Path, dict[str, dict[str, torch.Tensor]]]:
        """The networks' weights {net: state_dict} of the given or newest checkpoint (checksum verified),
        with the EMA copy in place of the network it averages unless ``ema=False``."""
        from .checkpoint import ema_net_of, network_weights, read_checkpoint

        path = self.find_checkpoint(checkpoint)
        tensors, header = read_checkpoint(path)
        return path, network_weights(tensors, ema_net_of(header, tensors), ema=ema)

    def read_latest(self) -> tuple[Path, dict[str, torch.Tensor], dict[str, Any]]:
        """The newest checkpoint's tensors and header, for a resume; a corrupt one names the previous good one."""
        from .checkpoint import read_latest

        return read_latest(self.checkpoints_dir, f"ganzoo train --resume {self.path}")

    def save_checkpoint(self, step: int, tensors: dict[str, torch.Tensor], header: dict[str, Any], keep: int) -> Path:
        """Write the checkpoint at ``step`` atomically, then keep only the newest ``keep`` (0: all)."""
        from .checkpoint import prune, save_checkpoint

        path = self.checkpoint_path(step)
        save_checkpoint(path, tensors, header)
        prune(self.checkpoints_dir, keep)
        return path


class RunFolderInUseError(FileExistsError):
    """Another process holds the run folder's lock."""


class NotARunFolderError(FileExistsError):
    """The folder holds files that ganzoo did not write; ganzoo writes nothing there."""


def is_run_folder(folder: Path) -> bool:
    """True when ``folder/config.json`` is ganzoo's run record."""
    try:
        record = json.loads((Path(folder) / RECORD_NAME).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and "ganzoo_version" in record and "variant" in record


def has_checkpoints(folder: Path) -> bool:
    """True when the run folder holds at least one complete checkpoint."""
    return bool(RunFolder(folder).checkpoints())


def check_not_foreign(folder: str | Path, *, resume: bool) -> None:
    """Refuse, without writing anything, a folder that holds files ganzoo did not write."""
    folder = Path(folder)
    if resume:
        if not is_run_folder(folder):
            raise FileNotFoundError(
                f"cannot resume {folder}: it has no ganzoo config.json (is it a ganzoo run folder?)"
            )
        return
    if folder.exists() and not folder.is_dir():
        raise NotARunFolderError(f"--out {folder} is a file, not a folder; choose another --out")
    if not folder.is_dir() or is_run_folder(folder):
        return
    others = [p for p in folder.iterdir() if p.name != LOCK_NAME and not TEMP_NAME.match(p.name)]
    if others:
        shown = ", ".join(sorted(p.name for p in others)[:3]) + (", ..." if len(others) > 3 else "")
        raise NotARunFolderError(
            f"--out {folder} is not empty ({shown}) and is not a ganzoo run folder; ganzoo "
            f"writes only into a new or empty folder: choose another --out"
        )


def check_before_start(folder: str | Path, *, resume: bool) -> None:
    """The quick checks that need no lock and write nothing (foreign folder, folder in use): before data loads."""
    check_not_foreign(folder, resume=resume)
    RunLock.check_free(Path(folder))


def check_new_run(folder: Path) -> None:
    """Under the lock: refuse a run folder that a new run would overwrite."""
    check_not_foreign(folder, resume=False)
    if is_run_folder(folder):
        if has_checkpoints(folder):
            raise FileExistsError(
                f"run folder {folder} already has checkpoints; resume it with "
                f"`ganzoo train --resume {folder}` or choose a new --out"
            )
        raise FileExistsError(
            f"--out {folder} is a published model folder (its config.json describes a saved model, not a run); "
            f"a run never writes over it: choose another --out"
            if (folder / "model.safetensors").is_file()
            and "engine" not in json.loads((folder / RECORD_NAME).read_text())
            else f"run folder {folder} holds a run that stopped before its first checkpoint, so there "
            f"is nothing to resume; delete the folder or choose a new --out"
        )


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
    return RunFolderInUseError(
        f"run folder {folder} is in use by {_describe(holder)}; wait for it to finish or choose another --out"
    )


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
            if m and path.is_file() and not process_alive(int(m.group(1))):
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed
