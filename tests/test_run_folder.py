"""Run folders that lose nothing: one process at a time, never someone else's files, only good checkpoints."""

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
from ganzoo.engine import NonFiniteLossError, Trainer, TrainOptions
from ganzoo.engine.checkpoint import CorruptCheckpointError, list_checkpoints, read_checkpoint
from ganzoo.engine.errors import TrainingDataError
from ganzoo.engine.runfolder import LOCK_NAME, NotARunFolderError, RunFolderInUseError, RunLock

TINY = dict(image_size=16, channels=1, ngf=8, ndf=8)  # a few milliseconds per step
QUIET = dict(progress="off", sample_every=0)
CLI_TRAIN = [
    sys.executable,
    "-m",
    "ganzoo",
    "train",
    "dcgan",
    "--data",
    "mnist-5k",
    "--image-size",
    "16",
    "--channels",
    "1",
    "-c",
    "ngf=8",
    "-c",
    "ndf=8",
    "--batch-size",
    "16",
    "--sample-every",
    "0",
    "--progress",
    "off",
]


def tiny_run(out: Path, steps: int = 6, **options) -> Path:
    opts = dict(batch_size=16, log_every=2, checkpoint_every=2, **QUIET, **TINY)
    return ganzoo.train("dcgan", "mnist-5k", steps=steps, out=out, **{**opts, **options})


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file's bytes, but the lock file's (each run that takes the lock writes its pid there)."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != LOCK_NAME
    }


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# ---- one process at a time ------------------------------------------------------------------------


