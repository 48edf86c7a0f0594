"""The example plugin examples/ganzoo-lsgan, installed for real with pip into a throwaway interpreter.

The throwaway interpreter (``plugin_python``) is a venv in a temporary folder that sees this
interpreter's packages (ganzoo, torch, pip) and installs into its own site-packages, so the
install changes no other test's environment: tests running beside these (pytest-xdist workers)
never see lsgan. Everything after the install runs in fresh interpreters of that venv, so plugin
discovery goes through the installed distribution's entry point exactly as it does for a user.
The module-scoped fixtures ``installed_lsgan`` (the installed project) and ``lsgan_run`` (a run
folder trained through the CLI) are what further end-to-end tests of a third-party plugin build
on: publishing it, loading it back, benchmarking it. The plugin is uninstalled when the module's
tests are done, and the venv is thrown away.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .conftest import REPO, throwaway_venv
from .test_install import OFFLINE_BUILD

EXAMPLE = REPO / "examples" / "ganzoo-lsgan"
DIST = "ganzoo-lsgan"
TINY_CLI = ["--image-size", "16", "--channels", "1", "-c", "ngf=8", "-c", "ndf=8"]


PYTHON: Path | None = None  # the throwaway interpreter, set by the plugin_python fixture


def _python() -> str:
    assert PYTHON is not None, "the plugin_python fixture sets up the throwaway interpreter first"
    return str(PYTHON)


def pip(*args: str) -> subprocess.CompletedProcess:
    """pip of the throwaway interpreter, offline (no index, no version check)."""
    return subprocess.run(
        [_python(), "-m", "pip", "--disable-pip-version-check", *args], capture_output=True, text=True, timeout=300
    )


def run_ganzoo(*args: str, env_extra: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """The real `ganzoo` CLI in a fresh throwaway interpreter (fresh plugin discovery)."""
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([_python(), "-m", "ganzoo", *args], capture_output=True, text=True, env=env, timeout=timeout)


def python_in_subprocess(code: str, *args: str) -> subprocess.CompletedProcess:
    """Run ``code`` (dedented) in a fresh throwaway interpreter with ``args`` as sys.argv[1:]."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(
        [_python(), "-c", textwrap.dedent(code), *args], capture_output=True, text=True, env=env, timeout=300
    )


@pytest.fixture(scope="module")
def plugin_python(tmp_path_factory) -> Path:
    """A venv in a temporary folder whose interpreter also sees this interpreter's site folders (a .pth file
    adds them, with their own .pth files: editable installs included); pip run there installs into the venv."""
    global PYTHON
    python = throwaway_venv(tmp_path_factory.mktemp("plugin-venv") / "venv")
    PYTHON = python
    yield python
    PYTHON = None


@pytest.fixture(scope="module")
def installed_lsgan(plugin_python):
    """`ganzoo install -e examples/ganzoo-lsgan` (pip, offline) in the throwaway interpreter, uninstalled afterwards."""
    if pip("--version").returncode != 0:
        pytest.fail(
            f"pip is not available to {sys.executable}; this test installs a plugin with it "
            f"(python -m ensurepip installs it)"
        )
    if importlib.util.find_spec("setuptools") is None:
        pytest.fail(
            f"setuptools is not installed in {sys.executable}; --no-build-isolation builds the example "
            f"with this interpreter's setuptools (>= 77)"
        )
    done = run_ganzoo("install", "-e", str(EXAMPLE), env_extra=OFFLINE_BUILD)  # as a user installs it
    try:
        assert done.returncode == 0, f"ganzoo install -e {EXAMPLE} failed:\n{done.stdout}\n{done.stderr}"
        assert "ganzoo-lsgan: plugin lsgan installed" in done.stdout
        host = subprocess.run(
            [sys.executable, "-m", "ganzoo", "list", "lsgan"], capture_output=True, text=True, timeout=300
        )
        assert "lsgan" not in host.stdout, "the install reached the interpreter that runs the tests"
        yield EXAMPLE
    finally:
        gone = pip("uninstall", "-y", DIST)
        assert gone.returncode == 0, f"pip uninstall -y {DIST} failed:\n{gone.stdout}\n{gone.stderr}"
    listed = run_ganzoo("list")
    assert listed.returncode == 0 and "lsgan" not in listed.stdout, "ganzoo-lsgan is still visible after uninstall"


