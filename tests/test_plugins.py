"""Plugins: built-ins and third-party entry points load the same way; failures stay isolated."""

import json

import pytest

import ganzoo
from ganzoo import plugins
from ganzoo.hookspecs import ganzoo_register_variants

from .conftest import make_distribution, run_ganzoo

LSGAN = """
    import ganzoo

    @ganzoo.hookimpl
    def ganzoo_register_variants(register):
        register(ganzoo.Variant("lsgan", "Least-squares GAN", "Mao et al. 2017",
                                config="ganzoo_dcgan.config:DCGANConfig", build="ganzoo_dcgan.models:build",
                                step="ganzoo_dcgan.step:DCGANStep"))
"""
BROKEN_IMPORT = """
    raise RuntimeError("this plugin is broken on purpose")
"""
TAKEN_NAME = """
    import ganzoo

    @ganzoo.hookimpl
    def ganzoo_register_variants(register):
        register(ganzoo.Variant("dcgan", "an impostor", "-", config="x:y", build="x:y", step="x:y"))
        register(ganzoo.Variant("fresh-name", "fine", "-", config="x:y", build="x:y", step="x:y"))
"""
RAISES_IN_HOOK = """
    import ganzoo

    @ganzoo.hookimpl
    def ganzoo_register_variants(register):
        register(ganzoo.Variant("half-done", "never lands", "-", config="x:y", build="x:y", step="x:y"))
        raise ValueError("hook blew up")
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A fake site-packages with four third-party plugins, on sys.path like an installed one."""
    make_distribution(tmp_path, "ganzoo-lsgan", "ganzoo_lsgan", LSGAN, entry_name="lsgan")
    make_distribution(tmp_path, "ganzoo-broken", "ganzoo_broken", BROKEN_IMPORT, entry_name="broken")
    make_distribution(tmp_path, "ganzoo-copycat", "ganzoo_copycat", TAKEN_NAME, entry_name="copycat")
    make_distribution(tmp_path, "ganzoo-raiser", "ganzoo_raiser", RAISES_IN_HOOK, entry_name="raiser")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins.reset()
    return tmp_path


def test_third_party_entry_point_variant_is_listed(site):
    assert "lsgan" in ganzoo.list_variants()
    v = ganzoo.info("lsgan")
    assert v.plugin == "lsgan" and v.summary == "Least-squares GAN"
    info = plugins.get_state().infos["lsgan"]
    assert info.distribution == "ganzoo-lsgan" and info.version == "0.3.1"
    assert info.hooks == ["ganzoo_register_variants"] and info.registered == ["variant:lsgan"]
    # it builds through the same path as a built-in
    assert set(ganzoo.create("lsgan", image_size=32, channels=1).nets) == {"G", "D"}


def test_broken_plugins_are_reported_and_the_rest_work(site):
    names = ganzoo.list_variants()
    assert {"cyclegan", "dcgan", "vanilla", "wgan-gp", "lsgan", "fresh-name"} <= set(names)
    infos = plugins.get_state().infos
    assert any("import failed: RuntimeError: this plugin is broken on purpose" in e for e in infos["broken"].errors)
    # a taken name: refused naming both plugins, the plugin's other entries still land
    assert ganzoo.info("dcgan").plugin == "dcgan"
    assert any(
        "'dcgan' from plugin 'copycat' is already registered by plugin 'dcgan'" in e for e in infos["copycat"].errors
    )
    # a hook that raises registers nothing from that call
    assert "half-done" not in names
    assert any("ganzoo_register_variants failed: ValueError: hook blew up" in e for e in infos["raiser"].errors)


def test_cli_lists_third_party_and_reports_broken(site):
    listed = run_ganzoo("list", pythonpath=[site])
    assert listed.returncode == 0, listed.stderr
    assert "lsgan" in listed.stdout and "dcgan" in listed.stdout
    shown = run_ganzoo("plugins", "--json", pythonpath=[site])
    assert shown.returncode == 0, shown.stderr
    by_name = {p["name"]: p for p in json.loads(shown.stdout)}
    assert by_name["lsgan"]["version"] == "0.3.1"
    assert by_name["broken"]["errors"] and by_name["copycat"]["errors"] and by_name["raiser"]["errors"]
    assert by_name["dcgan"]["errors"] == []


def test_load_plugins_env_limits_loading(site, monkeypatch):
    monkeypatch.setenv("GANZOO_LOAD_PLUGINS", "dcgan,ganzoo-lsgan")  # an entry-point and a distribution name
    plugins.reset()
    assert ganzoo.list_variants() == ["dcgan", "lsgan"]
    assert "broken" not in plugins.get_state().infos
    monkeypatch.setenv("GANZOO_LOAD_PLUGINS", "")
    plugins.reset()
    assert ganzoo.list_variants() == []
    assert "mnist-5k" in ganzoo.list_datasets()  # the core's own registrations always load