def test_a_second_process_is_refused_while_a_run_holds_the_folder(tmp_path):
    run = tmp_path / "run"
    first = subprocess.Popen(
        [*CLI_TRAIN, "--steps", "100000", "--checkpoint-every", "5", "--out", str(run)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + 120
        while not list_checkpoints(run / "checkpoints"):
            assert first.poll() is None and time.time() < deadline, first.stderr.read()
            time.sleep(0.05)
        config = (run / "config.json").read_bytes()
        second = subprocess.run(
            [*CLI_TRAIN, "-c", "ngf=4", "--steps", "10", "--out", str(run)], capture_output=True, text=True, timeout=120
        )
        assert second.returncode == 1
        assert (
            f"Error: run folder {run} is in use by process {first.pid} on " in second.stderr
            and "; wait for it to finish or choose another --out" in second.stderr
        ), second.stderr
        resumed = subprocess.run(
            [*CLI_TRAIN[:4], "--resume", str(run), "--steps", "10"], capture_output=True, text=True, timeout=120
        )
        assert resumed.returncode == 1 and f"is in use by process {first.pid}" in resumed.stderr, resumed.stderr
        assert (run / "config.json").read_bytes() == config
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    assert first.returncode == 130
    _, header = read_checkpoint(list_checkpoints(run / "checkpoints")[-1])
    assert json.loads(config)["config"]["ngf"] == 8 and header["variant"] == "dcgan"
    ganzoo.train(out=run, steps=header["iteration"] + 1, resume=True, progress="off")  # released at exit


def test_a_lock_held_in_this_process_refuses_a_run_and_a_finished_run_releases_it(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    lock = RunLock(run)
    with pytest.raises(
        RunFolderInUseError,
        match=rf"run folder {run} is in use by process {os.getpid()} on .* \(started "
        rf"\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d\); wait for it to finish",
    ):
        tiny_run(run)  # refused before the data loads
    with pytest.raises(RunFolderInUseError, match=rf"is in use by process {os.getpid()} "):  # and by the engine itself
        Trainer(ganzoo.create("dcgan", **TINY), None, {"spec": "mnist-5k", "kind": "image"}, run, TrainOptions(**QUIET))
    assert os.listdir(run) == [LOCK_NAME]  # nothing written
    lock.release()
    tiny_run(run, steps=2)
    with pytest.raises(FileExistsError, match="already has checkpoints"):  # refused under the lock, then let go
        tiny_run(run)
    ganzoo.train(out=run, steps=4, resume=True, progress="off")  # neither the finished nor the refused run holds it
    assert list_checkpoints(run / "checkpoints")[-1].name == "step-000000004.safetensors"


def test_a_lock_file_left_by_a_killed_process_does_not_block(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; "
            "from ganzoo.engine.runfolder import RunLock; RunLock(Path(sys.argv[1])); "
            "print('locked', flush=True); time.sleep(120)",
            str(run),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(RunFolderInUseError, match=f"in use by process {holder.pid} "):
        tiny_run(run)
    holder.kill()
    assert holder.wait(timeout=30) == -signal.SIGKILL
    assert json.loads((run / LOCK_NAME).read_text())["pid"] == holder.pid  # the stale file is still there
    tiny_run(run, steps=2)
    assert [p.name for p in list_checkpoints(run / "checkpoints")] == ["step-000000002.safetensors"]


# ---- never someone else's files ------------------------------------------------------------------


def test_a_folder_of_the_users_files_is_refused_and_left_untouched(tmp_path):
    mine = tmp_path / "mine"
    (mine / "pictures").mkdir(parents=True)
    (mine / "config.json").write_text('{"lr": 0.1, "note": "my own experiment"}\n')
    (mine / "notes.txt").write_text("do not lose this\n")
    (mine / "pictures" / "a.png").write_bytes(bytes(range(256)))
    before = snapshot(mine)
    message = (
        rf"--out {mine} is not empty \(config.json, notes.txt, pictures\) and is not a ganzoo run folder; ganzoo "
        r"writes only into a new or empty folder: choose another --out"
    )
    with pytest.raises(NotARunFolderError, match=message):
        tiny_run(mine)
    # the engine refuses it too, for callers that build a Trainer themselves
    torch.manual_seed(0)
    model = ganzoo.create("dcgan", **TINY)
    with pytest.raises(NotARunFolderError, match=message):
        Trainer(model, None, {"spec": "mnist-5k", "kind": "image"}, mine, TrainOptions(**QUIET))
    assert snapshot(mine) == before and sorted(os.listdir(mine)) == ["config.json", "notes.txt", "pictures"]
    with pytest.raises(ValueError, match=r"config\.json: key 'variant' is missing"):  # resume reads config.json only
        ganzoo.train(out=mine, resume=True)
    assert snapshot(mine) == before


def test_a_run_that_stopped_before_its_first_checkpoint_is_refused_with_advice(tmp_path):
    run = tiny_run(tmp_path / "run", steps=2)
    for path in list_checkpoints(run / "checkpoints"):
        path.unlink()  # as if it had crashed before writing one
    before = snapshot(run)
    with pytest.raises(
        FileExistsError,
        match=rf"run folder {run} holds a run that stopped before its first "
        r"checkpoint, so there is nothing to resume; delete the folder or choose",
    ):
        tiny_run(run)
    with pytest.raises(FileNotFoundError, match=rf"nothing to resume in {run}: no checkpoints"):
        ganzoo.train(out=run, resume=True)
    assert snapshot(run) == before
    empty = tmp_path / "empty"
    empty.mkdir()
    tiny_run(empty, steps=1)  # an existing empty folder is fine


# ---- only good checkpoints -----------------------------------------------------------------------


class BlowUpStep(DCGANStep):
    """DCGAN whose learning rate jumps to 1e8 after iteration 10: batch-norm statistics overflow, losses stay finite."""

    def lr_factor(self, iteration: int, total: int) -> float:
        return 1.0 if iteration < 10 else 5e11


class BlowUpPlugin:
    @ganzoo.hookimpl
    def ganzoo_register_variants(self, register):
        register(
            ganzoo.Variant(
                "blowup-dcgan",
                "DCGAN that overflows",
                "-",
                config="ganzoo_dcgan.config:DCGANConfig",
                build="ganzoo_dcgan.models:build",
                step=BlowUpStep,
            )
        )


def test_a_state_that_overflows_while_losses_stay_finite_stops_the_run(tmp_path):
    plugins.register_plugin(BlowUpPlugin(), "blowup")
    run = tmp_path / "run"
    with pytest.raises(
        NonFiniteLossError,
        match=r"network '[GD]' holds (inf|nan) \(net\.[GD]\.main\.\d+\.running_var\) "
        r"at step 15, finite at step 10; the run stopped and the last good "
        rf"checkpoint is {run}/checkpoints/step-000000010\.safetensors",
    ) as err:
        ganzoo.train(
            "blowup-dcgan",
            "mnist-5k",
            steps=40,
            out=run,
            batch_size=16,
            log_every=5,
            checkpoint_every=5,
            keep_checkpoints=5,
            **QUIET,
            **TINY,
        )
    named = Path(str(err.value).split("last good checkpoint is ")[1].split(";")[0])
    assert list_checkpoints(run / "checkpoints")[-1] == named  # nothing written after it
    tensors, header = read_checkpoint(named)
    assert header["iteration"] == 10
    assert all(bool(v.isfinite().all()) for v in tensors.values() if v.is_floating_point())
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(torch.isfinite(torch.tensor(r["loss_d"])) for r in lines)  # the losses never told


def test_a_checkpoint_holding_inf_is_never_written(tmp_path):
    run = tmp_path / "run"
    torch.manual_seed(0)
    from ganzoo.data import load_dataset

    dataset, _ = load_dataset("mnist-5k", image_size=16, channels=1)
    trainer = Trainer(
        ganzoo.create("dcgan", **TINY),
        dataset,
        {"spec": "mnist-5k", "kind": "image"},
        run,
        TrainOptions(steps=2, batch_size=16, ema=0.9, **QUIET),
    )
    try:
        trainer.run()
        good = list_checkpoints(run / "checkpoints")
        trainer.optimizers["D"].state[trainer.raw["D"].main[0].weight]["exp_avg_sq"][0, 0, 0, 0] = float("inf")
        with pytest.raises(
            NonFiniteLossError,
            match=r"the optimizer of 'D' holds inf \(optim\.D\.0\.exp_avg_sq\) at "
            r"step 2, .*last good checkpoint is .*step-000000002",
        ):
            trainer.save_checkpoint()
        trainer.iteration = 3
        with pytest.raises(NonFiniteLossError):
            trainer.save_checkpoint()
        assert list_checkpoints(run / "checkpoints") == good
        assert not [p for p in (run / "checkpoints").iterdir() if p.name.startswith(".")]
    finally:
        trainer.close()


def flip_a_data_byte(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    start = 8 + int.from_bytes(raw[:8], "little")  # safetensors: header length, JSON header, then the tensor data
    raw[(start + len(raw)) // 2] ^= 0x01
    path.write_bytes(bytes(raw))


def test_a_corrupt_checkpoint_is_named_and_the_previous_good_one_offered(tmp_path):
    run = tiny_run(tmp_path / "run", steps=6)
    bad = run / "checkpoints" / "step-000000006.safetensors"
    flip_a_data_byte(bad)
    with pytest.raises(CorruptCheckpointError, match=rf"checkpoint {bad} is corrupt \(checksum mismatch"):
        read_checkpoint(bad)
    read_checkpoint(run / "checkpoints" / "step-000000004.safetensors")
    with pytest.raises(
        CorruptCheckpointError,
        match=rf"checkpoint {bad} is corrupt \(checksum mismatch.*\); the previous "
        rf"checkpoint step-000000004.safetensors verifies: move {bad} out of "
        rf"{run}/checkpoints and run `ganzoo train --resume {run}` again",
    ):
        ganzoo.train(out=run, steps=8, resume=True, progress="off")
    bad.rename(tmp_path / bad.name)  # what the message says to do
    ganzoo.train(out=run, steps=8, resume=True, progress="off")
    _, header = read_checkpoint(list_checkpoints(run / "checkpoints")[-1])
    assert header["iteration"] == 8


def test_a_checkpoint_without_a_checksum_still_loads(tmp_path):
    from safetensors import safe_open
    from safetensors.torch import save_file

    run = tiny_run(tmp_path / "run", steps=2)
    path = list_checkpoints(run / "checkpoints")[-1]
    with safe_open(str(path), framework="pt") as f:
        metadata, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    assert set(metadata) == {"ganzoo", "ganzoo_sha256"}
    older = {k: v for k, v in json.loads(metadata["ganzoo"]).items() if k != "checksum"}  # it declared none
    save_file(tensors, str(path), metadata={"ganzoo": json.dumps(older)})  # as older ganzoo wrote them
    with pytest.warns(UserWarning, match="has no checksum"):
        loaded, header = read_checkpoint(path)
    assert header["iteration"] == 2 and all(torch.equal(loaded[k], tensors[k]) for k in tensors)
    ganzoo.train(out=run, steps=3, resume=True, progress="off")


# ---- crash leftovers -----------------------------------------------------------------------------


def test_stale_temp_files_of_dead_processes_are_removed_on_resume(tmp_path):
    run = tiny_run(tmp_path / "run", steps=2)
    dead = dead_pid()
    stale = [run / "checkpoints" / f".step-000000004.safetensors.tmp-{dead}", run / f".config.json.tmp-{dead}"]
    kept = [
        run / "checkpoints" / f".step-000000004.safetensors.tmp-{os.getppid()}",  # a live process: not stale
        run / "notes.tmp-1",
        run / "samples-by-hand" / f".x.tmp-{dead}",
    ]  # not ganzoo's name / place
    for path in stale + kept:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"half a file")
    ganzoo.train(out=run, steps=3, resume=True, progress="off")
    assert [p.exists() for p in stale] == [False, False]
    assert [p.exists() for p in kept] == [True, True, True]


def test_a_torn_last_metrics_line_is_dropped_and_damage_elsewhere_is_named(tmp_path):
    run = tiny_run(tmp_path / "run", steps=4, log_every=1)
    metrics = run / "metrics.jsonl"
    with metrics.open("a") as f:
        f.write('{"step": 5, "loss_d": 0.69')  # a crash in the middle of a write
    ganzoo.train(out=run, steps=6, resume=True, progress="off")
    assert [json.loads(x)["step"] for x in metrics.read_text().splitlines()] == [1, 2, 3, 4, 5, 6]

    lines = metrics.read_text().splitlines()
    metrics.write_text("\n".join([lines[0], "garbage", *lines[2:]]) + "\n")
    before = metrics.read_bytes()
    with pytest.raises(
        ValueError,
        match=rf"{metrics} line 2 is not a metrics record \(JSONDecodeError: .*\); fix or "
        r"delete that line, then resume again",
    ):
        ganzoo.train(out=run, steps=8, resume=True, progress="off")
    assert metrics.read_bytes() == before


# ---- data that fails mid-run ---------------------------------------------------------------------


def test_a_batch_that_fails_to_load_is_not_counted_as_drawn():
    from ganzoo.engine.batches import Batches

    class Flaky:  # in memory: indexed a batch at a time, no DataLoader
        fail = False

        def __len__(self):
            return 8

        def batch(self, idx):
            if self.fail:
                raise OSError("the disk went away")
            return torch.zeros(len(idx), 2)

    data = Flaky()
    batches = Batches(data, 2, 0, torch.device("cpu"))
    next(batches)
    data.fail = True
    with pytest.raises(OSError, match="the disk went away"):
        next(batches)
    assert batches.position() == {"epoch": 0, "offset": 1}  # a resume reads the failed batch again


def image_folder(folder: Path, n: int) -> Path:
    from PIL import Image

    folder.mkdir(parents=True)
    for i in range(n):
        Image.new("L", (16, 16), i * 20).save(folder / f"{i:02d}.png")
    return folder


@pytest.mark.parametrize("workers", [0, 1])
def test_an_image_that_fails_mid_run_saves_the_last_step_and_resumes_exactly_once_fixed(tmp_path, workers):
    from ganzoo.data import load_dataset

    folder = image_folder(tmp_path / "imgs", 12)
    opts = dict(batch_size=4, checkpoint_every=0, log_every=1, workers=workers, **QUIET)
    straight = ganzoo.train("dcgan", str(folder), steps=8, out=tmp_path / "straight", **opts, **TINY)

    dataset, _ = load_dataset(str(folder), image_size=16, channels=1)  # every file verified here
    victim = folder / "07.png"
    good = victim.read_bytes()
    victim.write_bytes(b"not a png any more")
    torch.manual_seed(0)  # as ganzoo.train seeds the initial weights
    run = tmp_path / "run"
    trainer = Trainer(
        ganzoo.create("dcgan", **TINY),
        dataset,
        {"spec": str(folder), "kind": "image"},
        run,
        TrainOptions(steps=8, **opts),
    )
    try:
        with pytest.raises(TrainingDataError) as err:
            trainer.run()
    finally:
        trainer.close()
    step = trainer.iteration
    assert re.fullmatch(
        rf"reading the training data failed at step {step + 1}: .*cannot read image {re.escape(str(victim))}"
        rf": [^\n]*; saved {re.escape(str(run))}/checkpoints/step-{step:09d}\.safetensors at step {step}\. "
        rf"Fix or remove the file it names, then continue with `ganzoo train --resume "
        rf"{re.escape(str(run))}`",
        str(err.value),
    ), str(err.value)
    _, header = read_checkpoint(list_checkpoints(run / "checkpoints")[-1])
    assert header["iteration"] == step < 3  # 12 images / 4 = 3 batches: the bad one comes in the first epoch

    victim.write_bytes(good)
    ganzoo.train(out=run, steps=8, resume=True, progress="off")
    a, _ = read_checkpoint(list_checkpoints(straight / "checkpoints")[-1])
    b, _ = read_checkpoint(list_checkpoints(run / "checkpoints")[-1])
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a if not k.startswith("rng."))


def test_an_earlier_checkpoint_loads_by_its_path_and_a_stray_file_is_refused(tmp_path):
    run = tiny_run(tmp_path / "run", steps=6)
    first, _, last = list_checkpoints(run / "checkpoints")
    early, latest = ganzoo.load(first), ganzoo.load(run)
    tensors, _ = read_checkpoint(first)
    for name, value in early.nets["G"].state_dict().items():
        assert torch.equal(value, tensors[f"net.G.{name}"]), name
    pairs = zip(early.nets["G"].state_dict().values(), latest.nets["G"].state_dict().values())
    assert not all(torch.equal(a, b) for a, b in pairs)  # step 2's weights, not the latest's
    assert torch.equal(ganzoo.load(last).sample(4, seed=1), latest.sample(4, seed=1))
    stray = run / "checkpoints" / "notes.safetensors"
    stray.write_bytes(first.read_bytes())
    with pytest.raises(FileNotFoundError, match="not a complete checkpoint of run .*step-000000002"):
        ganzoo.load(stray)
    with pytest.raises(ValueError, match="config.json is a file: load a published folder"):
        ganzoo.load(run / "config.json")


def test_score_checkpoints_scores_every_step_and_publishes_the_latest(tmp_path):
    """benchmarks/score_checkpoints.py, which the GPU check runs on StyleGAN2: one row per checkpoint."""
    run = tiny_run(tmp_path / "run", steps=4)
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "score_checkpoints.py"
    subprocess.run(
        [
            sys.executable,
            str(script),
            str(run),
            "--json",
            str(tmp_path / "curve.json"),
            "--export",
            str(tmp_path / "out"),
            "--recipe",
            "ganzoo train dcgan ... --out {run}",
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    rows = json.loads((tmp_path / "curve.json").read_text())["runs"][str(run)]
    assert [r["step"] for r in rows] == [2, 4]
    assert all(0 <= r["recognisable"] <= 1 and r["mnist_fd"] > 0 for r in rows)
    published = ganzoo.load(tmp_path / "out" / "run")
    assert torch.equal(published.sample(3, seed=2), ganzoo.load(run).sample(3, seed=2))
    assert f"--out {run}" in (tmp_path / "out" / "run" / "README.md").read_text()


# ---- the RunFolder object ---------------------------------------------------------------------------


def test_a_run_folder_names_its_files_and_reads_its_record_and_weights(tmp_path):
    from safetensors import safe_open
    from safetensors.torch import save_file

    from ganzoo.engine.runfolder import RunFolder

    run = RunFolder(tiny_run(tmp_path / "run", steps=4, ema=0.99))
    assert run.config_path == run.path / "config.json" and run.metrics_path.is_file()
    assert run.checkpoints() == [run.checkpoint_path(2), run.checkpoint_path(4)]
    assert run.sample_path(4) == run.path / "samples" / "step-000004.png"
    assert run.read_record()["variant"] == "dcgan"
    tensors, header = read_checkpoint(run.checkpoint_path(4))
    assert header["ema_net"] == "G"
    path, weights = run.read_weights()
    assert path == run.checkpoint_path(4) and set(weights) == {"G", "D"}
    for name, value in weights["G"].items():
        assert torch.equal(value, tensors[f"ema.{name}"]), name  # the EMA copy in place of G
    _, raw = run.read_weights(run.checkpoint_path(2).name, ema=False)
    for name, value in raw["G"].items():
        assert torch.equal(value, read_checkpoint(run.checkpoint_path(2))[0][f"net.G.{name}"]), name
    with safe_open(str(run.checkpoint_path(4)), framework="pt") as f:  # an older checkpoint: no "ema_net"
        older = {k: f.get_tensor(k) for k in f.keys()}
        meta = dict(f.metadata())
    header.pop("ema_net")
    meta["ganzoo"] = json.dumps(header)
    meta.pop("ganzoo_sha256")
    save_file(older, str(run.checkpoint_path(6)), metadata=meta)
    _, weights = run.read_weights()
    assert all(torch.equal(v, tensors[f"ema.{k}"]) for k, v in weights["G"].items())
    with pytest.raises(FileNotFoundError, match="not a complete checkpoint of run"):
        run.read_weights("step-000000003.safetensors")
    with pytest.raises(FileNotFoundError, match="has no checkpoints yet"):
        RunFolder(tmp_path / "empty").read_weights()


def test_a_resume_records_its_changes_through_the_run_folder(tmp_path):
    from ganzoo.engine.runfolder import RunFolder

    run = RunFolder(tmp_path / "run")
    run.path.mkdir()
    run.write_record(
        {"ganzoo_version": "0", "variant": "dcgan", "config": {"lr": 1}, "data": {"spec": "x"}, "engine": {"steps": 2}}
    )
    run.record_changes(2, {"config": {"lr": 0.5}}, {"lr": 0.5}, {"steps": 4})
    record = run.read_record()
    assert record["config"] == {"lr": 0.5} and record["engine"] == {"steps": 4}
    assert record["resumed"] == [{"step": 2, "config": {"lr": 0.5}}]
    assert run.is_run_folder() and not list(run.path.glob(".*tmp-*"))
