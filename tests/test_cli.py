"""The CLI: list/info/plugins/--version, and none of them (nor `import ganzoo`) imports torch."""

import json
import subprocess
import sys

import pytest

from .conftest import run_ganzoo


def test_list_shows_the_builtins_and_filters():
    out = run_ganzoo("list")
    assert out.returncode == 0, out.stderr
    for name in ("vanilla", "dcgan", "wgan-gp", "cyclegan"):
        assert name in out.stdout
    filtered = run_ganzoo("list", "*gan*").stdout
    assert "dcgan" in filtered and "cyclegan" in filtered and "vanilla" not in filtered
    assert "mnist-5k" in run_ganzoo("list", "--datasets").stdout


def test_info_unknown_name_fails_with_a_suggestion():
    out = run_ganzoo("info", "dcgn")
    assert out.returncode != 0
    assert "did you mean 'dcgan'?" in out.stderr
    assert "Traceback" not in out.stderr


def test_info_shows_paper_and_config_defaults():
    out = run_ganzoo("info", "dcgan", "--json")
    record = json.loads(out.stdout)
    assert record["plugin"] == "dcgan" and "1511.06434" in record["paper"]
    assert record["config"]["nz"] == 100 and record["config"]["lr"] == 2e-4


def test_plugins_and_version():
    out = run_ganzoo("plugins")
    assert out.returncode == 0 and "dcgan" in out.stdout and "ganzoo_register_variants" in out.stdout
    version = run_ganzoo("--version")
    assert version.returncode == 0 and "ganzoo, version" in version.stdout


CHECK_NO_TORCH = """
import sys
from click.testing import CliRunner
import ganzoo
from ganzoo.cli import cli
from ganzoo.plugins import get_state
get_state().call_command_hooks(cli)
ganzoo.list_variants(); ganzoo.info("dcgan")
runner = CliRunner()
for args in (["--help"], ["list"], ["list", "*gan*"], ["info", "wgan-gp"], ["info", "dcgan-mnist"], ["plugins"]):
    result = runner.invoke(cli, args)
    assert result.exit_code in (0, 1), (args, result.output)
heavy = sorted(m for m in ("torch", "torchvision", "timm", "numpy") if m in sys.modules)
print(",".join(heavy) or "clean")
"""


def test_import_and_listing_do_not_import_torch():
    out = subprocess.run([sys.executable, "-c", CHECK_NO_TORCH], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "clean"


@pytest.mark.parametrize("args", [["--help"], ["list", "--help"], ["info", "--help"]])
def test_help_texts(args):
    out = run_ganzoo(*args)
    assert out.returncode == 0 and "Usage:" in out.stdout
