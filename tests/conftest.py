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


def run_ganzoo(*args: str, env_extra: dict | None = None, pythonpath: list[Path] | None = None) -> subprocess.CompletedProcess:
    """Run the real `ganzoo` CLI in a subprocess (fresh interpreter, fresh plugin discovery)."""
    env = dict(os.environ, **(env_extra or {}))
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(str(p) for p in pythonpath)
    return subprocess.run([sys.executable, "-m", "ganzoo", *args], capture_output=True, text=True, env=env, timeout=120)
