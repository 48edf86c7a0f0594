"""Shared fixtures: fresh plugin state per test and fake installed distributions."""

from __future__ import annotations

import hashlib
import json
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


@pytest.fixture
def http_files(tmp_path):
    """A loopback HTTP server for a folder of files (the plain URLs upstreams publish): (folder, base URL)."""
    import http.server
    import threading
    from functools import partial

    folder = tmp_path / "served"
    folder.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def load_spy(monkeypatch):
    """Every torch.load call's weights_only, recorded (the call still made)."""
    import torch

    calls, real = [], torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    return calls


def throwaway_venv(root: Path) -> Path:
    """A venv at ``root`` whose interpreter also sees this interpreter's site folders (a .pth file adds them, with
    their own .pth files: editable installs included); pip run there installs into the venv, nowhere else, so a
    test that installs a package changes no other test's environment. Returns its python."""
    import venv

    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(root)
    python = root / ("Scripts" if os.name == "nt" else "bin") / ("python.exe" if os.name == "nt" else "python")
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = [p for p in sys.path if p and os.path.basename(p) in ("site-packages", "dist-packages")]
    (Path(purelib) / "ganzoo_host_site.pth").write_text(
        "import site; " + "; ".join(f"site.addsitedir({p!r})" for p in ours) + "\n"
    )
    return python


def peak_rss_of(code: str, imports: str = "import torch, ganzoo") -> dict:
    """Run ``code`` (which sets ``result``) in a fresh one-thread interpreter after ``imports``; ``result`` comes
    back with the peak RSS growth in MB over the code's start (resource.getrusage ru_maxrss)."""
    start = "start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss"
    head = f"import json, resource, sys\n{imports}\n{start}\nresult = {{}}\n"
    tail = """
        result["grew_mb"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - start) / 1024
        print(json.dumps(result))
        """
    script = "\n".join([head, textwrap.dedent(code), textwrap.dedent(tail)])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def sha256_of(path: Path) -> str:
    """The full sha256 of a file, as catalog entries pin it."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def register_entry(plugin_name: str, **card) -> None:
    """Register one catalog entry in-process, as a third-party plugin would: an import with test defaults
    (summary, weights "import", recipe "-") that ``card``'s fields complete or replace."""
    import ganzoo

    fields = {"summary": "test import", "weights": "import", "recipe": "-", **card}

    class Entry:
        @ganzoo.hookimpl
        def ganzoo_register_models(register):
            register(ganzoo.ModelCard(**fields))

    plugins.register_plugin(Entry, plugin_name)