def test_in_process_plugin_object():
    class Extra:
        @ganzoo.hookimpl
        def ganzoo_register_variants(self, register):
            register(ganzoo.Variant("extra", "in-process", "-", config="x:y", build="x:y", step="x:y"))

    plugins.register_plugin(Extra(), "extra")
    assert "extra" in ganzoo.list_variants()
    plugins.unregister_plugin("extra")
    assert "extra" not in ganzoo.list_variants()


def test_registering_the_wrong_type_is_reported():
    class Wrong:
        @ganzoo.hookimpl
        def ganzoo_register_variants(self, register):
            register({"name": "dict-variant"})

    plugins.register_plugin(Wrong(), "wrong")
    errors = plugins.get_state().infos["wrong"].errors
    assert any("must register Variant objects, got dict" in e for e in errors)


def test_every_hook_is_documented_and_known_to_the_manager():
    from ganzoo import hookspecs

    specs = [n for n in dir(hookspecs) if n.startswith("ganzoo_")]
    assert set(specs) == set(plugins.REGISTRATION_HOOKS) | {"ganzoo_register_commands"}
    for name in specs:
        doc = getattr(hookspecs, name).__doc__ or ""
        assert len(doc.strip()) > 40, f"hook {name} needs a docstring"
    assert ganzoo_register_variants.__doc__


def test_command_hook_adds_a_subcommand_and_failures_are_isolated(tmp_path, monkeypatch):
    source = """
        import click, ganzoo

        @ganzoo.hookimpl
        def ganzoo_register_commands(cli):
            @cli.command()
            def hello():
                "Say hello."
                click.echo("hello from a plugin")
    """
    make_distribution(tmp_path, "ganzoo-hello", "ganzoo_hello", source, entry_name="hello")
    make_distribution(
        tmp_path,
        "ganzoo-badcmd",
        "ganzoo_badcmd",
        """
        import ganzoo

        @ganzoo.hookimpl
        def ganzoo_register_commands(cli):
            raise RuntimeError("no commands today")
    """,
        entry_name="badcmd",
    )
    out = run_ganzoo("hello", pythonpath=[tmp_path])
    assert out.returncode == 0 and out.stdout.strip() == "hello from a plugin", out.stderr
    shown = run_ganzoo("plugins", pythonpath=[tmp_path])
    assert "ganzoo_register_commands failed: RuntimeError: no commands today" in shown.stdout


def test_every_hook_is_in_the_plugin_docs():
    from ganzoo import hookspecs

    text = (__import__("pathlib").Path(__file__).parents[1] / "docs" / "plugins.md").read_text()
    for name in (n for n in dir(hookspecs) if n.startswith("ganzoo_")):
        assert f"`{name}(" in text, f"docs/plugins.md does not document {name}"


def test_a_variant_whose_build_fails_is_reported_with_its_plugin(tmp_path):
    from ganzoo.api import PluginError

    make_distribution(
        tmp_path,
        "ganzoo-badbuild",
        "ganzoo_badbuild",
        """
        import ganzoo

        def build(config):
            raise ValueError("out of ideas")

        @ganzoo.hookimpl
        def ganzoo_register_variants(register):
            register(ganzoo.Variant("bad-build", "never builds", "-", config="ganzoo_dcgan.config:DCGANConfig",
                                    build="ganzoo_badbuild:build", step="ganzoo_dcgan.step:DCGANStep"))
    """,
        entry_name="badbuild",
    )
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        plugins.reset()
        with pytest.raises(
            PluginError,
            match="variant 'bad-build' from plugin 'badbuild' failed to build its networks: ValueError: out of ideas",
        ):
            ganzoo.create("bad-build")
        assert ganzoo.create("dcgan", image_size=16, ngf=4, ndf=4).nets  # the rest keep working
    finally:
        sys.path.remove(str(tmp_path))
    out = run_ganzoo(
        "train", "bad-build", "--data", "mnist-5k", "--steps", "1", "--out", str(tmp_path / "r"), pythonpath=[tmp_path]
    )
    assert (
        out.returncode != 0 and "from plugin 'badbuild' failed to build" in out.stderr and "Traceback" not in out.stderr
    )


GRABBER = """
    import ganzoo

    @ganzoo.hookimpl(trylast=True)
    def ganzoo_register_variants(register):
        register(ganzoo.Variant("dcgan", "an impostor", "-", config="x:y", build="x:y", step="x:y"))

    @ganzoo.hookimpl(trylast=True)
    def ganzoo_register_datasets(register):
        register(ganzoo.DatasetSpec("mnist-5k", "an impostor", "x:y"))
"""


