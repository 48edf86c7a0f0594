"""Benchmark: mode coverage of a GAN trained on a 2D Gaussian mixture (ring8 or grid25) on the CPU.

The protocol of VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018): score 2,500
generated points; a point is high quality (HQ) within 3 std of its nearest mode centre, and a
mode is covered when some HQ point is nearest to it (ganzoo.metrics.modes.mode_coverage).

Each seed trains once through ``ganzoo.train`` (one uninterrupted run, so a learning-rate
schedule sees the whole run) and keeps a checkpoint every --eval-every iterations. Every kept
checkpoint is scored, the raw generator and, when --ema is on, its moving average, so one run
shows how steady the score is over its last evaluations; the final checkpoint is the result.

    PYTHONPATH=. python benchmarks/mixtures.py --variant wgan-gp --data ring8 --seeds 0 1 2 --steps 3000 \\
        --batch-size 256 --hidden 128 --lr 5e-4 --gp-lambda 0.1 --ema 0.99 --decay-start 0.5 \\
        --eval-every 100 --eval-from 2000
    PYTHONPATH=. python benchmarks/mixtures.py --variant vanilla --data ring8 --loss minimax --seeds 0 1 2 \\
        --steps 3000 --batch-size 64 --eval-every 250 --eval-from 2000

docs/benchmarks.md ("2D mixtures") has the settings, the results and why they were chosen. The
flags always given here (batch size, EMA, decay) override what WGAN-GP suggests for points data;
the others fall back to those suggestions (`ganzoo info wgan-gp`).
Run folders are <out>/<variant>-<data>-<tag>/seed-<N>; results go to result.json beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

import ganzoo
from ganzoo.data import load_dataset
from ganzoo.engine.checkpoint import list_checkpoints, load_module, read_checkpoint
from ganzoo.metrics.modes import mode_coverage

NUM_SAMPLES = 2500  # points scored per evaluation, as in the protocol


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variant", choices=("wgan-gp", "vanilla"), default="wgan-gp")
    p.add_argument("--data", choices=("ring8", "grid25"), default="ring8")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds, run one after another")
    p.add_argument("--steps", type=int, default=3000, help="training iterations (generator updates)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--ema", type=float, default=0.0, help="EMA decay of G's weights (0 = off); judged when on")
    p.add_argument(
        "--lr",
        type=float,
        default=None,
        help="Adam learning rate (default: the variant's suggestion for the data, else its default)",
    )
    p.add_argument(
        "--decay-start",
        type=float,
        default=1.0,
        help="fraction of the run after which the lr decays linearly to 0 (1 = constant, the papers')",
    )
    p.add_argument(
        "--gp-lambda",
        type=float,
        default=None,
        help="wgan-gp: gradient penalty weight (default: its suggestion for points, 0.1)",
    )
    p.add_argument("--loss", choices=("non-saturating", "minimax"), default="non-saturating", help="vanilla: G loss")
    p.add_argument(
        "--hidden", type=int, default=None, help="wgan-gp: MLP width (default: its suggestion for points, 128)"
    )
    p.add_argument(
        "-c",
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any further variant config value, e.g. -c pack=4 -c mbstd=4 (repeatable)",
    )
    p.add_argument("--eval-every", type=int, default=0, help="checkpoint and score every N iterations (0 = end only)")
    p.add_argument("--eval-from", type=int, default=0, help="score checkpoints from this iteration on")
    p.add_argument("--sample-seed", type=int, default=0, help="noise seed of the scored samples")
    p.add_argument("--tag", default="", help="name of this setting in the run folder (default: from the options)")
    p.add_argument("--out", type=Path, default=Path("runs/bench/mixtures"), help="parent of the run folders")
    p.add_argument("--eval-only", action="store_true", help="score existing run folders without training")
    return p.parse_args(argv)


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The variant config keys this benchmark sets (anything else keeps the variant's default)."""
    cfg: dict[str, Any] = {"decay_start": args.decay_start}
    if args.lr is not None:
        cfg["lr"] = args.lr
    if args.variant == "wgan-gp":
        if args.hidden is not None:
            cfg["hidden"] = args.hidden
        if args.gp_lambda is not None:
            cfg["gp_lambda"] = args.gp_lambda
    else:
        cfg["loss"] = args.loss
    for item in args.config:
        key, _, value = item.partition("=")
        cfg[key] = json.loads(value) if value[:1] in "0123456789-[{tf" else value
    return cfg


def default_tag(args: argparse.Namespace) -> str:
    parts = [f"b{args.batch_size}", f"ema{args.ema:g}", f"decay{args.decay_start:g}"]
    if args.variant == "vanilla":
        parts.append(args.loss)
    if args.lr is not None:
        parts.append(f"lr{args.lr:g}")
    if args.hidden is not None:
        parts.append(f"h{args.hidden}")
    if args.gp_lambda is not None:
        parts.append(f"gp{args.gp_lambda:g}")
    parts += [item.replace("=", "") for item in args.config]
    return "-".join(parts)


