"""`ganzoo install` / `uninstall`: pip in the interpreter that runs ganzoo, and a refusal for non-plugins.

The installs run in a throwaway interpreter (``throwaway_python``): a venv in a temporary folder that
sees this interpreter's packages (ganzoo, torch, pip, setuptools) and installs into its own
site-packages, so no install changes the environment other tests run in (pytest-xdist workers
running beside these never see the test plugin).
"""

import importlib.metadata
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from .conftest import run_ganzoo, throwaway_venv

# build offline with the venv's own setuptools (pip reads this variable inverted: "0" turns isolation off)
OFFLINE_BUILD = {"PIP_NO_BUILD_ISOLATION": "0", "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


@pytest.fixture(scope="module")
def throwaway_python(tmp_path_factory) -> Path:
    """A venv whose interpreter also sees this interpreter's site folders (a .pth file adds them, with their own
    .pth files: editable installs included); pip run there installs into the venv, nowhere else."""
    return throwaway_venv(tmp_path_factory.mktemp("install-venv") / "venv")


def ganzoo_in(python: Path, *args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    """The real `ganzoo` CLI run by the throwaway interpreter ``python``."""
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([str(python), "-m", "ganzoo", *args], capture_output=True, text=True, env=env, timeout=300)


def _installed_here(dist: str) -> bool:
    """Whether ``dist`` is installed in the interpreter running the tests (it must never be)."""
    try:
        importlib.metadata.distribution(dist)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _project(root, name: str, entry_point: bool):
    root.mkdir()
    package = name.replace("-", "_")
    (root / package).mkdir()
    (root / package / "__init__.py").write_text(
        textwrap.dedent("""
        import ganzoo

        @ganzoo.hookimpl
        def ganzoo_register_variants(register):
            register(ganzoo.Variant("tiny-gan", "a tiny test variant", "-", config="ganzoo_dcgan.config:DCGANConfig",
                                    build="ganzoo_dcgan.models:build", step="ganzoo_dcgan.step:DCGANStep"))
    """)
    )
    eps = f'\n[project.entry-points.ganzoo]\ntiny = "{package}"\n' if entry_point else ""
    (root / "pyproject.toml").write_text(
        textwrap.dedent(f"""
        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{name}"
        version = "0.0.1"
        """)
        + eps
    )
    return root


def test_install_lists_the_plugin_then_uninstall_removes_it(tmp_path, throwaway_python):
    project = _project(tmp_path / "plugin", "ganzoo-tiny-test", entry_point=True)
    try:
        done = ganzoo_in(throwaway_python, "install", "-e", str(project), env_extra=OFFLINE_BUILD)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "ganzoo-tiny-test: plugin tiny installed" in done.stdout
        listed = ganzoo_in(throwaway_python, "list")
        assert "tiny-gan" in listed.stdout and " tiny " in listed.stdout
        assert not _installed_here("ganzoo-tiny-test")  # the tests' own interpreter is untouched
        assert "tiny-gan" not in run_ganzoo("list").stdout
    finally:
        gone = ganzoo_in(throwaway_python, "uninstall", "ganzoo-tiny-test")
    assert gone.returncode == 0
    assert "tiny-gan" not in ganzoo_in(throwaway_python, "list").stdout


def test_installing_a_package_that_is_not_a_plugin_says_so(tmp_path, throwaway_python):
    project = _project(tmp_path / "plain", "not-a-ganzoo-plugin", entry_point=False)
    try:
        done = ganzoo_in(throwaway_python, "install", "-e", str(project), env_extra=OFFLINE_BUILD)
        assert done.returncode != 0
        assert (
            "not-a-ganzoo-plugin installed, but is not a ganzoo plugin: "
            "it declares no entry point in the 'ganzoo' group" in done.stderr
        )
        assert not _installed_here("not-a-ganzoo-plugin")
    finally:
        ganzoo_in(throwaway_python, "uninstall", "not-a-ganzoo-plugin")


def test_install_needs_something_to_install():
    done = run_ganzoo("install")
    assert done.returncode != 0 and "name at least one package" in done.stderr
    assert os.environ.get("PIP_NO_BUILD_ISOLATION") is None  # the test did not leak its settings
