"""Shared fixtures: fresh plugin state per test and fake installed distributions."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

# Tiny test networks run fastest on one thread, and two processes spinning two OpenMP threads each
# on a 2-core machine slow each other down many times over. Set before torch is imported.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402

from ganzoo import plugins  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _fresh_plugins(monkeypatch):
    """Every test starts and ends with freshly loaded plugins and no in-process extras."""
    monkeypatch.delenv("GANZOO_LOAD_PLUGINS", raising=False)
    plugins._extra_plugins.clear()
    plugins.reset()
    yield
    plugins._extra_plugins.clear()
    plugins.reset()


@pytest.fixture(autouse=True)
def _own_ganzoo_cache(tmp_path, monkeypatch):
    """ganzoo's caches (reference features, prepared data) go to the test's folder, never ~/.cache."""
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "ganzoo-cache"))


def make_distribution(root: Path, dist: str, package: str, init_source: str, entry_name: str | None = None) -> Path:
    """Write an importable package plus a .dist-info with a "ganzoo" entry point under ``root``.

    This is what `pip install` leaves in site-packages, so putting ``root`` on sys.path makes the
    plugin discoverable through importlib.metadata exactly as an installed one is.
    """
    pkg = root / package
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(textwrap.dedent(init_source))
    info = root / f"{dist.replace('-', '_')}-0.3.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.3.1\n")
    (info / "entry_points.txt").write_text(f"[ganzoo]\n{entry_name or dist} = {package}\n")
    return root


def run_ganzoo(
    *args: str, env_extra: dict | None = None, pythonpath: list[Path] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """Run the real `ganzoo` CLI in a subprocess (fresh interpreter, fresh plugin discovery); ``timeout``
    only guards against a hang, so it leaves room for a loaded machine."""
    env = dict(os.environ, **(env_extra or {}))
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(str(p) for p in pythonpath)
    return subprocess.run(
        [sys.executable, "-m", "ganzoo", *args], capture_output=True, text=True, env=env, timeout=timeout
    )


# ---- a loopback Hugging Face Hub for hub tests ------------------------------------------------------


@pytest.fixture
def hf_env(tmp_path, monkeypatch):
    """Isolate the client: cache and HF_HOME in tmp_path, no telemetry, no progress bars, online."""
    from huggingface_hub import constants as hf_constants

    home = tmp_path / "hf_home"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    # All of these are read once at import: patch the module attributes the client reads at call time.
    monkeypatch.setattr(hf_constants, "HF_HOME", str(home))
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(hf_constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setattr(hf_constants, "HF_HUB_DISABLE_PROGRESS_BARS", True)
    import importlib

    monkeypatch.setattr(importlib.import_module("huggingface_hub.utils.tqdm"), "HF_HUB_DISABLE_PROGRESS_BARS", True)
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    return home / "hub"


@pytest.fixture
def hub(hf_env):
    """A loopback Hub for the duration of a test; it must log no server errors and leave no threads."""
    import threading

    before = set(threading.enumerate())
    from .hubserver import FakeHub

    with FakeHub() as h:
        yield h
    assert not h.errors, h.errors[0]
    # tqdm's process-wide monitor thread (started by any tqdm, even a disabled one) is not ours.
    leftover = [t for t in threading.enumerate() if t not in before and t.is_alive() and t.name != "tqdm_monitor"]
    assert not leftover, leftover
