"""Training past one machine: torchrun multi-node on loopback, every rank stopping together, and resume
on another number of processes. Tiny DCGANs at 16 px with gloo; each torchrun launch costs 10-20 s."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import ganzoo
from ganzoo.engine.batches import IndexStream, carry_position
from ganzoo.engine.checkpoint import read_checkpoint
from ganzoo.engine.distributed import WorldChange
from ganzoo.engine.options import TrainOptions

TINY = ["--image-size", "16", "--channels", "1", "-c", "ngf=8", "-c", "ndf=8", "--sample-every", "0"]
RUN = ["train", "dcgan", "--data", "mnist-5k", "--batch-size", "8", "--log-every", "2", *TINY]
TIMINGS = {"images_per_s", "train_seconds", "time", "peak_rss_mb", "peak_cuda_mb"}


def torchrun(*args: str, nodes: int = 1, port: int | None = None, procs: int = 2) -> list[str]:
    """A torchrun command line: one machine with ``procs`` processes, or one of ``nodes`` machines with one each."""
    if nodes == 1:
        launch = ["--standalone", "--nproc-per-node", str(procs)]
    else:
        launch = ["--nnodes", str(nodes), "--nproc-per-node", "1", "--rdzv-backend", "c10d"]
        launch += ["--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", f"ganzoo-test-{port}"]
    return [sys.executable, "-m", "torch.distributed.run", *launch, "-m", "ganzoo", *args]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


ENV = dict(os.environ, OMP_NUM_THREADS="1")


def launch(cmd: list[str], cwd: Path | None = None) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=cwd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def losses(run: Path) -> list[dict]:
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in line.items() if k not in TIMINGS} for line in lines]


def checkpoint(run: Path, step: int) -> tuple[dict[str, torch.Tensor], dict]:
    return read_checkpoint(run / "checkpoints" / f"step-{step:09d}.safetensors")


def test_two_machines_train_the_run_that_one_machine_with_two_processes_trains(tmp_path):
    """Two torchrun launchers (one process each, both local rank 0) give the losses and weights of one launcher
    with two processes; only global rank 0 writes, and every rank exits 0. Resumed on one machine with two
    processes, the run goes on bit for bit: every rank's RNG streams come back."""
    args = [*RUN, "--checkpoint-every", "2", "--keep-checkpoints", "5", "--progress", "off"]
    port, nodes = free_port(), [tmp_path / "node-a", tmp_path / "node-b"]
    procs = [launch(torchrun(*args, "--steps", "4", "--out", str(tmp_path / "one")))]  # at the same time
    for node in nodes:
        node.mkdir()  # each machine its own working folder and --out: the one of the non-zero rank stays empty
        procs.append(launch(torchrun(*args, "--steps", "2", "--out", str(node / "run"), nodes=2, port=port), cwd=node))
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
        assert "done:" in out
    written = [node for node in nodes if (node / "run").exists()]
    assert len(written) == 1, "exactly one machine (global rank 0's) writes a run folder"
    other = nodes[1 - nodes.index(written[0])]
    assert list(other.iterdir()) == [], "the machine with rank 1 wrote files"
    run = written[0] / "run"
    assert json.loads((run / "config.json").read_text())["world_size"] == 2

    resumed = subprocess.run(torchrun("train", "--resume", str(run), "--steps", "4"), env=ENV, capture_output=True,
                             text=True, timeout=240)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert losses(run) == losses(tmp_path / "one") and [x["step"] for x in losses(run)] == [2, 4]
    for step in (2, 4):
        (a, header_a), (b, header_b) = checkpoint(tmp_path / "one", step), checkpoint(run, step)
        assert a.keys() == b.keys() and "rng.rank.1.torch" in a  # rank 1's RNG streams are kept too
        for key in a:
            assert torch.equal(a[key], b[key]), f"{key} differs at step {step}"
        assert header_a["data"] == header_b["data"] == {"epoch": 0, "offset": step}
        assert header_b["layout"] == {"world_size": 2, "batch_size": 8}


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _rank_of(pid: int) -> int:
    env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return int(next(e for e in env if e.startswith(b"RANK=")).split(b"=", 1)[1])


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds the ranks' processes through /proc")
def test_a_signal_to_one_rank_stops_every_rank_and_the_run_resumes_on_one_process(tmp_path, capsys):
    run = tmp_path / "run"
    proc = launch(torchrun(*RUN, "--steps", "100000", "--checkpoint-every", "0", "--out", str(run)))
    deadline = time.monotonic() + 120
    while not (run / "metrics.jsonl").is_file() or not (run / "metrics.jsonl").read_text().strip():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1][-3000:]
        time.sleep(0.2)
    rank1 = next(pid for pid in _children(proc.pid) if _rank_of(pid) == 1)
    os.kill(rank1, signal.SIGTERM)  # one rank only: rank 0 does not see the signal itself
    sent = time.monotonic()
    _, err = proc.communicate(timeout=120)
    assert time.monotonic() - sent < 30, "the ranks did not stop within seconds"
    said = re.findall(r"SIGTERM stopped the run at step (\d+) and saved (\S+); continue it with[^\n]*", err)
    assert len(said) == 2 and said[0] == said[1], err[-3000:]  # the same words from both ranks
    step = int(said[0][0])
    assert said[0][1] == str(run / "checkpoints" / f"step-{step:09d}.safetensors")
    _, header = checkpoint(run, step)
    assert header["iteration"] == step and header["data"] == {"epoch": 0, "offset": step}  # the read batch put back

    capsys.readouterr()
    ganzoo.train(out=run, steps=step + 2, resume=True, progress="on")  # this process alone: world size 1
    note = capsys.readouterr().err
    assert "note: resuming with 1 process, not 2: batch 16 per process (global batch 16, kept)" in note
    assert f"data: epoch 0, {16 * step} samples of its permutation seen, on at global batch {step}" in note
    record = json.loads((run / "config.json").read_text())
    assert record["world_size"] == 1 and record["engine"]["batch_size"] == 16
    change = record["resumed"][-1]
    assert change["step"] == step and change["world_size"] == 1 and change["engine"]["batch_size"] == 16
    assert change["world_change"] in note
    _, header = checkpoint(run, step + 2)
    assert header["data"] == {"epoch": 0, "offset": step + 2} and header["layout"] == {
        "world_size": 1,
        "batch_size": 16,
    }


