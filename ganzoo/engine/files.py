"""File names and atomic writes shared by the run folder and its checkpoints (no torch needed)."""

from __future__ import annotations

import os
import re
from pathlib import Path

CHECKPOINT_NAME = re.compile(r"^step-(\d{9})\.safetensors$")  # in checkpoints/
TEMP_NAME = re.compile(r"^\..+\.tmp-(\d+)$")  # what temp_path names: ".NAME.tmp-PID"


def checkpoint_name(step: int) -> str:
    """The file name of the checkpoint at ``step``, as CHECKPOINT_NAME matches it."""
    return f"step-{step:09d}.safetensors"


def temp_path(path: Path) -> Path:
    """Where to write ``path`` before renaming it into place: hidden, and named after this process."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all: a temp file, then a rename."""
    tmp = temp_path(path)
    tmp.write_text(text)
    os.replace(tmp, path)


def list_checkpoints(folder: Path) -> list[Path]:
    """Complete checkpoints in ``folder`` (a run's checkpoints/), oldest first."""
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := CHECKPOINT_NAME.match(p.name))]
    return [p for _, p in sorted(found)]
