"""`ganzoo new-plugin`: the generated project installs as a plugin and passes its own tests unchanged."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest depends on tomli there
    import tomli as tomllib

import pytest

import ganzoo
from ganzoo import plugins
from ganzoo.scaffold import new_plugin

from .conftest import run_ganzoo


def fake_install(project: Path, site: Path) -> list[Path]:
    """What `pip install -e project` leaves behind: a .dist-info built from the project's own
    pyproject.toml (so its entry point is what is tested). Returns the PYTHONPATH to use."""
    meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    info = site / f"{meta['name'].replace('-', '_')}-{meta['version']}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {meta['version']}\n")
    points = "".join(f"{k} = {v}\n" for k, v in meta["entry-points"]["ganzoo"].items())
    (info / "entry_points.txt").write_text(f"[ganzoo]\n{points}")
    return [project, site]


def test_generated_plugin_is_listed_and_passes_its_own_tests(tmp_path):
    project = new_plugin("my-variant", tmp_path)
    assert project == tmp_path / "ganzoo-my-variant"
    assert sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file()) == [
        "README.md",
        "ganzoo_my_variant/__init__.py",
        "ganzoo_my_variant/config.py",
        "ganzoo_my_variant/models.py",
        "ganzoo_my_variant/step.py",
        "pyproject.toml",
        "tests/test_conformance.py",
    ]
    meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    assert meta["name"] == "ganzoo-my-variant" and meta["entry-points"]["ganzoo"] == {"my-variant": "ganzoo_my_variant"}
    assert "torch-ganzoo>=0.1" in meta["dependencies"]
    path = fake_install(project, tmp_path / "site")

    listed = run_ganzoo("list", pythonpath=path)
    assert listed.returncode == 0, listed.stderr
    assert any(line.split()[:2] == ["my-variant", "my-variant"] for line in listed.stdout.splitlines()), listed.stdout
    shown = run_ganzoo("info", "my-variant", pythonpath=path)
    assert shown.returncode == 0, shown.stderr
    assert "plugin   my-variant" in shown.stdout and "ngf = 64" in shown.stdout

    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(map(str, path)))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^1 passed(,| in )", done.stdout, re.M), done.stdout  # exactly 1: "11 passed" is no match


@pytest.mark.parametrize("name", ["LSGAN", "my_gan", "1gan", "-gan", "gan-", "a--b", "", "sn gan", "a" * 41])
def test_invalid_names_are_refused(tmp_path, name):
    with pytest.raises(ValueError, match=r"is not valid: use lowercase letters, digits and single dashes"):
        new_plugin(name, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_never_overwritten(tmp_path):
    (tmp_path / "ganzoo-mine").mkdir()
    (tmp_path / "ganzoo-mine" / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match=r"ganzoo-mine already exists"):
        new_plugin("mine", tmp_path)
    assert [p.name for p in (tmp_path / "ganzoo-mine").iterdir()] == ["notes.txt"]


def test_names_already_taken_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"a package called 'ganzoo_dcgan' is already installed"):
        new_plugin("dcgan", tmp_path)

    class Taken:
        @ganzoo.hookimpl
        def ganzoo_register_variants(self, register):
            register(ganzoo.Variant("taken", "in-process", "-", config="x:y", build="x:y", step="x:y"))

    plugins.register_plugin(Taken(), "taken-plugin")
    with pytest.raises(ValueError, match=r"variant 'taken' is already registered by plugin 'taken-plugin'"):
        new_plugin("taken", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_cli_new_plugin(tmp_path):
    made = run_ganzoo("new-plugin", "cli-made", "--dest", str(tmp_path / "projects"))
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "projects" / "ganzoo-cli-made" / "ganzoo_cli_made" / "step.py").is_file()
    again = run_ganzoo("new-plugin", "cli-made", "--dest", str(tmp_path / "projects"))
    assert again.returncode != 0 and "already exists" in again.stderr
    bad = run_ganzoo("new-plugin", "Bad_Name", "--dest", str(tmp_path / "projects"))
    assert bad.returncode != 0 and "is not valid" in bad.stderr