def train_run(args: argparse.Namespace, seed: int, run: Path) -> float:
    """Train one seed into ``run``, keeping the checkpoints to score; returns the wall time in seconds."""
    every = args.eval_every or args.steps
    keep = max(1, (args.steps - args.eval_from) // every + 1)
    start = time.perf_counter()
    ganzoo.train(
        args.variant,
        args.data,
        steps=args.steps,
        out=str(run),
        device="cpu",
        seed=seed,
        batch_size=args.batch_size,
        ema=args.ema,
        progress="off",
        log_every=50,
        sample_every=0,
        checkpoint_every=every,
        keep_checkpoints=keep,
        **overrides(args),
    )
    return time.perf_counter() - start


def score_checkpoint(
    path: Path, record: dict[str, Any], means: torch.Tensor, std: float, sample_seed: int
) -> tuple[int, dict[str, dict[str, Any]]]:
    """Mode coverage of the raw generator ("G") and, when kept, the EMA one ("ema") at one checkpoint."""
    tensors, header = read_checkpoint(path)
    scores = {}
    for prefix, key in (("net.G", "G"), ("ema", "ema")):
        if any(k.startswith(prefix + ".") for k in tensors):
            model = ganzoo.create(record["variant"], **record["config"])
            load_module(prefix, model.nets["G"], tensors)
            scores[key] = mode_coverage(model.sample(NUM_SAMPLES, seed=sample_seed), means, std)
    return header["iteration"], scores


def evaluate_seed(args: argparse.Namespace, seed: int, folder: Path, means: torch.Tensor, std: float) -> dict[str, Any]:
    run = folder / f"seed-{seed}"
    seconds = None if args.eval_only else train_run(args, seed, run)
    record = json.loads((run / "config.json").read_text())
    judged = "ema" if record["engine"]["ema"] > 0 else "G"
    history = []  # one entry per scored checkpoint, oldest first
    for path in list_checkpoints(run / "checkpoints"):
        iteration, scores = score_checkpoint(path, record, means, std, args.sample_seed)
        if iteration >= args.eval_from:
            history.append({"iteration": iteration, **scores})
    final = history[-1]
    hq = [h[judged]["hq_fraction"] for h in history]
    visited = [any(h[judged]["per_mode"][k] for h in history) for k in range(final[judged]["num_modes"])]
    return {
        "seed": seed,
        "run": str(run),
        "train_seconds": seconds,
        "judged": judged,
        "iteration": final["iteration"],
        "modes": final[judged]["modes"],
        "num_modes": final[judged]["num_modes"],
        "hq_fraction": final[judged]["hq_fraction"],
        "per_mode": final[judged]["per_mode"],
        "hq_late_min": min(hq),
        "hq_late_max": max(hq),
        "modes_late_union": sum(visited),  # modes covered at one or more of the scored checkpoints
        "history": history,
    }


def print_table(results: list[dict[str, Any]]) -> None:
    print(
        f"{'seed':>4} {'modes':>7} {'HQ':>6}  "
        f"{'late HQ (judged' + (' / raw G' if results[0]['judged'] == 'ema' else '') + ')':<40} {'train':>7}"
    )
    for r in results:
        late = " ".join(
            f"{h[r['judged']]['hq_fraction']:.0%}" + (f"/{h['G']['hq_fraction']:.0%}" if r["judged"] == "ema" else "")
            for h in r["history"]
        )
        wall = f"{r['train_seconds']:.0f} s" if r["train_seconds"] is not None else "n/a"
        print(f"{r['seed']:>4} {r['modes']:>3}/{r['num_modes']:<3} {r['hq_fraction']:>6.1%}  {late:<40} {wall:>7}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    dataset, _ = load_dataset(args.data)
    folder = args.out / f"{args.variant}-{args.data}-{args.tag or default_tag(args)}"
    results = [evaluate_seed(args, seed, folder, dataset.means, dataset.std) for seed in args.seeds]
    print_table(results)
    summary = {
        "median_modes": statistics.median(r["modes"] for r in results),
        "median_hq_fraction": statistics.median(r["hq_fraction"] for r in results),
        "all_modes_seeds": sum(r["modes"] == r["num_modes"] for r in results),
        "median_train_seconds": statistics.median(r["train_seconds"] for r in results)
        if all(r["train_seconds"] is not None for r in results)
        else None,
    }
    print(
        f"median: {summary['median_modes']:g}/{results[0]['num_modes']} modes, HQ {summary['median_hq_fraction']:.1%}; "
        f"all modes on {summary['all_modes_seeds']}/{len(results)} seeds"
    )
    record = {
        "benchmark": f"mixtures-{args.variant}-{args.data}-cpu",
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "config_overrides": overrides(args),
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