def _jpeg_folder(folder: Path, n: int) -> Path:
    from PIL import Image

    folder.mkdir()
    noise = torch.Generator().manual_seed(0)
    for i in range(n):  # noise: a scan long enough to be cut short
        pixels = torch.randint(0, 256, (16, 16), generator=noise, dtype=torch.uint8).numpy()
        Image.fromarray(pixels, mode="L").save(folder / f"{i:02d}.jpg", quality=95)
    return folder


def test_a_bad_image_that_one_rank_reads_stops_every_rank_after_a_resume_from_one_process(tmp_path):
    """A run of one process resumes on two; the JPEG that only rank 1 reads is cut short (it passes the
    check at load, then fails to decode): both ranks stop at once, with the same message naming rank 1."""
    folder = _jpeg_folder(tmp_path / "imgs", 16)
    perm = IndexStream(16, 4, seed=0)._shard(0)  # epoch 0's permutation: global batch 3 is items 12-15
    victim = folder / f"{int(perm[13]):02d}.jpg"  # item 13: rank 1's first image of global batch 3
    good = victim.read_bytes()
    victim.write_bytes(good[: good.index(b"\xff\xda") + 20])  # the scan cut short after its header
    run = tmp_path / "run"
    opts = dict(batch_size=4, checkpoint_every=0, log_every=1, progress="off", sample_every=0)
    ganzoo.train("dcgan", str(folder), steps=2, out=run, image_size=16, channels=1, ngf=8, ndf=8, **opts)

    resume = torchrun("train", "--resume", str(run), "--steps", "8", "--progress", "auto")
    proc = subprocess.run(resume, env=ENV, capture_output=True, text=True, timeout=240)
    assert proc.returncode != 0
    assert "note: resuming with 2 processes, not 1: batch 2 per process (global batch 4, kept)" in proc.stderr
    said = re.findall(r"Error: reading the training data failed at step (\d+): ([^\n]*)", proc.stderr)
    assert len(said) == 2 and said[0] == said[1], proc.stderr[-3000:]  # every rank, the same words
    assert said[0][0] == "4"  # iteration 3 reads global batch 3
    assert said[0][1].startswith(f"[rank 1 of 2] cannot read image {victim}: image file is truncated")
    assert f"saved {run / 'checkpoints' / 'step-000000003.safetensors'} at step 3" in said[0][1]
    record = json.loads((run / "config.json").read_text())
    assert record["world_size"] == 2 and record["resumed"][-1]["engine"]["batch_size"] == 2
    tensors, header = checkpoint(run, 3)
    assert header["data"] == {"epoch": 0, "offset": 3} and header["layout"] == {"world_size": 2, "batch_size": 2}
    assert "rng.rank.1.torch" in tensors

    victim.write_bytes(good)
    ganzoo.train(out=run, steps=5, resume=True, progress="off")  # fixed, and back on one process
    _, header = checkpoint(run, 5)
    assert header["data"] == {"epoch": 1, "offset": 1} and header["layout"] == {"world_size": 1, "batch_size": 4}
    assert json.loads((run / "config.json").read_text())["resumed"][-1]["world_size"] == 1


def test_a_global_batch_is_the_same_samples_on_any_number_of_processes():
    """Rank r takes items r, r + W, ... of each epoch's permutation: batch k of the whole run is the same set."""
    one = IndexStream(100, 12, seed=3)
    two = [IndexStream(100, 6, seed=3, rank=r, world=2) for r in range(2)]
    three = [IndexStream(100, 4, seed=3, rank=r, world=3) for r in range(3)]
    streams = [iter(one), *map(iter, two), *map(iter, three)]
    for _ in range(20):  # 8 batches an epoch: across two epoch boundaries
        single, *parts = [next(s) for s in streams]
        assert set(single.tolist()) == set(torch.cat(parts[:2]).tolist()) == set(torch.cat(parts[2:]).tolist())
    assert one.position() == two[0].position() == three[2].position() == {"epoch": 2, "offset": 4}