def test_trylast_does_not_let_a_third_party_plugin_take_built_in_names(tmp_path, monkeypatch):
    make_distribution(tmp_path, "ganzoo-grabber", "ganzoo_grabber", GRABBER, entry_name="grabber")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins.reset()
    state = plugins.get_state()
    assert state.variants.get("dcgan").plugin == "dcgan" and state.variants.get("dcgan").summary != "an impostor"
    assert state.datasets.get("mnist-5k").plugin == "ganzoo"
    errors = state.infos["grabber"].errors
    assert any("variant 'dcgan' from plugin 'grabber' is already registered by plugin 'dcgan'" in e for e in errors)
    assert any(
        "data set 'mnist-5k' from plugin 'grabber' is already registered by plugin 'ganzoo'" in e for e in errors
    )
    assert state.infos["dcgan"].errors == [] and state.infos["ganzoo"].errors == []


EXITS_AT_IMPORT = """
    import sys

    sys.exit("this plugin exits on import")
"""
EXITS_IN_HOOK = """
    import sys

    import ganzoo

    @ganzoo.hookimpl
    def ganzoo_register_variants(register):
        sys.exit(2)
"""
EXITS_WHEN_LOADED = """
    import ganzoo

    @ganzoo.hookimpl
    def ganzoo_register_variants(register):
        register(ganzoo.Variant("lazy-exit", "exits when its config loads", "-", config="ganzoo_lazyexit.bad:Config",
                                build="ganzoo_dcgan.models:build", step="ganzoo_dcgan.step:DCGANStep"))
"""


@pytest.fixture
def exiting(tmp_path, monkeypatch):
    """Three plugins that call sys.exit(): at import, in a hook, and in a module named lazily."""
    make_distribution(tmp_path, "ganzoo-exit-import", "ganzoo_exitimport", EXITS_AT_IMPORT, entry_name="exit-import")
    make_distribution(tmp_path, "ganzoo-exit-hook", "ganzoo_exithook", EXITS_IN_HOOK, entry_name="exit-hook")
    make_distribution(tmp_path, "ganzoo-lazyexit", "ganzoo_lazyexit", EXITS_WHEN_LOADED, entry_name="lazyexit")
    (tmp_path / "ganzoo_lazyexit" / "bad.py").write_text("import sys\nsys.exit(1)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins.reset()
    return tmp_path


def test_a_plugin_that_exits_is_reported_and_the_rest_work(exiting):
    from ganzoo.api import PluginError

    assert {"dcgan", "lazy-exit"} <= set(ganzoo.list_variants())
    infos = plugins.get_state().infos
    assert infos["exit-import"].errors == ["import failed: SystemExit: this plugin exits on import (__init__.py:4)"]
    assert infos["exit-hook"].errors == ["ganzoo_register_variants failed: SystemExit: 2 (__init__.py:8)"]
    with pytest.raises(
        PluginError,
        match=r"variant 'lazy-exit' from plugin 'lazyexit': its config 'ganzoo_lazyexit.bad:Config' "
        r"cannot be loaded \(ImportError: importing 'ganzoo_lazyexit.bad' raised SystemExit\(1\)\)",
    ):
        ganzoo.create("lazy-exit")
    assert ganzoo.create("dcgan", image_size=16, ngf=4, ndf=4).nets  # the rest keep working


def test_cli_survives_plugins_that_exit(exiting):
    listed = run_ganzoo("list", pythonpath=[exiting])
    assert listed.returncode == 0 and "dcgan" in listed.stdout and "lazy-exit" in listed.stdout, listed.stderr
    from click.testing import CliRunner

    from ganzoo.cli import cli

    shown = CliRunner().invoke(cli, ["info", "lazy-exit"])
    assert shown.exit_code == 0 and "error = \"variant 'lazy-exit' from plugin 'lazyexit'" in shown.output
    failed = CliRunner().invoke(cli, ["train", "lazy-exit", "--data", "mnist-5k", "--out", str(exiting / "run")])
    assert failed.exit_code == 1 and isinstance(failed.exception, SystemExit)
    assert (
        failed.output.startswith("Error: variant 'lazy-exit' from plugin 'lazyexit': its config")
        and not (exiting / "run").exists()
    )


def test_a_plugin_command_cannot_replace_an_existing_one():
    import click
    from click.testing import CliRunner

    class Hijack:
        @ganzoo.hookimpl
        def ganzoo_register_commands(self, cli):
            @cli.command("sample")
            def fake_sample():
                click.echo("hijacked")

            @cli.command("extra")
            def extra():
                click.echo("extra")

    plugins.register_plugin(Hijack(), "hijack")
    group = click.Group()

    @group.command("sample")
    def real_sample():
        click.echo("real")

    plugins.get_state().call_command_hooks(group)
    assert CliRunner().invoke(group, ["sample"]).output == "real\n"
    assert CliRunner().invoke(group, ["extra"]).output == "extra\n"  # new names are fine
    assert plugins.get_state().infos["hijack"].errors == [
        "command 'sample' already exists; plugin 'hijack' cannot replace it"
    ]
