"""The README's main job: the row that benchmarks/main_job.py reads holds a command that runs as written."""

import importlib.util
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from ganzoo.cli import cli

REPO = Path(__file__).resolve().parents[1]


def _benchmark():
    spec = importlib.util.spec_from_file_location("main_job", REPO / "benchmarks" / "main_job.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_main_job_runs_as_written(tmp_path):
    argv = _benchmark().readme_command()
    assert argv[:3] == ["ganzoo", "train", "dcgan"] and "--steps" in argv and "--out" in argv
    args = argv[2:]
    args[args.index("--steps") + 1] = "3"  # the same command, 3 steps, into a folder of the test's
    args[args.index("--out") + 1] = str(tmp_path / "run")
    result = CliRunner().invoke(cli, ["train", *args, "--progress", "off", "--sample-every", "0"])
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["config"]["ngf"] == 32 and config["config"]["r1"] == 1 and config["engine"]["ema"] == 0.999
    assert config["config"]["num_classes"] == 10 and config["config"]["r1_interval"] == 4
    assert json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 3


def test_a_readme_without_the_row_is_named(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# nothing here\n")
    with pytest.raises(SystemExit, match=r"README.md has no '\| \*\*Main job\*\*"):
        _benchmark().readme_command(readme)


def test_the_benchmark_holds_a_conditional_job_to_the_conditional_bar_too(tmp_path):
    """The README's command cut to 3 steps, through benchmarks/main_job.py: timed, scored with 100 asked of each
    digit, and, as 3 steps draw no digits, every term of the bar reported and not met."""
    row = next(line for line in (REPO / "README.md").read_text().splitlines() if line.startswith("| **Main job**"))
    readme = tmp_path / "README.md"
    readme.write_text(re.sub(r"--steps \d+", "--steps 3", row) + "\n")
    result = _benchmark().run(tmp_path / "main-job.json", readme)
    assert json.loads((tmp_path / "main-job.json").read_text()) == result
    assert result["command"].endswith("--steps 3 --out runs/dcgan") and 0 < result["wall_seconds"] < 600
    assert result["recognisable"] < 0.05 and result["requested"] < 0.05 and result["share_of_real"] < 0.1
    assert {"worst_share_of_real", "spread_ratio", "intra_fd"} <= set(result) and "spread ratio >= 0.9" in result["bar"]
    assert result["met"] is False