def test_a_position_carries_over_to_another_global_batch_by_the_samples_seen():
    assert carry_position({"epoch": 2, "offset": 5}, 100, 12, 12) == ({"epoch": 2, "offset": 5}, "")
    assert carry_position({"epoch": 0, "offset": 5}, 100, 12, 6) == ({"epoch": 0, "offset": 10}, "")
    moved, note = carry_position({"epoch": 0, "offset": 5}, 100, 12, 8)  # 60 samples: 7 batches of 8, and 4
    assert moved == {"epoch": 0, "offset": 7} and "the last 4 samples seen are seen again" in note
    assert carry_position({"epoch": 1, "offset": 8}, 100, 12, 24) == ({"epoch": 2, "offset": 0}, "")


class _World:
    def __init__(self, world: int):
        self.world, self.is_main = world, False


@pytest.mark.parametrize(
    ("old", "world", "given", "batch", "kept"),
    [((1, 16), 2, {}, 8, True), ((2, 8), 1, {}, 16, True), ((2, 8), 4, {}, 4, True), ((2, 8), 3, {}, 8, False),
     ((1, 16), 2, {"batch_size": 16}, 16, False), ((2, 8), 2, {}, 8, True)],
)  # fmt: skip
def test_a_new_world_size_keeps_the_global_batch_where_it_divides(old, world, given, batch, kept):
    changes = {"engine": dict(given)} if given else {}
    options = TrainOptions(batch_size=given.get("batch_size", old[1]))
    change = WorldChange({"world_size": old[0], "batch_size": old[1]}, options, _World(world), changes)
    assert change.options.batch_size == batch and (change.new_global == old[0] * old[1]) == kept
    if world == old[0]:
        assert changes == {} and change.note == ""
    else:
        assert changes["world_size"] == world and ("kept" in change.note) == kept
        assert changes.get("engine", {}).get("batch_size", batch) == batch


def test_a_checkpoint_from_before_the_layout_was_recorded_resumes_with_the_run_records(tmp_path, capsys):
    """An older run's checkpoint has no "layout" and no other ranks' RNG streams: config.json's world size
    and batch stand in (here, as if two processes of 8 had written it), and the run goes on."""
    from ganzoo.engine.checkpoint import save_checkpoint

    run = tmp_path / "run"
    opts = dict(batch_size=16, checkpoint_every=0, progress="off", sample_every=0)
    ganzoo.train("dcgan", "mnist-5k", steps=2, out=run, image_size=16, channels=1, ngf=8, ndf=8, **opts)
    path = run / "checkpoints" / "step-000000002.safetensors"
    tensors, header = read_checkpoint(path)
    del header["layout"]
    save_checkpoint(path, tensors, header)  # as an older ganzoo wrote it
    record = json.loads((run / "config.json").read_text())
    record["world_size"], record["engine"]["batch_size"] = 2, 8
    (run / "config.json").write_text(json.dumps(record))

    capsys.readouterr()
    ganzoo.train(out=run, steps=3, resume=True, progress="auto")
    assert (
        "note: resuming with 1 process, not 2: batch 16 per process (global batch 16, kept)" in capsys.readouterr().err
    )
    _, header = checkpoint(run, 3)
    assert header["data"] == {"epoch": 0, "offset": 3} and header["layout"] == {"world_size": 1, "batch_size": 16}
    assert json.loads((run / "config.json").read_text())["world_size"] == 1


def test_a_two_process_run_resumes_on_four_with_its_global_batch_and_data_position(tmp_path):
    """2 -> 4 processes: the global batch is kept (8 per process becomes 4), the data position carries over by
    the samples seen, the change is recorded and said, and the new ranks' RNG streams are in the checkpoints."""
    run = tmp_path / "run"
    args = [*RUN, "--checkpoint-every", "2", "--keep-checkpoints", "5", "--progress", "off"]
    first = subprocess.run(torchrun(*args, "--steps", "2", "--out", str(run)), env=ENV, capture_output=True,
                           text=True, timeout=240)  # fmt: skip
    assert first.returncode == 0, first.stderr[-3000:]
    resume = torchrun("train", "--resume", str(run), "--steps", "4", "--progress", "auto", procs=4)
    again = subprocess.run(resume, env=ENV, capture_output=True, text=True, timeout=240)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "note: resuming with 4 processes, not 2: batch 4 per process (global batch 16, kept)" in again.stderr
    tensors, header = checkpoint(run, 4)
    assert header["data"] == {"epoch": 0, "offset": 4} and header["layout"] == {"world_size": 4, "batch_size": 4}
    assert {f"rng.rank.{r}.torch" for r in range(1, 4)} <= tensors.keys()
    record = json.loads((run / "config.json").read_text())
    assert record["world_size"] == 4 and record["resumed"][-1]["engine"]["batch_size"] == 4
    assert [x["step"] for x in losses(run)] == [2, 4]
