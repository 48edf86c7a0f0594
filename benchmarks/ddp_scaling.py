"""Images/s of one process against two (torchrun, gloo, CPU) on the same run, and the cost of the stop vote.

    OMP_NUM_THREADS=1 python benchmarks/ddp_scaling.py              # DCGAN 32 px on mnist-5k, 60 steps each
    OMP_NUM_THREADS=1 python benchmarks/ddp_scaling.py --steps 200 --batch-size 64

Both runs use the same per-process batch (so two processes train twice the images per step) and one
thread per process; images/s is the mean of metrics.jsonl's lines after the first (warm-up). Then
torchrun runs this file with --vote: the per-iteration all-reduce of three integers that every rank
makes to agree when to stop (ganzoo.engine.distributed), timed alone. On a shared machine the ratio
moves with the load: run it twice and report both.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def train(processes: int, out: Path, steps: int, batch: int) -> float:
    """Images/s of one `ganzoo train` on ``processes`` processes (after the first metrics line)."""
    args = ["train", "dcgan", "--data", "mnist-5k", "--image-size", "32", "--channels", "1", "-c", "ngf=32",
            "-c", "ndf=32", "--batch-size", str(batch), "--steps", str(steps), "--log-every", str(steps // 3),
            "--sample-every", "0", "--checkpoint-every", "0", "--progress", "off", "--out", str(out)]  # fmt: skip
    launcher = [sys.executable, "-m", "ganzoo"]
    if processes > 1:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(processes)]
        launcher += ["-m", "ganzoo"]
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    subprocess.run(launcher + args, check=True, env=env, stdout=subprocess.DEVNULL)
    rates = [json.loads(line)["images_per_s"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    return sum(rates[1:]) / len(rates[1:])


def vote(rounds: int) -> None:
    """Under torchrun: the mean time of the stop vote (one all-reduce of three integers), printed by rank 0."""
    import torch

    from ganzoo.engine.distributed import Distributed

    dist = Distributed()
    dist.init(torch.device("cpu"))
    for _ in range(20):
        dist.agree_to_stop(None, None, False)
    start = time.perf_counter()
    for _ in range(rounds):
        dist.agree_to_stop(None, None, False)
    seconds = (time.perf_counter() - start) / rounds
    if dist.is_main:
        print(f"stop vote: {seconds * 1e6:.0f} us per iteration ({dist.world} processes, gloo, {rounds} rounds)")
    dist.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--vote", type=int, default=0, help="(under torchrun) time this many stop votes")
    args = parser.parse_args()
    if args.vote:
        return vote(args.vote)
    with tempfile.TemporaryDirectory() as tmp:
        one = train(1, Path(tmp) / "one", args.steps, args.batch_size)
        two = train(2, Path(tmp) / "two", args.steps, args.batch_size)
    print(f"1 process:   {one:8.1f} images/s (batch {args.batch_size})")
    print(f"2 processes: {two:8.1f} images/s (batch {args.batch_size} each, gloo)")
    print(
        f"scaling 1 -> 2 processes: {two / one:.2f}x (cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f})"
    )
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    subprocess.run(launcher + [__file__, "--vote", "1000"], check=True)


if __name__ == "__main__":
    main()
