"""The CLI: list/info/plugins/--version, and none of them (nor `import ganzoo`) imports torch."""

import json
import subprocess
import sys

import pytest

from .conftest import run_ganzoo


def test_list_shows_the_builtins_and_filters():
    out = run_ganzoo("list")
    assert out.returncode == 0, out.stderr

    def rows(text: str) -> set[str]:  # the first column: "dcgan" must be a row, not a part of "dcgan-mnist"
        return {line.split()[0] for line in text.splitlines() if line.strip()}

    assert {"vanilla", "dcgan", "wgan-gp", "cyclegan", "dcgan-mnist"} <= rows(out.stdout)
    filtered = rows(run_ganzoo("list", "*gan*").stdout)
    assert {"dcgan", "cyclegan", "wgan-gp"} <= filtered and not {"vanilla", "vanilla-mnist"} & filtered
    assert {"mnist-5k", "ring8"} <= rows(run_ganzoo("list", "--datasets").stdout)


def test_info_unknown_name_fails_with_a_suggestion():
    out = run_ganzoo("info", "dcgn")
    assert out.returncode != 0
    assert "did you mean 'dcgan'?" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    "args,line",
    [
        (["info", "DCGAN"], "Error: no variant or model called 'DCGAN'; did you mean 'dcgan'"),
        (["info", "Dcgan-MNIST"], "Error: no variant or model called 'Dcgan-MNIST'; did you mean 'dcgan-mnist'"),
        (
            ["train", "WGAN-GP", "--data", "mnist-5k", "--steps", "1", "--out", "{out}"],
            "Error: unknown variant 'WGAN-GP'; did you mean 'wgan-gp'?",
        ),
        (
            ["train", "dcgan", "--data", "MNIST-5K", "--steps", "1", "--out", "{out}"],
            "Error: unknown data set 'MNIST-5K'; did you mean 'mnist-5k'",
        ),
        (["eval", "dcgan-mnist", "--data", "RING8"], "Error: unknown data set 'RING8'; did you mean 'ring8'?"),
    ],
    ids=["variant", "model", "train-variant", "train-data", "eval-data"],
)
def test_suggestions_ignore_case(tmp_path, args, line):
    out = run_ganzoo(*(a.format(out=tmp_path / "run") for a in args))
    assert out.returncode == 1 and out.stderr.startswith(line), out.stderr
    assert len(out.stderr.strip().splitlines()) == 1  # one line, no traceback
    assert not (tmp_path / "run").exists()  # refused before anything was written


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
# each command, the exit code it must give and a line of what it must print: an early crash fails here
for args, code, shows in ((["--help"], 0, "Usage:"), (["list"], 0, "wgan-gp"), (["list", "*gan*"], 0, "cyclegan"),
                          (["list", "--datasets"], 0, "mnist-5k"), (["info", "wgan-gp"], 0, "1704.00028"),
                          (["info", "dcgan-mnist"], 0, "mnist-5k"), (["info", "dcgan", "--json"], 0, '"nz": 100'),
                          (["plugins"], 0, "ganzoo_register_variants"), (["info", "dcgn"], 1, "did you mean 'dcgan'?")):
    result = runner.invoke(cli, args)
    assert result.exit_code == code and shows in result.output, (
        args, result.exit_code, result.output, result.exception)
    assert code == 0 or type(result.exception) is SystemExit, (args, result.exception)  # a refusal, not a crash
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


def test_the_output_policy_writes_images_and_folders_and_refuses_the_rest(tmp_path):
    from PIL import Image

    from ganzoo.output_targets import BadTargetName, TargetRefused, grid_target

    assert grid_target(tmp_path / "grid.png", 4) is True  # one grid, by its suffix
    assert grid_target(tmp_path / "samples", 4) is False  # no suffix: a folder of PNGs
    Image.new("RGB", (4, 4)).save(tmp_path / "old.png")
    assert grid_target(tmp_path / "old.png", 4) is True  # an image ganzoo may overwrite
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(TargetRefused, match="notes.png exists and is not an image"):
        grid_target(tmp_path / "notes.png", 4)
    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / "00001.png").write_text("not an image")
    with pytest.raises(TargetRefused, match="00001.png exists and is not an image"):
        grid_target(tmp_path / "samples", 4)
    with pytest.raises(BadTargetName, match="has suffix '.txt', not an image format"):
        grid_target(tmp_path / "grid.txt", 4)


def test_eval_default_metrics_come_from_the_task_of_the_data(tmp_path):
    from PIL import Image

    from ganzoo.evaluate import default_metrics

    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    assert default_metrics(None) == ["fid"]  # FID against published statistics
    assert default_metrics("mnist-5k") == ["mnist_digits"]  # digits have their own judge
    assert default_metrics(str(tmp_path)) == ["fid", "kid", "precision_recall"]  # other images
    assert default_metrics("ring8") == ["modes"]
    assert default_metrics("mnist-5k-thick-paired") == ["translation"]
