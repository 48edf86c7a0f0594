"""Hugging Face Hub transfer: repo names checked, whole repos and single files fetched, folders uploaded.

Everything ganzoo sends to or fetches from the Hub goes through here: published models
(ganzoo.pretrained), data sets (ganzoo.data.hub_data) and other libraries' releases (ganzoo.importers).
It knows nothing of models, only of repos and files. ``HF_ENDPOINT`` points it at another Hub (a
mirror, a test server); huggingface_hub is imported only when a transfer happens.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

HUB_PREFIX = "hf-hub:"
MAX_FILENAME = 1000  # characters of a path inside a repo
REVISION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,254}")  # branch, tag, "refs/pr/N" or commit sha


class ModelNameError(ValueError):
    """A malformed model name: a Hub repo id or revision that is not valid."""


def endpoint() -> str | None:
    """The Hub to talk to: ``HF_ENDPOINT`` when set, else huggingface_hub's default."""
    return os.environ.get("HF_ENDPOINT") or None


def check_hub_name(repo_id: str, revision: str | None) -> None:
    """Refuse a repo id or revision that is not a plain Hub name, before either is used to build a path or URL."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        raise ModelNameError(
            f"{HUB_PREFIX}{repo_id} is not a valid Hub repo id: write it as 'hf-hub:org/name' "
            f"(letters, digits, '-', '_', '.'; at most 96 characters)"
        ) from None
    if revision is not None and not (
        REVISION.fullmatch(revision)
        and ".." not in revision
        and "//" not in revision
        and not revision.endswith(("/", ".lock"))
    ):
        raise ModelNameError(
            f"{revision!r} is not a valid Hub revision: give a branch, a tag or a commit sha "
            f"(letters, digits, '.', '_', '-', '/'; no '..')"
        )


def snapshot(
    repo_id: str,
    revision: str | None,
    *,
    repo_type: str = "model",
    allow_patterns: list[str] | None = None,
    kind: str = "Hub repo",
    shown: str | None = None,
) -> Path:
    """A repo's files at ``revision`` in the Hub cache (fetched, or found there offline); errors say which repo
    (``kind`` names it, "Hub data set" say; ``shown`` is how the user wrote it)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        path = snapshot_download(
            repo_id, repo_type=repo_type, revision=revision, endpoint=endpoint(), allow_patterns=allow_patterns
        )
    except RepositoryNotFoundError:
        raise FileNotFoundError(f"{kind} {repo_id!r} not found (or it is private: pass a token via HF_TOKEN)") from None
    except RevisionNotFoundError:
        raise FileNotFoundError(f"{kind} {repo_id!r} has no revision {revision!r}") from None
    except LocalEntryNotFoundError:
        raise FileNotFoundError(
            f"{shown or repo_id}@{revision or 'main'} is not in the Hub cache and the Hub cannot be reached "
            f"(offline: HF_HUB_OFFLINE is set, or no network); download it once while online"
        ) from None
    return Path(path)


def check_hub_filename(repo_id: str, filename: str) -> None:
    """Refuse a path in a repo that is not a plain relative one ('..', an absolute path, a backslash, a NUL),
    before the Hub client joins it to a cache path."""
    parts = filename.split("/")
    if len(filename) > MAX_FILENAME or "\\" in filename or "\0" in filename or {"", ".", ".."} & set(parts):
        raise ModelNameError(
            f"{filename[:80]!r} does not name a file in Hub repo {repo_id!r}: give the file's path inside the "
            f"repo, as in 'hf-hub:org/repo/weights/model.pth' (no '..' or '.', no leading '/', no backslash)"
        )


def download_file(repo_id: str, filename: str, revision: str | None) -> Path:
    """One file of a model repo in the Hub cache (fetched, or found there offline); the names are checked first."""
    check_hub_name(repo_id, revision)
    check_hub_filename(repo_id, filename)
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        return Path(hf_hub_download(repo_id, filename, revision=revision, endpoint=endpoint()))
    except RepositoryNotFoundError:
        raise FileNotFoundError(
            f"Hub repo {repo_id!r} not found (or it is private: pass a token via HF_TOKEN)"
        ) from None
    except RevisionNotFoundError:
        raise FileNotFoundError(f"Hub repo {repo_id!r} has no revision {revision!r}") from None
    except LocalEntryNotFoundError:
        raise FileNotFoundError(
            f"{repo_id}/{filename} is not in the Hub cache and the Hub cannot be reached "
            f"(offline: HF_HUB_OFFLINE is set, or no network); download it once "
            f"while online"
        ) from None
    except EntryNotFoundError:
        raise FileNotFoundError(f"Hub repo {repo_id!r} has no file {filename!r}") from None


def forget_file(path: Path) -> None:
    """Remove a file ``download_file`` gave from the Hub cache (its snapshot entry and the blob it points to),
    so that a file refused as tampered is not found there again."""
    blob = Path(os.path.realpath(path))
    Path(path).unlink(missing_ok=True)
    blob.unlink(missing_ok=True)


def upload_folder(
    folder: Path,
    repo_id: str,
    *,
    revision: str | None = None,
    private: bool = False,
    token: str | None = None,
    commit_message: str,
) -> str:
    """Upload every file of ``folder`` to a model repo (made if absent; ``revision`` a branch, made too) as
    one commit; returns the commit sha."""
    from huggingface_hub import HfApi

    api = HfApi(endpoint=endpoint(), token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    if revision is not None and revision != "main":
        api.create_branch(repo_id, branch=revision, exist_ok=True)
    info = api.upload_folder(repo_id=repo_id, folder_path=str(folder), revision=revision, commit_message=commit_message)
    return info.oid
