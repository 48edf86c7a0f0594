"""Other libraries' checkpoint files: fetched, checked against a pinned sha256 before anything reads them,
and read without running code.

A file comes from a local path, a plain http(s) download (with a stall timeout, into a hidden file
named after this process, removed by the next download if the process died) or the Hugging Face
Hub (ganzoo.hf). A file whose hash differs from its pin is deleted (from the Hub cache too) unread.
Reading is ``torch.load(weights_only=True)`` only; a refusal names the global the pickle asked for.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import pickle
import pickletools
import re
import time
import urllib.request
import uuid
import warnings
import zipfile
from pathlib import Path
from typing import Any
from urllib.error import URLError

import torch

from .. import __version__
from ..hf import HUB_PREFIX, download_file, forget_file
from ..processes import process_alive
from .weights import WeightsError

SHA256 = re.compile(r"[0-9a-f]{64}")  # a pin is a file's full sha256
PREFIX = re.compile(r"[0-9a-f]{8,63}")  # a published prefix of one (OpenMMLab's file names): checked, never a pin
PINS_FILE = "pins.json"  # in cache_root(): the sha256 of first downloads whose upstream publishes no hash
DOWNLOAD_TIMEOUT = 60.0  # seconds a server may send nothing before a download is given up as stalled
DOWNLOAD_NAME = re.compile(r"^\.[0-9a-f]{32}\.download-(\d+)$")  # a download in progress: ".HEX.download-PID"
# what weights_only rebuilds where torch's own list cannot be read
SAFE_GLOBALS = {"collections.OrderedDict", "_codecs.encode", "torch._utils._rebuild_tensor_v2", "torch.FloatStorage"}
SCAN_OPS = 1_000_000  # pickle opcodes looked through for the global a refused file asks for


def cache_root() -> Path:
    """Imported models live in $GANZOO_CACHE/imported (default ~/.cache/ganzoo/imported), one folder each;
    a GANZOO_CACHE that is a file is refused naming it (not blamed on pins.json or a download)."""
    root = Path(os.environ.get("GANZOO_CACHE") or "~/.cache/ganzoo").expanduser() / "imported"
    blocked = next((p for p in (root, *root.parents) if p.exists() and not p.is_dir()), None)
    if blocked is not None:
        raise WeightsError(
            f"{blocked} (from GANZOO_CACHE) is a file, not a folder: imported models and download hashes are kept "
            f"under {root}; point GANZOO_CACHE at a folder"
        )
    return root


def check_pin(pin: Any, what: str) -> str:
    """A pinned sha256, lower case: the file's full hash (a prefix is no pin: too short to stop a forgery)."""
    if not (isinstance(pin, str) and SHA256.fullmatch(pin.lower())):
        hint = (
            " (a published prefix is checked where a catalog entry names it, but it is no pin: pass the file's full "
            "sha256, e.g. from `sha256sum FILE`)"
            if isinstance(pin, str) and PREFIX.fullmatch(pin.lower())
            else ""
        )
        raise WeightsError(f"{what}: a pinned sha256 is the file's full hash, 64 hex digits; got {pin!r}{hint}")
    return pin.lower()


def recorded_pins() -> dict[str, dict[str, str]]:
    """{location: {"sha256", "recorded"}}: the hashes of first downloads whose upstream publishes none."""
    path = cache_root() / PINS_FILE
    try:
        pins = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise WeightsError(
            f"{path} is damaged ({exc}); it records the sha256 of first downloads that later downloads must match: "
            f"restore it from a copy, or delete it to trust the next downloads anew"
        ) from None
    if not (isinstance(pins, dict) and all(isinstance(v, dict) and "sha256" in v for v in pins.values())):
        raise WeightsError(f"{path} is not ganzoo's record of first-download hashes; restore it or delete it")
    return pins