@pytest.fixture(scope="module")
def lsgan_run(installed_lsgan, tmp_path_factory) -> Path:
    """A 3-step lsgan run trained by `python -m ganzoo train` (tiny networks on mnist-5k)."""
    run = tmp_path_factory.mktemp("lsgan") / "run"
    done = subprocess.run(
        [
            _python(),
            "-m",
            "ganzoo",
            "train",
            "lsgan",
            "--data",
            "mnist-5k",
            *TINY_CLI,
            "--steps",
            "3",
            "--batch-size",
            "8",
            "--progress",
            "off",
            "--out",
            str(run),
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return run


def test_listed_with_its_plugin_and_distribution(installed_lsgan):
    listed = run_ganzoo("list")
    assert listed.returncode == 0, listed.stderr
    assert any(line.split()[:2] == ["lsgan", "lsgan"] for line in listed.stdout.splitlines()), listed.stdout
    shown = run_ganzoo("plugins", "--json")
    assert shown.returncode == 0, shown.stderr
    entry = {p["name"]: p for p in json.loads(shown.stdout)}["lsgan"]
    assert (entry["distribution"], entry["version"], entry["errors"]) == (DIST, "0.1.0", [])
    assert entry["registered"] == ["variant:lsgan"]


def test_info(installed_lsgan):
    shown = run_ganzoo("info", "lsgan")
    assert shown.returncode == 0, shown.stderr
    assert "Mao" in shown.stdout and "arXiv:1611.04076" in shown.stdout
    for line in ("a = 0.0", "b = 1.0", "c = 1.0", "lr = 0.0002", "betas = (0.5, 0.999)"):
        assert line in shown.stdout


def test_trains_on_the_engine(lsgan_run):
    record = json.loads((lsgan_run / "config.json").read_text())
    assert record["variant"] == "lsgan" and record["plugin"] == "lsgan" and record["config"]["ngf"] == 8
    lines = [json.loads(line) for line in (lsgan_run / "metrics.jsonl").read_text().splitlines()]
    assert lines and {"loss_d", "loss_g", "d_real", "d_fake"} <= lines[-1].keys()
    assert (lsgan_run / "checkpoints" / "step-000000003.safetensors").is_file()


def test_save_load_round_trip(lsgan_run, tmp_path):
    done = python_in_subprocess(
        """
        import sys
        import torch
        import ganzoo

        model = ganzoo.load(sys.argv[1])  # the run folder: its latest checkpoint
        folder = model.save_pretrained(sys.argv[2])
        loaded = ganzoo.load(str(folder))
        assert loaded.variant.name == "lsgan" and loaded.variant.plugin == "lsgan"
        assert loaded.config == model.config
        a, b = model.nets["G"].state_dict(), loaded.nets["G"].state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
        assert torch.equal(model.sample(4, seed=0), loaded.sample(4, seed=0))
        print("round trip ok", tuple(loaded.sample(2, seed=1).shape))
    """,
        str(lsgan_run),
        str(tmp_path / "lsgan-mnist"),
    )
    assert done.returncode == 0, done.stderr
    assert "round trip ok (2, 1, 16, 16)" in done.stdout


def test_the_example_passes_its_own_test_suite(installed_lsgan):
    done = subprocess.run(
        [_python(), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=installed_lsgan,
        capture_output=True,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^3 passed(,| in )", done.stdout, re.M), done.stdout  # exactly 3: "13 passed" is no match


def test_published_to_the_hub_and_loaded_back(lsgan_run, hub, hf_env, tmp_path):
    env = {"HF_ENDPOINT": hub.endpoint, "HF_HUB_CACHE": str(hf_env), "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    pushed = run_ganzoo("push", str(lsgan_run), "zoo/lsgan-tiny", env_extra=env)
    assert pushed.returncode == 0, pushed.stderr[-2000:]
    assert json.loads(hub.files("zoo/lsgan-tiny")["config.json"])["variant"] == "lsgan"
    same = python_in_subprocess(
        """
        import os, sys, torch, ganzoo
        os.environ["HF_ENDPOINT"] = sys.argv[2]
        a = ganzoo.load(sys.argv[1]).sample(4, seed=5)
        b = ganzoo.load("hf-hub:zoo/lsgan-tiny").sample(4, seed=5)
        print(torch.equal(a, b), ganzoo.load("hf-hub:zoo/lsgan-tiny").variant.plugin)
    """,
        str(lsgan_run),
        hub.endpoint,
    )
    assert same.returncode == 0, same.stderr[-2000:]
    assert same.stdout.split() == ["True", "lsgan"]


def test_benchmarked_beside_a_builtin(installed_lsgan, tmp_path):
    out = tmp_path / "bench"
    done = run_ganzoo(
        "bench",
        "lsgan",
        "dcgan",
        "--data",
        "mnist-5k",
        "--steps",
        "4",
        "--evals",
        "1",
        "--batch-size",
        "8",
        "-c",
        "lsgan.image_size=16",
        "-c",
        "lsgan.ngf=8",
        "-c",
        "lsgan.ndf=8",
        "-c",
        "lsgan.channels=1",
        "-c",
        "dcgan.image_size=16",
        "-c",
        "dcgan.ngf=8",
        "-c",
        "dcgan.ndf=8",
        "-c",
        "dcgan.channels=1",
        "-n",
        "200",
        "--out",
        str(out),
        env_extra={"OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((out / "results.json").read_text())["summary"]
    assert set(summary) == {"lsgan", "dcgan"}
    assert "mnist_digits.recognisable" in summary["lsgan"]["final"]
    assert "| lsgan |" in (out / "results.md").read_text()
