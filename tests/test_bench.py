"""`ganzoo bench` and `ganzoo eval`: side-by-side results files, and clear refusals."""

import json
import re
import statistics
import sys
from pathlib import Path

import pytest
import torch

import ganzoo
from ganzoo import plugins
from ganzoo.bench import degenerate_notes, parse_threshold, run_bench, summarise
from ganzoo.config import ConfigError
from ganzoo.registry import MetricSpec, UnknownNameError

from .conftest import run_ganzoo

TOY = [
    "-c",
    "vanilla.g_hidden=[16,16]",
    "-c",
    "vanilla.d_hidden=[16,16]",
    "-c",
    "wgan-gp.hidden=16",
    "-c",
    "wgan-gp.n_critic=2",
]


def test_bench_writes_the_three_files(tmp_path):
    out = tmp_path / "bench"
    done = run_ganzoo(
        "bench",
        "vanilla",
        "wgan-gp",
        "--data",
        "ring8",
        "--steps",
        "20",
        "--evals",
        "2",
        "--seeds",
        "2",
        "--batch-size",
        "32",
        *TOY,
        "--ema",
        "0.9",
        "--threshold",
        "modes.hq_fraction>=0.5",
        "--out",
        str(out),
        env_extra={"OMP_NUM_THREADS": "1"},
        timeout=600,
    )  # four trainings in their own processes: about
    assert done.returncode == 0, done.stderr[-3000:]  # a minute alone, past two on a loaded machine
    result = json.loads((out / "results.json").read_text())
    assert [(r["variant"], r["seed"]) for r in result["runs"]] == [
        ("vanilla", 0),
        ("vanilla", 1),
        ("wgan-gp", 0),
        ("wgan-gp", 1),
    ]
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
    table = (out / "results.md").read_text()
    for name in ("vanilla", "wgan-gp"):
        runs = [r for r in result["runs"] if r["variant"] == name]
        # the first evaluation at which hq_fraction reached 0.5, read off the curves by hand
        expected = [
            next(
                (p["train_seconds"] for p in r["curve"] if p["metrics"]["modes"]["values"]["hq_fraction"] >= 0.5), None
            )
            for r in runs
        ]
        assert result["summary"][name]["time_to_threshold"] == expected
        hq = [r["curve"][-1]["metrics"]["modes"]["values"]["hq_fraction"] for r in runs]
        assert result["summary"][name]["final"]["modes.hq_fraction"]["sd"] == pytest.approx(statistics.stdev(hq))
        for r in runs:  # 20 steps may teach nothing: then every evaluation gives the same numbers and the run says so
            values = [p["metrics"]["modes"]["values"] for p in r["curve"]]
            assert any("identical numbers" in note for note in r["degenerate"]) == all(
                v == values[0] for v in values
            ), r
        assert (f"| {name} (degenerate, see notes) |" in table) == any(r["degenerate"] for r in runs)
        times = ", ".join("never" if t is None else f"{t:.0f}" for t in expected)
        row = rf"^\| {re.escape(name)}( \(degenerate, see notes\))? \|.* \| {re.escape(times)} \|$"  # the last column
        assert re.search(row, table, re.M), table
    assert "time to modes.hq_fraction >= 0.5 (s)" in table and "± n/a" not in table  # two seeds: an sd each
    from PIL import Image

    assert Image.open(out / "results.png").size[0] >= 512


class SpreadMetric:
    """A points metric that moves with any change of the samples: their standard deviation."""

    @ganzoo.hookimpl
    def ganzoo_register_metrics(self, register):
        register(
            MetricSpec(
                "spread",
                "sd of the samples",
                compute=lambda samples, reference, *, extractor=None, seed=0: {"spread": float(samples.std())},
                data_kind="points",
            )
        )


