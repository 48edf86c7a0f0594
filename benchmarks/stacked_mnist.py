"""Benchmark: how many of Stacked-MNIST's 1,000 modes a GAN trained on the CPU draws.

Trains a variant (DCGAN by default, Radford et al. 2015) on the data spec "stacked-mnist" (three
mnist-5k digits as R, G, B; 32x32x3 by the spec's suggestion) through ``ganzoo.train``, then
scores 26,000 samples of the final generator (its EMA when on; sampling seed 0) under the metric
stacked_mnist_modes's headline reading, the papers': each channel read by the argmax over the bundled judge's
ten digits, every draw a mode; modes covered of 1,000 and KL(mode histogram || uniform) over all 26,000.
Beside it, precision: the share of channels the judge reads confidently (probability >= 0.9) and the share
of draws whose three channels all are. Two extra readings, never the bar: per drawn (modes and KL over the
confidently read draws among the 26,000) and per assigned (over the first 26,000 confidently read draws,
drawn 26,000 at a time with sampling seeds 0, 1, ...; a seed that does not reach them within --max-draws is
reported as failed, by name, in the summary).
Published (PacGAN, Lin et al. 2018, Table 2): DCGAN 99 modes, PacDCGAN2 1,000 (KL 0.06). Real triples read
91% of channels and 76% of draws confidently.

    PYTHONPATH=. python benchmarks/stacked_mnist.py --seeds 0 --steps 2000 [--out runs/bench/stacked-mnist]
    PYTHONPATH=. python benchmarks/stacked_mnist.py --seeds 0 --eval-only   # re-score existing runs
    # a seed stopped by SIGTERM: `ganzoo train --resume <out>/<variant>-<tag>/seed-N`, then --eval-only

One run folder per seed (<out>/<variant>-<tag>/seed-<N>); results go to result.json beside them, merged with
the other seeds of an earlier result.json of the same setting (so seeds can run as separate processes).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

import ganzoo
from ganzoo.metrics.stacked import NUM_SCORED, digits_until_assigned, read_channels, score_argmax, score_digits


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variant", default="dcgan", help="an image variant (default: dcgan)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds, run one after another")
    p.add_argument("--steps", type=int, default=2000, help="training iterations (generator updates)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--ema", type=float, default=0.0, help="EMA decay of G's weights (0 = off, the paper's DCGAN)")
    p.add_argument(
        "--precision", default="fp32", choices=["fp32", "bf16"], help="the engine's precision (bf16: autocast)"
    )
    p.add_argument(
        "-c",
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="variant config overrides, JSON values: -c lr=5e-4 -c ndf=32",
    )
    p.add_argument(
        "--checkpoint-every", type=int, default=0, help="keep a checkpoint every N steps (0 = at the end only)"
    )
    p.add_argument("--keep-checkpoints", type=int, default=3, help="how many of the latest checkpoints the run keeps")
    p.add_argument("--num-scored", type=int, default=NUM_SCORED, help="samples scored (the protocol's 26,000)")
    p.add_argument("--confidence", type=float, default=0.9, help="the judge's probability a channel needs to count")
    p.add_argument(
        "--max-draws",
        type=int,
        default=10 * NUM_SCORED,
        help="most samples drawn to find --num-scored assigned ones (the per-assigned figures)",
    )
    p.add_argument("--tag", default="", help="name of this setting in the run folder (default: from the options)")
    p.add_argument("--out", type=Path, default=Path("runs/bench/stacked-mnist"), help="parent of the run folders")
    p.add_argument("--eval-only", action="store_true", help="score existing run folders without training")
    return p.parse_args(argv)


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """-c KEY=VALUE pairs as config overrides (values read as JSON when they parse)."""
    out = {}
    for pair in args.config:
        key, _, raw = pair.partition("=")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def default_tag(args: argparse.Namespace) -> str:
    extra = [f"{k}{v}" for k, v in sorted(overrides(args).items())]
    return "-".join([f"s{args.steps}", f"b{args.batch_size}", f"ema{args.ema:g}", *extra])


def run_seed(args: argparse.Namespace, seed: int, run: Path) -> dict[str, Any]:
    """Train one seed (unless --eval-only) and score its final generator."""
    seconds = None
    if not args.eval_only:
        start = time.perf_counter()
        ganzoo.train(
            args.variant,
            "stacked-mnist",
            steps=args.steps,
            out=str(run),
            device="cpu",
            seed=seed,
            batch_size=args.batch_size,
            ema=args.ema,
            precision=args.precision,
            progress="off",
            sample_every=0,
            checkpoint_every=args.checkpoint_every,
            keep_checkpoints=args.keep_checkpoints,
            **overrides(args),
        )
        seconds = time.perf_counter() - start
    model = ganzoo.load(str(run))  # the EMA generator when the run kept one
    start = time.perf_counter()
    n = args.num_scored
    chunks = (model.sample(n, seed=k).cpu() for k in range(max(1, math.ceil(args.max_draws / n))))  # seeds 0, 1, ...
    most_probable, confident = read_channels(next(chunks), confidence=args.confidence)  # sampling seed 0
    headline = score_argmax(most_probable, confident)  # the papers' reading: every draw counted
    per_drawn = score_digits(confident, num_scored=n)  # extra: the confidently read draws among them
    have = int((confident >= 0).all(dim=1).sum())
    digits = (
        confident
        if have >= n
        else torch.cat([confident, digits_until_assigned(chunks, n - have, confidence=args.confidence)])
    )
    assigned = int((digits >= 0).all(dim=1).sum())
    per_assigned = score_digits(digits, num_scored=n, per="assigned") if assigned >= n else None
    failed = (
        None
        if per_assigned
        else (
            f"only {assigned:,} of {digits.shape[0]:,} draws read confidently, short of "
            f"{n:,} within --max-draws {args.max_draws:,}"
        )
    )
    return {
        "seed": seed,
        "run": str(run),
        "train_seconds": seconds,
        "score_seconds": time.perf_counter() - start,
        **headline,
        "per_drawn": per_drawn,
        "per_assigned": per_assigned,
        "per_assigned_failed": failed,
    }


def merge_earlier(folder: Path, results: list[dict[str, Any]], args: argparse.Namespace) -> list[dict[str, Any]]:
    """``results`` plus the other seeds of an earlier result.json in ``folder`` scored under the same protocol,
    so seeds run as separate processes (one per core) end in one table; seeds scored now replace earlier ones."""
    earlier_file = folder / "result.json"
    if not earlier_file.exists():
        return results
    earlier = json.loads(earlier_file.read_text())
    keys = ("variant", "steps", "batch_size", "ema", "config", "num_scored", "confidence")
    same = all(earlier["settings"].get(k) == getattr(args, k) for k in keys)
    if not same:
        print(f"{earlier_file} was scored with other settings: replaced, not merged")
        return results
    before = {r["seed"]: r for r in earlier["results"]}
    for r in results:  # a seed re-scored with --eval-only keeps the training time of its run
        if r["train_seconds"] is None and r["seed"] in before:
            r["train_seconds"] = before[r["seed"]].get("train_seconds")
    now = {r["seed"] for r in results}
    return sorted([r for r in earlier["results"] if r["seed"] not in now] + results, key=lambda r: r["seed"])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    folder = args.out / f"{args.variant}-{args.tag or default_tag(args)}"
    results = merge_earlier(folder, [run_seed(args, seed, folder / f"seed-{seed}") for seed in args.seeds], args)
    print(f"{'':>4} {f'{args.num_scored:,} draws, argmax (headline)':^56} {f'per {args.num_scored:,} assigned':^27}")
    print(
        f"{'seed':>4} {'modes':>9} {'KL':>7} {'assigned':>9} {'channels':>9} {'if indep.':>9} "
        f"{'modes':>9} {'KL':>7} {'drawn':>9} {'train':>8}"
    )
    for r in results:
        wall = f"{r['train_seconds']:.0f} s" if r["train_seconds"] is not None else "n/a"
        independent = f"{r['modes_if_independent']:.0f}" if "modes_if_independent" in r else "n/a"  # older results
        at = r.get("per_assigned")
        assigned = (
            f"{at['modes']:>5}/1000 {at['kl']:>7.3f} {at['drawn']:>9,}"
            if at
            else f"{'n/a':>9} {'n/a':>7} {'FAILED' if r.get('per_assigned_failed') else 'n/a':>9}"
        )
        print(
            f"{r['seed']:>4} {r['modes']:>5}/1000 {r['kl']:>7.3f} {r['assigned']:>9.1%} {r['channels_read']:>9.1%} "
            f"{independent:>9} {assigned} {wall:>8}"
        )
    summary: dict[str, Any] = {"reading": "argmax"}
    for key in ("modes", "kl", "assigned", "channels_read", "modes_if_independent"):
        values = [r[key] for r in results if key in r and r[key] == r[key]]
        summary[key] = statistics.mean(values) if values else None
        summary[f"{key}_sd"] = statistics.stdev(values) if len(values) > 1 else None
    for reading in ("per_drawn", "per_assigned"):  # extra readings; a failed seed fails the reading's summary
        failed = [r["seed"] for r in results if not r.get(reading)]
        summary[f"{reading}_failed_seeds"] = failed
        for key in ("modes", "kl", "drawn"):
            values = [r[reading][key] for r in results if r.get(reading) and r[reading][key] == r[reading][key]]
            summary[f"{reading}_{key}"] = statistics.mean(values) if values and not failed else None
            summary[f"{reading}_{key}_sd"] = statistics.stdev(values) if len(values) > 1 and not failed else None
    record = {
        "benchmark": f"stacked-mnist-{args.variant}-cpu",
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "protocol": f"{args.num_scored:,} samples, sampling seed 0, each channel read by the argmax over the bundled "
        f"MNIST judge's ten digits, every draw counted (the papers' reading); precision: channels whose "
        f"top class is a digit with probability >= {args.confidence}; per_drawn: the confidently read "
        f"draws among the {args.num_scored:,}; per_assigned: "
        f"the first {args.num_scored:,} samples assigned a mode, drawn {args.num_scored:,} at a time "
        f"with sampling seeds 0, 1, ... (at most {args.max_draws:,})",
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
        "summary": summary,
        "results": results,
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "result.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {folder / 'result.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
