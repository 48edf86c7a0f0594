"""The engine: run folder, exact resume (also after a real kill), signals, NaN stop, options, DDP."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from ganzoo_dcgan.step import DCGANStep

import ganzoo
from ganzoo import plugins
from ganzoo.config import ConfigError
from ganzoo.engine import NonFiniteLossError, TrainOptions
from ganzoo.engine.checkpoint import list_checkpoints, read_checkpoint

from .engine_probe import NetworkProbe, assert_options_applied

# tiny DCGAN on 16x16 mnist-5k: a few milliseconds per step
TINY = dict(image_size=16, channels=1, ngf=8, ndf=8)
QUIET = dict(progress="off", sample_every=0)


def final_state(run: Path) -> dict[str, torch.Tensor]:
    tensors, _ = read_checkpoint(list_checkpoints(run / "checkpoints")[-1])
    return {k: v for k, v in tensors.items() if not k.startswith("rng.")}


def assert_identical(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs"


def test_run_folder_contents(tmp_path):
    run = ganzoo.train(
        "dcgan",
        "mnist-5k",
        steps=12,
        out=tmp_path / "run",
        batch_size=16,
        log_every=4,
        checkpoint_every=4,
        keep_checkpoints=2,
        sample_every=6,
        progress="off",
        **TINY,
    )
    config = json.loads((run / "config.json").read_text())
    assert config["variant"] == "dcgan" and config["config"]["ngf"] == 8 and config["config"]["image_size"] == 16
    assert config["data"] == {"spec": "mnist-5k", "kind": "image"} and config["engine"]["steps"] == 12
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [4, 8, 12]
    for r in lines:
        assert {"loss_d", "loss_g", "d_real", "d_fake", "images_per_s", "time"} <= r.keys()
        assert r["images_per_s"] > 0 and 0 < r["d_real"] < 1
        assert r["peak_rss_mb"] > 100 or not sys.platform.startswith("linux")
    assert [p.name for p in list_checkpoints(run / "checkpoints")] == [
        "step-000000008.safetensors",
        "step-000000012.safetensors",
    ]
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step-000006.png", "step-000012.png"]
    from PIL import Image

    grid = Image.open(run / "samples" / "step-000012.png")
    assert grid.size[0] == 8 * 16 + 9 * 2  # 64 images: 8 per row, 2px padding
    assert not any(p.name.startswith(".") for p in (run / "checkpoints").iterdir())  # no temp files left


def test_resume_is_bit_identical(tmp_path):
    straight = ganzoo.train(
        "dcgan", "mnist-5k", steps=16, out=tmp_path / "a", batch_size=16, checkpoint_every=0, **QUIET, **TINY
    )
    ganzoo.train("dcgan", "mnist-5k", steps=8, out=tmp_path / "b", batch_size=16, checkpoint_every=0, **QUIET, **TINY)
    resumed = ganzoo.train(out=tmp_path / "b", steps=16, resume=True, progress="off")
    a, b = final_state(straight), final_state(resumed)
    assert any(k.startswith("optim.D.") for k in a)
    assert_identical(a, b)
    steps = [json.loads(x)["step"] for x in (resumed / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(steps) and len(steps) == len(set(steps))


def test_resume_across_an_epoch_boundary_with_ema(tmp_path):
    # mnist-5k / batch 1024 = 4 batches per epoch: 6 + 6 steps cross epochs and reshuffle
    opts = dict(batch_size=1024, checkpoint_every=0, ema=0.9, **QUIET, **TINY)
    straight = ganzoo.train("dcgan", "mnist-5k", steps=12, out=tmp_path / "a", **opts)
    ganzoo.train("dcgan", "mnist-5k", steps=6, out=tmp_path / "b", **opts)
    resumed = ganzoo.train(out=tmp_path / "b", steps=12, resume=True)
    a, b = final_state(straight), final_state(resumed)
    assert any(k.startswith("ema.") for k in a)
    assert not torch.equal(a["ema.main.0.weight"], a["net.G.main.0.weight"])
    assert_identical(a, b)


def test_ema_batch_norm_statistics_fit_the_averaged_weights(tmp_path):
    # The EMA lags G; with G's own running statistics its eval-mode samples would drift off what the
    # averaged weights produce. The engine recomputes them from the EMA's outputs before saving.
    run = ganzoo.train(
        "dcgan",
        "mnist-5k",
        steps=40,
        out=tmp_path / "r",
        batch_size=64,
        checkpoint_every=0,
        ema=0.9,
        lr=2e-3,
        **QUIET,
        **TINY,
    )
    tensors, _ = read_checkpoint(list_checkpoints(run / "checkpoints")[-1])
    G = ganzoo.create("dcgan", **TINY).nets["G"]
    z = torch.randn(2048, *G.latent_shape, generator=torch.Generator().manual_seed(1))

    def eval_vs_batch_stats(stats_from: str) -> float:
        state = {k[4:]: v for k, v in tensors.items() if k.startswith("ema.")}
        state.update(
            {k[6:]: v for k, v in tensors.items() if k.startswith("net.G.") and "running" in k}
            if stats_from == "G"
            else {}
        )
        G.load_state_dict(state, strict=False)
        with torch.no_grad():
            return (G.eval()(z) - G.train()(z)).abs().mean().item()

    assert not torch.equal(tensors["ema.main.1.running_mean"], tensors["net.G.main.1.running_mean"])
    own, copied = eval_vs_batch_stats("ema"), eval_vs_batch_stats("G")
    assert own < 0.02 and own < copied / 3, (own, copied)


def test_data_suggests_config_values_that_the_user_can_override(tmp_path):
    run = ganzoo.train("dcgan", "mnist-5k", steps=1, out=tmp_path / "a", ngf=8, ndf=8, checkpoint_every=0, **QUIET)
    config = json.loads((run / "config.json").read_text())["config"]
    assert (config["image_size"], config["channels"]) == (32, 1)  # not DCGAN's 64x64 RGB defaults
    run = ganzoo.train(
        "dcgan",
        "mnist-5k",
        steps=1,
        out=tmp_path / "b",
        ngf=8,
        ndf=8,
        image_size=16,
        channels=3,
        checkpoint_every=0,
        **QUIET,
    )
    config = json.loads((run / "config.json").read_text())["config"]
    assert (config["image_size"], config["channels"]) == (16, 3)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "ganzoo", "train", *args]


TRAIN_ARGS = [
    "dcgan",
    "--data",
    "mnist-5k",
    "--image-size",
    "32",
    "--channels",
    "1",
    "-c",
    "ngf=16",
    "-c",
    "ndf=16",
    "--batch-size",
    "32",
    "--sample-every",
    "0",
    "--progress",
    "off",
    "--keep-checkpoints",
    "2",
]


def _wait_for_checkpoint(run: Path, proc: subprocess.Popen, at_least: int) -> None:
    deadline = time.time() + 120
    while time.time() < deadline:
        done = [int(p.name[5:14]) for p in list_checkpoints(run / "checkpoints")]
        if done and max(done) >= at_least:
            return
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.02)
    raise AssertionError("no checkpoint appeared")


def test_killed_run_resumes_exactly(tmp_path):
    steps = "150"
    subprocess.run(
        _cli(*TRAIN_ARGS, "--steps", steps, "--checkpoint-every", "20", "--out", str(tmp_path / "straight")),
        check=True,
        capture_output=True,
        timeout=300,
    )
    victim = tmp_path / "killed"
    proc = subprocess.Popen(
        _cli(*TRAIN_ARGS, "--steps", steps, "--checkpoint-every", "20", "--out", str(victim)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for_checkpoint(victim, proc, 40)
    proc.kill()  # SIGKILL: no handler runs, nothing is saved on the way out
    assert proc.wait(timeout=30) == -signal.SIGKILL
    last = list_checkpoints(victim / "checkpoints")[-1]
    assert int(last.name[5:14]) < 150
    subprocess.run(_cli("--resume", str(victim)), check=True, capture_output=True, timeout=300)
    assert_identical(final_state(tmp_path / "straight"), final_state(victim))


def test_sigterm_saves_a_checkpoint_and_says_how_to_resume(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen(
        _cli(*TRAIN_ARGS, "--steps", "100000", "--checkpoint-every", "10", "--out", str(run)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for_checkpoint(run, proc, 10)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert re.search(
        rf"SIGTERM stopped the run at step \d+ and saved \S+step-\d{{9}}\.safetensors; continue it "
        rf"with `ganzoo train --resume {re.escape(str(run))}`",
        err,
    ), err
    saved = list_checkpoints(run / "checkpoints")[-1]
    _, header = read_checkpoint(saved)
    assert header["iteration"] == int(saved.name[5:14]) >= 10


class NanStep(DCGANStep):
    """DCGAN, except that the real batch turns to NaN at iteration 7."""

    def __call__(self, ctx, real):
        if ctx.iteration == 7:
            real = real * float("nan")
        super().__call__(ctx, real)


class NanPlugin:
    @ganzoo.hookimpl
    def ganzoo_register_variants(self, register):
        register(
            ganzoo.Variant(
                "nan-dcgan",
                "DCGAN that diverges",
                "-",
                config="ganzoo_dcgan.config:DCGANConfig",
                build="ganzoo_dcgan.models:build",
                step=NanStep,
            )
        )


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    plugins.register_plugin(NanPlugin(), "nan")
    with pytest.raises(
        NonFiniteLossError, match=r"loss 'loss_d' became nan at step 7; .*last good checkpoint is .*step-000000005"
    ):
        ganzoo.train(
            "nan-dcgan",
            "mnist-5k",
            steps=20,
            out=tmp_path / "run",
            batch_size=16,
            log_every=10,
            checkpoint_every=5,
            **QUIET,
            **TINY,
        )
    kept = list_checkpoints(tmp_path / "run" / "checkpoints")
    assert [p.name for p in kept] == ["step-000000005.safetensors"]
    tensors, _ = read_checkpoint(kept[0])
    assert all(torch.isfinite(v).all() for k, v in tensors.items() if v.is_floating_point())


@pytest.mark.parametrize(
    "precision,dtype,channels_last",
    [("bf16", torch.bfloat16, True), ("fp16", torch.float16, True), ("fp32", torch.float32, False)],
    ids=["bf16", "fp16", "fp32"],
)  # fp32: the probe's control
def test_reduced_precision_trains(tmp_path, monkeypatch, precision, dtype, channels_last):
    probe = NetworkProbe(monkeypatch, DCGANStep)
    run = ganzoo.train(
        "dcgan",
        "mnist-5k",
        steps=6,
        out=tmp_path / precision,
        batch_size=16,
        log_every=3,
        precision=precision,
        channels_last=channels_last,
        **QUIET,
        **{**TINY, "channels": 3},
    )
    # 6 steps, 3 calls of D and 1 of G each; RGB so that NCHW and NHWC differ in memory
    assert len(probe.of("D")) == 18 and len(probe.of("G")) == 6
    assert_options_applied(probe, dtype=dtype, channels_last=channels_last, compiled=False)
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(lines) == 2 and all(torch.isfinite(torch.tensor(r["loss_g"])) for r in lines)
    tensors, header = read_checkpoint(list_checkpoints(run / "checkpoints")[-1])
    assert tensors["net.G.main.0.weight"].dtype == torch.float32  # master weights stay fp32
    assert (header["scaler"] is not None) == (precision == "fp16")


def test_compiled_networks_train(tmp_path, monkeypatch):
    from torch._dynamo.utils import counters

    probe = NetworkProbe(monkeypatch, DCGANStep)
    counters.clear()
    run = ganzoo.train(
        "dcgan",
        "mnist-5k",
        steps=3,
        out=tmp_path / "c",
        batch_size=16,
        log_every=1,
        compile=True,
        **QUIET,
        **{**TINY, "channels": 3},
    )
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 3
    assert_options_applied(probe, dtype=torch.float32, channels_last=False, compiled=True)
    assert counters["stats"]["unique_graphs"] >= 2  # dynamo really captured graphs: G's and D's at least
    # compiled wrappers must not leak into checkpoint names
    assert all(not k.startswith("net.G._orig_mod") for k in final_state(run))


def test_budget_stops_early_with_a_checkpoint(tmp_path):
    run = ganzoo.train("dcgan", "mnist-5k", steps=10**6, budget=1.0, out=tmp_path / "b", batch_size=16, **QUIET, **TINY)
    saved = list_checkpoints(run / "checkpoints")
    assert len(saved) == 1 and 0 < int(saved[0].name[5:14]) < 10**6


def test_bad_runs_are_refused_clearly(tmp_path):
    ganzoo.train("dcgan", "mnist-5k", steps=2, out=tmp_path / "r", batch_size=16, **QUIET, **TINY)
    with pytest.raises(FileExistsError, match="already has checkpoints; resume it with"):
        ganzoo.train("dcgan", "mnist-5k", steps=2, out=tmp_path / "r", **QUIET, **TINY)
    with pytest.raises(FileNotFoundError, match="no config.json"):
        ganzoo.train(out=tmp_path / "nothing", resume=True)
    with pytest.raises(ConfigError, match="can change optimizer and loss settings, not its networks: ngf changes them"):
        ganzoo.train(out=tmp_path / "r", resume=True, ngf=16)
    with pytest.raises(ConfigError, match="precision must be"):
        TrainOptions(precision="fp8")
    with pytest.raises(ConfigError, match="trains on image data, but the data spec gives points"):
        ganzoo.train("dcgan", "ring8", steps=2, out=tmp_path / "x", **QUIET)
    with pytest.raises(ValueError, match="too few for batch size"):
        ganzoo.train(
            "dcgan",
            str(_image_folder(tmp_path / "imgs", 3)),
            steps=2,
            out=tmp_path / "y",
            batch_size=8,
            **QUIET,
            **TINY,
        )
    with pytest.raises(FileNotFoundError, match="no-such-folder"):
        ganzoo.train("dcgan", str(tmp_path / "no-such-folder"), steps=2, out=tmp_path / "z", **QUIET, **TINY)


def _image_folder(folder: Path, n: int) -> Path:
    from PIL import Image

    folder.mkdir(parents=True)
    for i in range(n):
        Image.new("RGB", (20 + i, 24), (i * 40, 0, 0)).save(folder / f"{i}.png")
    return folder


def test_trains_from_an_image_folder_with_workers(tmp_path):
    folder = _image_folder(tmp_path / "imgs", 12)
    run = ganzoo.train(
        "dcgan", str(folder), steps=4, out=tmp_path / "f", batch_size=4, workers=1, log_every=2, **QUIET, **TINY
    )
    assert json.loads((run / "config.json").read_text())["data"]["spec"] == str(folder)
    _, header = read_checkpoint(list_checkpoints(run / "checkpoints")[-1])
    assert header["data"] == {"epoch": 1, "offset": 1}  # 12 images / 4 = 3 batches per epoch


@pytest.mark.parametrize("extra", [{}, {"r1": 1.0}, {"pack": 2, "mbstd": 4}], ids=["plain", "r1", "pack-mbstd"])
def test_ddp_with_two_cpu_processes(tmp_path, extra):  # r1: D's real pass runs outside the DDP wrapper
    script = tmp_path / "ddp_train.py"
    script.write_text(
        "import json, os, sys, torch, torch.distributed as dist, ganzoo\n"
        "from ganzoo.engine import Trainer\n"
        "weights = {}\n"
        "original_run = Trainer.run\n"
        "def run(self, until=None):\n"
        "    out = original_run(self, until)\n"
        "    weights.update({f'{n}.{k}': v.detach().clone() "
        "for n, net in self.raw.items() for k, v in net.state_dict().items()})\n"
        "    weights['world'] = torch.tensor(self.dist.world)\n"
        "    return out\n"
        "Trainer.run = run\n"
        "ganzoo.train('dcgan', 'mnist-5k', steps=6, out=sys.argv[1], batch_size=16, log_every=3, checkpoint_every=0,\n"
        "             progress='off', sample_every=0, image_size=16, channels=1, ngf=8, ndf=8, "
        "**json.loads(sys.argv[3]))\n"
        "assert not dist.is_initialized(), 'the engine ends the process group it started'\n"
        "from safetensors.torch import save_file\n"
        "save_file(weights, f'{sys.argv[2]}/rank{os.environ[\"RANK\"]}.safetensors')\n"
        # All work is done and the group is ended. Under load, about one launch in 30 - 60 saw
        # rank 1 abort in torch's C++ teardown at interpreter exit ("terminate called without
        # an active exception"), after everything above; skipping that teardown keeps the test
        # about the engine.
        "sys.stdout.flush(); sys.stderr.flush(); os._exit(0)\n"
    )
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            str(script),
            str(tmp_path / "run"),
            str(tmp_path),
            json.dumps(extra),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    from safetensors.torch import load_file

    r0, r1 = load_file(tmp_path / "rank0.safetensors"), load_file(tmp_path / "rank1.safetensors")
    assert int(r0["world"]) == 2
    assert_identical(r0, r1)  # gradients were averaged: both ranks hold the same networks
    untrained = ganzoo.create("dcgan", **TINY)
    assert not torch.equal(r0["G.main.0.weight"], untrained.nets["G"].main[0].weight)
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [3, 6]  # written once, by rank 0
    assert json.loads((tmp_path / "run" / "config.json").read_text())["world_size"] == 2
    # images/s counts both ranks' batches
    assert all(json.loads(x)["images_per_s"] > 0 for x in lines)


def test_the_cli_under_torchrun_exits_0_on_every_rank(tmp_path):
    """`torchrun -m ganzoo train ...` as a user runs it: both ranks finish, say so, and exit 0."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "ganzoo",
            "train",
            "dcgan",
            "--data",
            "mnist-5k",
            "--steps",
            "4",
            "--batch-size",
            "8",
            "--out",
            str(tmp_path / "run"),
            "--image-size",
            "16",
            "--channels",
            "1",
            "-c",
            "ngf=8",
            "-c",
            "ndf=8",
            "--sample-every",
            "0",
            "--progress",
            "off",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count(f"done: {tmp_path / 'run'}") == 2  # one line from each rank
    assert json.loads((tmp_path / "run" / "config.json").read_text())["world_size"] == 2
    assert list_checkpoints(tmp_path / "run" / "checkpoints")


