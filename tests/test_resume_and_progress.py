"""Resuming with new settings, runs that have nothing to do, what a run prints, and fast command errors."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

import ganzoo
from ganzoo.config import ConfigError
from ganzoo.engine import progress as progress_module
from ganzoo.engine.checkpoint import list_checkpoints, read_checkpoint

# a small MLP GAN on the 8-Gaussian ring: milliseconds per step
SMALL = dict(g_hidden=[16, 16], d_hidden=[16, 16], batch_size=16, sample_every=0, progress="off")


def optimizer_rates(run: Path) -> list[float]:
    _, header = read_checkpoint(list_checkpoints(run / "checkpoints")[-1])
    return [g["lr"] for opt in header["optimizers"].values() for g in opt["param_groups"]]


def test_a_resume_may_lower_the_learning_rate_and_config_json_records_it(tmp_path):
    run = ganzoo.train("vanilla", "ring8", steps=4, out=tmp_path / "r", lr=1e-3, **SMALL)
    assert optimizer_rates(run) == [1e-3, 1e-3]
    ganzoo.train(out=run, steps=8, resume=True, lr=1e-5, progress="off")
    assert optimizer_rates(run) == [1e-5, 1e-5]  # the saved optimizer state did not win over the new rate
    record = json.loads((run / "config.json").read_text())
    assert record["config"]["lr"] == 1e-5 and record["engine"]["steps"] == 8
    assert record["resumed"] == [{"step": 4, "config": {"lr": 1e-5}, "engine": {"steps": 8}}]
    # a later plain resume keeps the lowered rate: it is the run's config now
    ganzoo.train(out=run, steps=10, resume=True, progress="off")
    assert optimizer_rates(run) == [1e-5, 1e-5]


def test_a_resume_that_would_change_the_networks_is_refused_and_writes_nothing(tmp_path):
    run = ganzoo.train("vanilla", "ring8", steps=2, out=tmp_path / "r", **SMALL)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    with pytest.raises(ConfigError, match=r"not its networks: g_hidden changes them; start a new run"):
        ganzoo.train(out=run, steps=4, resume=True, g_hidden=[32, 32])
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_an_edited_or_damaged_config_json_is_named_on_resume(tmp_path):
    run = ganzoo.train("vanilla", "ring8", steps=2, out=tmp_path / "r", **SMALL)
    path = run / "config.json"
    good = json.loads(path.read_text())

    path.write_text(json.dumps({**good, "config": {**good["config"], "g_hidden": [64, 64]}}))
    with pytest.raises(
        ValueError,
        match=r"step-000000002\.safetensors (lacks|has|holds) .*config\.json no longer "
        r"describes the networks it saved \(was it edited\?\)",
    ):
        ganzoo.train(out=run, steps=4, resume=True)

    path.write_text(json.dumps({k: v for k, v in good.items() if k != "data"}))
    with pytest.raises(ConfigError, match=r"config\.json: key 'data' is missing; the file was edited or damaged"):
        ganzoo.train(out=run, steps=4, resume=True)

    path.write_text('{"variant": "vanilla", ')
    with pytest.raises(ConfigError, match=r"config\.json is not valid JSON"):
        ganzoo.train(out=run, steps=4, resume=True)


def test_a_resume_already_past_its_steps_says_so_and_writes_nothing(tmp_path, capsys):
    run = ganzoo.train("vanilla", "ring8", steps=6, out=tmp_path / "r", **SMALL)
    before = {
        p: p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != ".ganzoo.lock"
    }  # the lock names its holder
    capsys.readouterr()
    ganzoo.train(out=run, steps=4, resume=True, progress="off")
    err = capsys.readouterr().err
    assert f"{run} is already at step 6, at or past steps=4: nothing to train (resume with a larger --steps" in err
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != ".ganzoo.lock"} == before


def test_off_a_terminal_a_run_prints_a_start_line_progress_lines_and_where_its_outputs_are(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(progress_module, "LINE_SECONDS", 0.0)  # a line at every log step
    run = tmp_path / "r"
    ganzoo.train("vanilla", "ring8", steps=6, out=run, log_every=2, **{**SMALL, "progress": "auto"})
    lines = capsys.readouterr().err.splitlines()  # pytest's capture is not a terminal
    assert lines[0] == f"training into {run}: vanilla on ring8, cpu fp32, batch 16, to step 6"
    steps = [line for line in lines if line.startswith("step ")]
    assert [s.split()[1] for s in steps] == ["2/6", "4/6", "6/6"]
    assert all("loss_d" in s and "loss_g" in s and "steps/s" in s and "eta" in s for s in steps)
    assert lines[-1] == (
        f"finished at step 6: {run} holds config.json, metrics.jsonl, checkpoints/ "
        f"(latest step-000000006.safetensors) and samples/step-000006.png"
    )


def test_progress_off_prints_nothing(tmp_path, capsys):
    ganzoo.train("vanilla", "ring8", steps=2, out=tmp_path / "r", **SMALL)
    assert capsys.readouterr().err == ""


def test_lines_are_spaced_in_time_and_the_bar_moves_every_step():
    quiet = io.StringIO()
    p = progress_module.Progress("auto", enabled=True, start=0, until=100, stream=quiet)
    for it in range(1, 11):
        p.logged(it, {"step": it, "loss": 1.0})
    assert quiet.getvalue().count("step ") == 1  # the first line, then none within LINE_SECONDS

    shown = io.StringIO()
    bar = progress_module.Progress("on", enabled=True, start=3, until=100, stream=shown)
    for it in range(4, 9):
        bar.step(it)
        assert bar.bar.n == it
    bar.close()
    assert (
        progress_module.Progress("on", enabled=False, start=0, until=5, stream=io.StringIO()).bar is None
    )  # not rank 0


ERRORS = [
    (["train", "dcgn", "--data", "mnist-5k", "--out", "{tmp}/a"], "unknown variant 'dcgn'; did you mean 'dcgan'?"),
    (["train", "dcgan", "--data", "mnist-6k", "--out", "{tmp}/a"], "unknown data set 'mnist-6k'"),
    (["train", "dcgan", "--data", "mnist-5k", "--out", "{tmp}/a", "-c", "ngf=abc"], "ngf must be a positive number"),
    (["train", "dcgan", "--data", "mnist-5k", "--out", "{tmp}/a", "-c", "nfg=8"], "unknown config key 'nfg'"),
    (["train", "dcgan", "--data", "ring8", "--out", "{tmp}/a"], "trains on image data, but the data spec gives points"),
    (["train", "dcgan", "--data", "mnist-5k", "--out", "{tmp}/a", "--steps", "0"], "steps must be an integer >= 1"),
    (["train", "--resume", "{tmp}/none"], "it has no config.json"),
]


@pytest.mark.parametrize("args, message", ERRORS, ids=[e[1].split(";")[0][:30] for e in ERRORS])
def test_train_command_errors_come_before_torch_is_imported(tmp_path, args, message):
    script = (
        "import sys\nfrom ganzoo.cli import main\nsys.argv = ['ganzoo', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
        "print('torch imported' if 'torch' in sys.modules else 'torch not imported', code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *(a.format(tmp=tmp_path) for a in args)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.strip().splitlines()[-1] == "torch not imported 1", (done.stdout, done.stderr)
    assert done.stderr.startswith("Error: ") and message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "a").exists()
