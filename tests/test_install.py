"""`ganzoo install` / `uninstall`: pip in the same interpreter, and a refusal for non-plugins."""

import os
import textwrap

from .conftest import run_ganzoo

# build offline with the venv's own setuptools (pip reads this variable inverted: "0" turns isolation off)
OFFLINE_BUILD = {"PIP_NO_BUILD_ISOLATION": "0", "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


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


def test_install_lists_the_plugin_then_uninstall_removes_it(tmp_path):
    project = _project(tmp_path / "plugin", "ganzoo-tiny-test", entry_point=True)
    try:
        done = run_ganzoo("install", "-e", str(project), env_extra=OFFLINE_BUILD)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "ganzoo-tiny-test: plugin tiny installed" in done.stdout
        listed = run_ganzoo("list")
        assert "tiny-gan" in listed.stdout and " tiny " in listed.stdout
    finally:
        gone = run_ganzoo("uninstall", "ganzoo-tiny-test")
    assert gone.returncode == 0
    assert "tiny-gan" not in run_ganzoo("list").stdout


def test_installing_a_package_that_is_not_a_plugin_says_so(tmp_path):
    project = _project(tmp_path / "plain", "not-a-ganzoo-plugin", entry_point=False)
    try:
        done = run_ganzoo("install", "-e", str(project), env_extra=OFFLINE_BUILD)
        assert done.returncode != 0
        assert (
            "not-a-ganzoo-plugin installed, but is not a ganzoo plugin: "
            "it declares no entry point in the 'ganzoo' group" in done.stderr
        )
    finally:
        run_ganzoo("uninstall", "not-a-ganzoo-plugin")


def test_install_needs_something_to_install():
    done = run_ganzoo("install")
    assert done.returncode != 0 and "name at least one package" in done.stderr
    assert os.environ.get("PIP_NO_BUILD_ISOLATION") is None  # the test did not leak its settings