def test_bench_marks_a_model_that_learnt_nothing(tmp_path):
    plugins.register_plugin(SpreadMetric(), "spread")
    # lr 1e-30: Adam's steps vanish against the weights, so G ends each segment bit-for-bit as it began
    result = run_bench(
        ["vanilla"],
        "ring8",
        tmp_path / "bench",
        steps=4,
        evals=2,
        seeds=1,
        batch_size=16,
        metrics=["modes", "spread"],
        config={"vanilla": {"g_hidden": [16], "d_hidden": [16], "lr": 1e-30}},
    )
    run = result["runs"][0]
    assert [p["step"] for p in run["curve"]] == [2, 4] and run["curve"][0]["metrics"]["spread"]["value"] > 0
    assert len(run["degenerate"]) == 1 and run["degenerate"][0].startswith(
        "all 2 evaluations (steps 2, 4) gave identical numbers to the last digit"
    )
    summary = result["summary"]["vanilla"]
    assert summary["degenerate"] == [f"seed 0: {run['degenerate'][0]}"]
    assert all(stat["sd"] is None for stat in summary["final"].values())  # one seed: no spread to report
    assert json.loads((tmp_path / "bench" / "results.json").read_text())["summary"]["vanilla"] == summary
    table = (tmp_path / "bench" / "results.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith("| vanilla"))
    assert row.startswith("| vanilla (degenerate, see notes) |")
    assert row.count("± n/a") == len(summary["final"]) and "± 0" not in table
    assert f"- vanilla, seed 0: {run['degenerate'][0]}" in table and "sd n/a: one seed" in table


def test_degenerate_notes_read_the_curve():
    def point(step, spread, note=None):
        record = {"value": spread, "values": {"spread": spread}, "protocol": {}}
        return {
            "step": step,
            "train_seconds": step,
            "metrics": {"spread": {**record, **({"degenerate": note} if note else {})}},
        }

    assert degenerate_notes([point(10, 0.5), point(20, 0.25)]) == []
    assert degenerate_notes([point(10, 0.5)]) == []  # one evaluation: nothing to compare
    same = degenerate_notes([point(10, 0.5), point(20, 0.5), point(30, 0.5)])
    assert len(same) == 1 and same[0].startswith("all 3 evaluations (steps 10, 20, 30) gave identical numbers")
    flagged = degenerate_notes(
        [
            point(10, 0.5, "all 9 generated samples are the same"),
            point(20, 0.25),
            point(30, 0.125, "all 9 generated samples are the same"),
        ]
    )
    assert flagged == ["spread: all 9 generated samples are the same (at steps 10, 30)"]


class DeadFeatures(torch.nn.Module):
    """Features of images in [-1, 1] that are all zero (a ReLU below its threshold), or that follow the pixels."""

    def __init__(self, dead: bool):
        super().__init__()
        self.dead = dead
        self.scale = torch.nn.Parameter(torch.ones(()))  # an extractor finds its device from its parameters

    def forward(self, x):  # (B, C, H, W) -> (B, 4)
        pixels = x.flatten(1)[:, :4] * self.scale
        return torch.relu(pixels - 10) if self.dead else pixels + 1


EXTRACTORS = {}  # metric name -> the FeatureExtractor its compute uses (set by the test)


def _feature_metric(name):
    def compute(samples, reference, *, extractor=None, seed=0):
        return {name: float(EXTRACTORS[name](samples).sum())}

    return MetricSpec(name, "sum of test features", compute=compute)


class FeatureMetrics:
    @ganzoo.hookimpl
    def ganzoo_register_metrics(self, register):
        register(_feature_metric("dead"))
        register(_feature_metric("live"))


def test_evaluate_flags_numbers_that_cannot_tell_samples_apart():
    from ganzoo.evaluate import evaluate, format_table
    from ganzoo.metrics.features import FeatureExtractor, ModelRangeFeatures

    for name in ("dead", "live"):
        module = ModelRangeFeatures(f"test-{name}", ["features"], DeadFeatures(name == "dead"), lambda x: x)
        EXTRACTORS[name] = FeatureExtractor(f"test:{name}", module)
    plugins.register_plugin(FeatureMetrics(), "features")
    model = ganzoo.create("dcgan", image_size=16, channels=1, ngf=8, ndf=8)
    result = evaluate(model, "mnist-5k", ["dead", "live"], num_samples=100, num_reference=100)
    assert result["metrics"]["dead"]["degenerate"] == (
        "all 100 generated samples give the same test:dead features, so the numbers cannot tell them apart and will "
        "not move until the samples look different to that network (typical of a generator that has learnt nothing "
        "yet: noise or a flat grey)"
    )
    assert "degenerate" not in result["metrics"]["live"]
    table = format_table(result)
    assert table.splitlines()[-1] == f"degenerate dead: {result['metrics']['dead']['degenerate']}"
    assert "degenerate live" not in table

    torch.nn.init.zeros_(model.nets["G"].main[-2].weight)  # the last conv: every sample becomes tanh(0), flat grey
    same = evaluate(model, "mnist-5k", ["dead", "live"], num_samples=100, num_reference=100)
    for name in ("dead", "live"):
        assert same["metrics"][name]["degenerate"].startswith("all 100 generated samples are the same")


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


def test_bench_scores_conditional_metrics_on_conditional_variants_only():
    from ganzoo.bench import _applicable

    conditional = ganzoo.create("sngan", image_size=32, channels=1, num_classes=10, g_ch=16, d_ch=16)
    unconditional = ganzoo.create("dcgan", image_size=32, channels=1)
    assert _applicable(["mnist_digits", "intra_fid"], conditional) == ["mnist_digits", "intra_fid"]
    assert _applicable(["mnist_digits", "intra_fid"], unconditional) == ["mnist_digits"]


def test_bench_runs_stylegan2_and_dcgan_side_by_side(tmp_path):
    config = {
        "stylegan2": dict(z_dim=16, w_dim=16, mapping_layers=2, channel_base=256, channel_max=16),
        "dcgan": dict(ngf=8, ndf=8),
    }
    result = run_bench(
        ["stylegan2", "dcgan"],
        "mnist-5k",
        tmp_path / "bench",
        steps=4,
        evals=1,
        batch_size=8,
        config=config,
        num_samples=200,
    )
    assert [r["variant"] for r in result["runs"]] == ["stylegan2", "dcgan"]
    for run in result["runs"]:
        final = run["curve"][-1]["metrics"]["mnist_digits"]
        assert 0 <= final["values"]["recognisable"] <= 1 and final["protocol"]["num_samples"] == 200
        assert json.loads((Path(run["run"]) / "config.json").read_text())["config"]["image_size"] == 32
    table = (tmp_path / "bench" / "results.md").read_text()
    assert "stylegan2" in table and "dcgan" in table
