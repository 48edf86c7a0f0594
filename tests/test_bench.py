"""`ganzoo bench` and `ganzoo eval`: side-by-side results files, and clear refusals."""

import json
import sys
from pathlib import Path

import pytest

from ganzoo.bench import parse_threshold, run_bench, summarise
from ganzoo.config import ConfigError
from ganzoo.registry import UnknownNameError

from .conftest import run_ganzoo

TOY = ["-c", "vanilla.g_hidden=[16,16]", "-c", "vanilla.d_hidden=[16,16]", "-c", "wgan-gp.hidden=16", "-c", "wgan-gp.n_critic=2"]


def test_bench_writes_the_three_files(tmp_path):
    out = tmp_path / "bench"
    done = run_ganzoo("bench", "vanilla", "wgan-gp", "--data", "ring8", "--steps", "20", "--evals", "2", "--seeds", "2",
                      "--batch-size", "32", *TOY, "--ema", "0.9", "--threshold", "modes.hq_fraction>=0.0", "--out", str(out),
                      env_extra={"OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((out / "results.json").read_text())
    assert [(r["variant"], r["seed"]) for r in result["runs"]] == [("vanilla", 0), ("vanilla", 1), ("wgan-gp", 0), ("wgan-gp", 1)]
    assert result["ema"] == 0.9
    for run in result["runs"]:
        assert json.loads((Path(run["run"]) / "config.json").read_text())["engine"]["ema"] == 0.9
        assert [p["step"] for p in run["curve"]] == [10, 20]
        assert 0 < run["curve"][0]["train_seconds"] < run["curve"][1]["train_seconds"]
        assert run["images_per_s"] > 0
        if sys.platform.startswith("linux"):  # the training process's own peak, torch loaded: 100 MB to a few GB
            assert 100 < run["peak_memory_mb"] < 4000
        assert run["curve"][-1]["metrics"]["modes"]["protocol"]["num_samples"] == 2500
    vanilla = result["summary"]["vanilla"]
    assert vanilla["parameters"] == sum(result["runs"][0]["parameters"].values())
    assert set(vanilla["final"]) >= {"modes", "modes.hq_fraction"} and vanilla["final"]["modes.num_modes"]["mean"] == 8
    assert len(vanilla["time_to_threshold"]) == 2 and all(t is not None for t in vanilla["time_to_threshold"])
    table = (out / "results.md").read_text()
    assert "| vanilla |" in table and "| wgan-gp |" in table and "± " in table and "time to modes.hq_fraction" in table
    from PIL import Image

    assert Image.open(out / "results.png").size[0] >= 512


def test_bench_refuses_bad_input(tmp_path):
    with pytest.raises(UnknownNameError, match="unknown metric 'fidd'; did you mean 'fid'"):
        run_bench(["dcgan"], "mnist-5k", tmp_path, steps=8, metrics=["fidd"])
    with pytest.raises(ConfigError, match="variant 'dcgan' trains on image data, but 'ring8' gives points data"):
        run_bench(["dcgan"], "ring8", tmp_path, steps=8)
    with pytest.raises(ConfigError, match="leaves under a second per evaluation segment"):
        run_bench(["vanilla"], "ring8", tmp_path, budget=2, evals=4)
    with pytest.raises(ConfigError, match="threshold 'fid' names no metric of this bench"):
        run_bench(["vanilla"], "ring8", tmp_path, steps=8, threshold=("fid", 10.0, "<="))
    with pytest.raises(ConfigError, match="ema must be a decay"):
        run_bench(["vanilla"], "ring8", tmp_path, steps=8, ema=1.0)
    with pytest.raises(ConfigError, match="exactly one budget"):
        run_bench(["vanilla"], "ring8", tmp_path)
    with pytest.raises(ConfigError, match="cannot be cut into 4 evaluation segments"):
        run_bench(["vanilla"], "ring8", tmp_path, steps=3)


def test_time_to_threshold_knows_lower_is_better():
    assert parse_threshold("fid<=40") == ("fid", 40.0, "<=")
    assert parse_threshold("mnist_digits.recognisable>=0.5") == ("mnist_digits.recognisable", 0.5, ">=")
    assert parse_threshold("modes=8") == ("modes", 8.0, ">=")
    with pytest.raises(ValueError, match="METRIC>=VALUE"):
        parse_threshold("fid<forty")
    curve = [{"train_seconds": t, "metrics": {"fid": {"value": v}}} for t, v in ((10, 90.0), (20, 35.0), (30, 20.0))]
    runs = [{"variant": "dcgan", "parameters": {"G": 1}, "images_per_s": 1.0, "peak_memory_mb": 1.0, "curve": curve}]
    assert summarise(runs, ["dcgan"], ("fid", 40.0, "<="))["dcgan"]["time_to_threshold"] == [20]
    assert summarise(runs, ["dcgan"], ("fid", 10.0, "<="))["dcgan"]["time_to_threshold"] == [None]
    assert summarise(runs, ["dcgan"], ("fid", 50.0, ">="))["dcgan"]["time_to_threshold"] == [10]


def test_eval_prints_and_writes_metrics_with_protocol(tmp_path):
    import ganzoo

    run = ganzoo.train("wgan-gp", "ring8", steps=3, out=tmp_path / "run", batch_size=16, hidden=16, progress="off")
    out = run_ganzoo("eval", str(run), "--data", "ring8", "--json", str(tmp_path / "scores.json"))
    assert out.returncode == 0, out.stderr[-2000:]
    assert "modes" in out.stdout
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["metrics"]["modes"]["protocol"]["reference"]["spec"] == "ring8"
    bad = run_ganzoo("eval", str(run), "--data", "ring8", "--metrics", "fid")
    assert bad.returncode != 0 and "needs image data" in bad.stderr and "Traceback" not in bad.stderr
