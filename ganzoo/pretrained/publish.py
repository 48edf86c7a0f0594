"""Publishing to the Hugging Face Hub: a model, or a training run's latest weights, saved and uploaded as one commit."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from ..engine.runfolder import RunFolder
from ..hf import HUB_PREFIX, upload_folder
from ..model import GanModel
from .card import recipe_command
from .folder import save_pretrained
from .run import load_run


def push_to_hub(
    model: GanModel,
    repo_id: str,
    *,
    revision: str | None = None,
    private: bool = False,
    token: str | None = None,
    commit_message: str | None = None,
    **save_options: Any,
) -> str:
    """save_pretrained into a temp folder and upload it as one commit; returns the commit sha."""
    with tempfile.TemporaryDirectory() as tmp:
        name = save_options.pop("name", HUB_PREFIX + repo_id)
        folder = save_pretrained(model, Path(tmp) / "model", name=name, **save_options)  # never a path from repo_id
        return upload_folder(
            folder,
            repo_id,
            revision=revision,
            private=private,
            token=token,
            commit_message=commit_message or f"Upload {model.variant.name} model with ganzoo",
        )


def push_run(run: str | Path, repo_id: str, **options: Any) -> str:
    """Publish a training run: its latest (EMA) weights, with its data and recipe on the model card."""
    record = RunFolder(run).read_record()
    model = load_run(run)
    options.setdefault("data", record.get("data"))
    options.setdefault("recipe", recipe_command(record))
    return push_to_hub(model, repo_id, **options)
