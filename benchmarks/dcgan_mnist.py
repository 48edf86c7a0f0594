"""Benchmark: does DCGAN trained on the CPU for a few minutes draw recognisable, varied digits?

Trains DCGAN (Radford et al. 2015) on the bundled mnist-5k at 32x32 through ``ganzoo.train``,
then scores 1,000 samples (fixed sampling seed) with the bundled MNIST judge:

    PASS  when the share of "recognisable" samples (top class a digit with probability >= 0.9) is
          >= 80% of the share of real held-out digits the judge recognises (relative_bar(0.8))
          and every digit class is >= 4% of the samples (no mode collapse).

One run folder per training seed (<out>/seed-<N>); results go to <out>/result.json.

The defaults are the recipe that passes (docs/benchmarks.md): ngf 64, ndf 32, lr 5e-4, the R1
penalty (gamma 1) on D, EMA 0.999, 3,000 steps of batch 64 (about 5 minutes on two CPU cores).

    PYTHONPATH=. python benchmarks/dcgan_mnist.py --seeds 0 1 [--steps 3000] [--out runs/bench/dcgan-mnist]
    PYTHONPATH=. python benchmarks/dcgan_mnist.py --seeds 0 1 --eval-only   # re-score existing runs
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

import ganzoo
from ganzoo.engine.checkpoint import list_checkpoints, load_module, read_checkpoint
from ganzoo.metrics.classifier import classifier_metadata, digit_scores, real_digits_reference, relative_bar
from ganzoo.model import GanModel

MIN_RECOGNISABLE = 0.80  # recognisable share, as a fraction of the real held-out digits' share (relative_bar)
MIN_CLASS = 0.04  # smallest allowed share of any digit among the samples
CONFIDENCE = 0.9


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=3000, help="training iterations (generator updates)")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="training seeds, run one after another")
    p.add_argument("--seed", type=int, default=0, help="a single training seed (when --seeds is not given)")
    p.add_argument("--out", type=Path, default=Path("runs/bench/dcgan-mnist"), help="parent of the run folders")
    p.add_argument("--ngf", type=int, default=64, help="generator width")
    p.add_argument("--ndf", type=int, default=32, help="discriminator width")
    p.add_argument("--nz", type=int, default=100, help="latent size")
    p.add_argument("--lr", type=float, default=5e-4, help="Adam learning rate of both networks")
    p.add_argument("--r1", type=float, default=1.0, help="R1 penalty weight on D's real images (0 = the paper's DCGAN)")
    p.add_argument("--beta1", type=float, default=0.5, help="Adam beta1 (beta2 stays 0.999)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--ema", type=float, default=0.999, help="EMA decay of G's weights (0 = off); sampled when on")
    p.add_argument(
        "-c",
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other DCGAN config field, JSON value: -c real_label=0.9 -c augment='\"translation\"'",
    )
    p.add_argument(
        "--checkpoint-every",
        type=int,
        default=0,
        help="keep a checkpoint every N steps and score each (a curve); 0 = the final one only",
    )
    p.add_argument("--num-samples", type=int, default=1000, help="samples scored per run")
    p.add_argument("--sample-seed", type=int, default=0, help="noise seed of the scored samples")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    p.add_argument("--eval-only", action="store_true", help="score existing run folders without training")
    return p.parse_args(argv)


def train_run(args: argparse.Namespace, seed: int, run: Path) -> float:
    """Train one seed into ``run``; returns the wall time in seconds."""
    start = time.perf_counter()
    extra = {}
    for pair in args.config:
        key, _, value = pair.partition("=")
        try:
            extra[key] = json.loads(value)
        except json.JSONDecodeError:
            extra[key] = value  # a bare string: -c augment=translation
    ganzoo.train(
        "dcgan",
        "mnist-5k",
        steps=args.steps,
        out=str(run),
        device="cpu",
        batch_size=args.batch_size,
        ema=args.ema,
        seed=seed,
        progress="off",
        log_every=50,
        sample_every=0,
        checkpoint_every=args.checkpoint_every,
        keep_checkpoints=max(1, args.steps // args.checkpoint_every if args.checkpoint_every else 1),
        image_size=32,
        channels=1,
        nz=args.nz,
        ngf=args.ngf,
        ndf=args.ndf,
        lr=args.lr,
        r1=args.r1,
        betas=(args.beta1, 0.999),
        **extra,
    )
    return time.perf_counter() - start


def run_record(run: Path) -> dict[str, Any]:
    """The run's config.json: variant, config, data and engine options as trained."""
    return json.loads((run / "config.json").read_text())