def record_pin(location: str, digest: str) -> Path:
    """Record ``digest`` as the hash every later download of ``location`` must have; returns the record's path."""
    path = cache_root() / PINS_FILE
    pins = recorded_pins()
    pins[location] = {"sha256": digest, "recorded": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{PINS_FILE}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(json.dumps(pins, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


def sha256_of(path: Path) -> str:
    """A file's sha256, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(
    location: str, *, sha256: str | None = None, revision: str | None = None, prefix: str | None = None
) -> tuple[Path, str, bool]:
    """The file at ``location`` (a path, an http(s) URL or "hf-hub:org/repo/path/in/repo"), checked against
    the pin (and a published ``prefix`` of its hash) before anything reads it: (local path, its sha256,
    whether it is a temporary download). A malformed pin is refused before anything is downloaded."""
    if sha256 is not None:
        sha256 = check_pin(sha256, location)
    temporary = hub = False
    if location.startswith(HUB_PREFIX):
        path, hub = _hub_file(location[len(HUB_PREFIX) :], revision), True
    elif location.startswith(("http://", "https://")):
        path, temporary = _download(location), True
    else:
        path = Path(location)
        if not path.is_file():
            raise FileNotFoundError(f"no such checkpoint file: {location}")
    digest = sha256_of(path)
    expected, what = (sha256, "pinned") if sha256 is not None else (prefix, "published prefix")
    if expected is not None and not digest.startswith(expected):
        if temporary:
            path.unlink()
        if hub:  # the Hub cache would serve it again, offline too
            forget_file(path)
        raise WeightsError(
            f"{location} has sha256 {digest[: max(len(expected), 16)]}..., not the {what} {expected}: "
            f"it is not the published file (tampered or corrupt), so it was not opened"
            + (" and was removed from the Hub cache" if hub else "")
        )
    return path, digest, temporary


def _hub_file(spec: str, revision: str | None) -> Path:
    parts = spec.split("/", 2)
    if len(parts) < 3 or not parts[2]:
        raise WeightsError(f"{HUB_PREFIX}{spec}: name a file in a Hub repo as 'hf-hub:org/repo/path/to/file.pth'")
    return download_file("/".join(parts[:2]), parts[2], revision)


def _download(url: str) -> Path:
    """A plain download into the cache's downloads folder, with a progress bar; removed after conversion.
    A server that sends nothing for DOWNLOAD_TIMEOUT seconds is given up, and nothing is left behind."""
    folder = cache_root() / "downloads"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():  # downloads of processes that were killed
        m = DOWNLOAD_NAME.match(old.name)
        if m and not process_alive(int(m.group(1))):
            old.unlink(missing_ok=True)
    path = folder / f".{uuid.uuid4().hex}.download-{os.getpid()}"
    request = urllib.request.Request(url, headers={"User-Agent": f"ganzoo/{__version__}"})
    try:
        with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT) as response, open(path, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with _progress(total, url) as bar:
                while block := response.read(1 << 16):
                    out.write(block)
                    bar.update(len(block))
            if total is not None and out.tell() != total:
                raise OSError(f"the connection closed after {out.tell():,} of {total:,} bytes")
    except BaseException as exc:
        path.unlink(missing_ok=True)
        reason = getattr(exc, "reason", None) or exc
        if isinstance(reason, TimeoutError):
            raise FileNotFoundError(
                f"cannot download {url}: the server sent nothing for {DOWNLOAD_TIMEOUT:g} s (stalled); try again later"
            ) from None
        if isinstance(exc, (URLError, OSError, ValueError, http.client.HTTPException)):
            raise FileNotFoundError(f"cannot download {url}: {reason}") from None
        raise
    return path


def _progress(total: int | None, url: str) -> Any:
    """A progress bar on a terminal (tqdm comes with huggingface_hub), nothing elsewhere."""
    from tqdm import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1][:40], disable=None)


def read_checkpoint(path: Path) -> Any:
    """torch.load with weights_only=True: tensors and plain containers only; anything else is refused, naming
    the global (class, function) the file asks for."""
    try:
        with warnings.catch_warnings():  # torch's remark on a raw pickle's protocol: the refusal below says more
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise WeightsError(
            f"{path} needs more than tensors and plain containers to be read ({_refused_what(path, str(exc))}); "
            f"ganzoo reads checkpoints with torch.load(weights_only=True) only, which runs no code: refused"
        ) from None
    except (RuntimeError, EOFError, ValueError, OSError) as exc:
        raise WeightsError(
            f"{path} is not a readable PyTorch checkpoint ({str(exc).splitlines()[0][:200]}); it may be "
            f"truncated: delete it and download it again"
        ) from None


def _refused_what(path: Path, message: str) -> str:
    """What weights_only refused: the global torch names, else the first one the pickle asks for (read by
    pickletools, which runs nothing), else torch's own reason."""
    named = re.search(r"GLOBAL ([\w.]+)", message)
    if named:
        return f"it asks for the global {named.group(1)}"
    found = _first_unsafe_global(path)
    if found:
        return f"it asks for the global {found}"
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    specific = [ln for ln in lines if not ln.startswith(("Weights only load failed", "Please file", "Check the doc"))]
    return (specific or ["a pickle instruction weights_only does not read"])[0][:200]


def _first_unsafe_global(path: Path) -> str | None:
    """The first global outside what weights_only rebuilds, from the pickle's opcodes (nothing is executed)."""
    try:
        with open(path, "rb") as raw:
            if zipfile.is_zipfile(raw):
                archive = zipfile.ZipFile(raw)
                names = [n for n in archive.namelist() if n.endswith("data.pkl")]
                return _scan(archive.open(names[0])) if names else None
            raw.seek(0)
            return _scan(raw)
    except Exception:  # a damaged pickle: nothing more to name
        return None


def _allowed_globals() -> set[str]:
    """The globals torch.load(weights_only=True) rebuilds (its own list), and those a user allowed."""
    try:
        from torch._weights_only_unpickler import _get_allowed_globals

        allowed = set(_get_allowed_globals())
    except Exception:  # another torch: the few a checkpoint of tensors always asks for
        allowed = set(SAFE_GLOBALS)
    extra = getattr(torch.serialization, "get_safe_globals", list)()
    return allowed | {f"{g.__module__}.{g.__qualname__}" for g in extra if hasattr(g, "__qualname__")}


def _scan(stream: Any) -> str | None:
    """The first global a pickle stream asks for that weights_only does not rebuild, or None."""
    allowed = _allowed_globals()
    memo: dict[int, Any] = {}
    pushed: list[Any] = []
    for count, (op, arg, _) in enumerate(pickletools.genops(stream)):
        if count > SCAN_OPS:
            return None
        if op.name in ("GLOBAL", "INST"):
            name = str(arg).replace(" ", ".")
        elif op.name == "STACK_GLOBAL" and len(pushed) >= 2:
            name = f"{pushed[-2]}.{pushed[-1]}"
        else:
            if op.name == "MEMOIZE" and pushed:
                memo[len(memo)] = pushed[-1]
            elif op.name in ("PUT", "BINPUT", "LONG_BINPUT") and pushed:
                memo[arg] = pushed[-1]
            elif op.name in ("GET", "BINGET", "LONG_BINGET"):
                pushed.append(memo.get(arg))
            elif isinstance(arg, str):
                pushed.append(arg)
            continue
        if name not in allowed:
            return name
    return None
