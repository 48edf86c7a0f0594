"""Score every checkpoint of digit runs with the bundled judge: the learning curve behind a card's figure.

    python benchmarks/score_checkpoints.py runs/a runs/b [--seed 1] [--json curve.json] [--export DIR --recipe CMD]

Each checkpoint's generator (its EMA when the run keeps one) is scored by `ganzoo eval`'s
mnist_digits under the bundled cards' protocol (ganzoo.metrics.DIGITS_PROTOCOL: 1,000 samples, seed 0;
a conditional model's sample i asks for digit i mod 10, REQUESTED_PROTOCOL), with the judge-feature
distance to mnist-5k beside it. ``--export DIR`` publishes each run's latest checkpoint with
save_pretrained into DIR/<run name>, recipe and figures on its card.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

import ganzoo
from ganzoo.engine.checkpoint import list_checkpoints
from ganzoo.evaluate import evaluate
from ganzoo.hub import read_config
from ganzoo.metrics import DIGITS_PROTOCOL, REQUESTED_PROTOCOL


def score(model: ganzoo.GanModel, seed: int = 0) -> dict:
    """evaluate()'s result for one generator: 1,000 samples, seed 0 unless another is named (sample i asks
    for digit i mod 10)."""
    return evaluate(model, "mnist-5k", "mnist_digits", num_samples=1000, seed=seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="training run folders")
    parser.add_argument("--device", default="cpu", help="where the generators sample: cpu, cuda")
    parser.add_argument(
        "--seed", type=int, default=0, help="sampling seed; watch a curve on another than the headline's 0"
    )
    parser.add_argument("--json", type=Path, help="write the curves here as well")
    parser.add_argument("--export", type=Path, help="publish each run's latest checkpoint into EXPORT/<run name>")
    parser.add_argument(
        "--recipe", help="the command that trained the runs, for the exported cards ({run}: the run folder)"
    )
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    result = {"protocol": DIGITS_PROTOCOL, "requested_protocol": REQUESTED_PROTOCOL, "seed": args.seed, "runs": {}}
    for run in args.runs:
        rows = []
        for path in list_checkpoints(run / "checkpoints"):
            scored = score(ganzoo.load(path, device=args.device), args.seed)
            values = scored["metrics"]["mnist_digits"]["values"]
            rows.append(
                {"step": int(path.stem.split("-")[-1]), **{k: v for k, v in values.items() if k != "classes_covered"}}
            )
            print(
                run.name,
                " ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in rows[-1].items()),
                flush=True,
            )
        result["runs"][str(run)] = rows
        if args.export and rows:
            record = read_config(run)
            logged = (run / "metrics.jsonl").read_text().splitlines() if (run / "metrics.jsonl").exists() else []
            seconds = json.loads(logged[-1]).get("train_seconds") if logged else None
            recipe = (args.recipe or f"ganzoo train {record['variant']} (see the run's config.json)").replace(
                "{run}", str(run)
            )
            ganzoo.load(run).save_pretrained(  # the card quotes the latest checkpoint's scores with their protocol
                args.export / run.name,
                data=record.get("data"),
                samples=False,
                metrics=scored,
                recipe=f"{recipe}\n# step {rows[-1]['step']}; {seconds} s in the training loop (train_seconds)",
            )
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