def test_a_checkpoint_off_the_log_grid_writes_what_was_logged_since_the_last_line(tmp_path):
    run = ganzoo.train(
        "dcgan",
        "mnist-5k",
        steps=7,
        out=tmp_path / "r",
        batch_size=16,
        checkpoint_every=2,
        log_every=3,
        **QUIET,
        **TINY,
    )
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [2, 3, 4, 6, 7]  # no step's losses dropped at a checkpoint
    assert all("loss_d" in r and r["train_seconds"] > 0 for r in lines)


def test_a_trainer_as_a_context_manager_closes_and_releases_the_folder(tmp_path, monkeypatch):
    from ganzoo.data import load_dataset
    from ganzoo.engine import Trainer, end_finished_rank
    from ganzoo.engine.runfolder import RunLock

    dataset, _ = load_dataset("mnist-5k", image_size=16, channels=1)
    opts = TrainOptions(steps=2, batch_size=16, **QUIET)
    with Trainer(
        ganzoo.create("dcgan", **TINY), dataset, {"spec": "mnist-5k", "kind": "image"}, tmp_path / "run", opts
    ) as trainer:
        trainer.run()
    assert trainer.log is None and trainer._lock is None and not trainer.dist.owns_group
    RunLock.check_free(tmp_path / "run")  # released: no process holds it now
    with pytest.raises(RuntimeError, match="boom"):
        with Trainer(
            ganzoo.create("dcgan", **TINY),
            dataset,
            {"spec": "mnist-5k", "kind": "image"},
            tmp_path / "run",
            TrainOptions(steps=4, batch_size=16, **QUIET),
            resume=True,
        ):
            raise RuntimeError("boom")
    RunLock.check_free(tmp_path / "run")  # an error releases it too
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    end_finished_rank()  # one process: nothing to end, and it returns