def load_generators(run: Path, checkpoint: Path | None = None) -> tuple[dict[str, GanModel], int]:
    """A checkpoint (default: the run's latest) as models and its step.

    The models: {"G": trained weights, "ema": averaged ones if kept}.
    """
    record = run_record(run)
    checkpoints = list_checkpoints(run / "checkpoints")
    if not checkpoints:
        raise FileNotFoundError(f"{run} has no checkpoints/step-*.safetensors")
    tensors, header = read_checkpoint(checkpoint or checkpoints[-1])
    models = {}
    for prefix, key in (("net.G", "G"), ("ema", "ema")):
        if any(k.startswith(prefix + ".") for k in tensors):
            model = ganzoo.create(record["variant"], **record["config"])
            load_module(prefix, model.nets["G"], tensors)
            models[key] = model
    return models, header["iteration"]


def engine_seconds(run: Path) -> float | None:
    """The engine's own count of seconds in its training loop (last metrics.jsonl line), if it logs one."""
    lines = (run / "metrics.jsonl").read_text().splitlines() if (run / "metrics.jsonl").exists() else []
    return json.loads(lines[-1]).get("train_seconds") if lines else None


def score(model: GanModel, n: int, seed: int) -> dict[str, Any]:
    """Classifier scores of ``n`` samples drawn as users draw them: eval mode, batch norm running stats."""
    return digit_scores(model.sample(n, seed=seed), confidence=CONFIDENCE)


@torch.no_grad()
def score_batch_stats(model: GanModel, n: int, seed: int, batch: int = 500) -> dict[str, Any]:
    """The same noise as ``score`` but G in train mode (batch norm on each batch's own statistics).

    A diagnostic only: far above ``score`` means the running statistics don't fit the weights.
    Leaves the model's running statistics changed, so call it after ``score``.
    """
    G = model.nets["G"]
    z = torch.randn((n, *G.latent_shape), generator=torch.Generator().manual_seed(seed))
    G.train()
    try:
        images = torch.cat([G(chunk) for chunk in z.split(batch)]).clamp(-1, 1)
    finally:
        G.eval()
    return digit_scores(images, confidence=CONFIDENCE)


def passes(scores: dict[str, Any]) -> bool:
    return scores["recognisable"] >= relative_bar(MIN_RECOGNISABLE) and scores["min_class_fraction"] >= MIN_CLASS


def evaluate_seed(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    """Train (unless --eval-only) and score one seed; the EMA generator is the one judged when present."""
    run = args.out / f"seed-{seed}"
    seconds = None if args.eval_only else train_run(args, seed, run)
    models, iteration = load_generators(run)
    judged = "ema" if "ema" in models else "G"
    result: dict[str, Any] = {
        "seed": seed,
        "run": str(run),
        "train_seconds": seconds,
        "engine_train_seconds": engine_seconds(run),
        "iteration": iteration,
        "judged": judged,
    }
    record = run_record(run)
    result["config"], result["engine"] = record["config"], record["engine"]
    for key, model in models.items():
        result[key] = score(model, args.num_samples, args.sample_seed)
    result["pass"] = passes(result[judged])
    result[f"{judged}_batch_stats"] = score_batch_stats(models[judged], args.num_samples, args.sample_seed)
    result["curve"] = []
    for checkpoint in list_checkpoints(run / "checkpoints")[:-1]:  # earlier kept checkpoints, when --checkpoint-every
        earlier, step = load_generators(run, checkpoint)
        scores = score(earlier[judged], args.num_samples, args.sample_seed)
        result["curve"].append(
            {
                "iteration": step,
                "recognisable": scores["recognisable"],
                "min_class_fraction": scores["min_class_fraction"],
            }
        )
    return result


def summary_line(r: dict[str, Any]) -> str:
    s = r[r["judged"]]
    wall = f"{r['train_seconds']:.0f} s" if r["train_seconds"] is not None else "n/a"
    other = "G" if r["judged"] == "ema" else None
    extra = f" (raw G: {r[other]['recognisable']:.1%})" if other and other in r else ""
    return (
        f"seed {r['seed']}: recognisable {s['recognisable']:.1%}{extra}, min class "
        f"{s['min_class_fraction']:.1%}, train {wall} -> {'PASS' if r['pass'] else 'FAIL'}"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    seeds = args.seeds if args.seeds is not None else [args.seed]
    results = []
    for seed in seeds:
        results.append(evaluate_seed(args, seed))
        print(summary_line(results[-1]), flush=True)
    record = {
        "benchmark": "dcgan-mnist-5k-cpu",
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "thresholds": {
            "recognisable": relative_bar(MIN_RECOGNISABLE),
            "recognisable_relative": MIN_RECOGNISABLE,
            "min_class_fraction": MIN_CLASS,
            "confidence": CONFIDENCE,
        },
        "classifier_heldout_accuracy": classifier_metadata().get("heldout_accuracy"),
        "real_digits_recognisable": real_digits_reference(),
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
        "results": results,
        "pass": all(r["pass"] for r in results),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "result.json").write_text(json.dumps(record, indent=2) + "\n")
    print(
        f"{'PASS' if record['pass'] else 'FAIL'}: {sum(r['pass'] for r in results)}/{len(results)} seeds; "
        f"wrote {args.out / 'result.json'}"
    )
    return 0 if record["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
