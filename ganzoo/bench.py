"""Variants side by side: same data, same budget, several seeds, quality against wall-clock time.

Each (variant, seed) trains in its own subprocess, in ``evals`` equal segments of the budget
(steps or seconds), resuming exactly between segments; after each segment the run is evaluated
with the same metrics and protocol. Time is the engine's own count of seconds in its training
loop (metrics.jsonl "train_seconds"), so start-up, data loading and evaluation are not charged. The results:
results.json (everything), results.md (a table: parameters, images/s, peak memory, final metrics
as mean ± sd over seeds, time to reach a threshold) and results.png (final sample grids side by
side and metric-vs-time curves).

A run whose numbers cannot be trusted as a measurement is marked degenerate, with the reason:
all its evaluations gave bit-identical numbers (its samples never changed as the metrics see
them), or evaluate() flagged a metric (every sample the same, or the same features for all).
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from .bench_report import headline_values, results_markdown, results_picture


def run_bench(
    variants: list[str],
    data: str,
    out: str | Path,
    *,
    steps: int | None = None,
    budget: float | None = None,
    seeds: int = 1,
    evals: int = 4,
    metrics: list[str] | None = None,
    batch_size: int = 64,
    ema: float = 0.0,
    config: dict[str, Any] | None = None,
    threshold: tuple | None = None,
    num_samples: int | None = None,
    device: str = "cpu",
    features: str = "inception",
) -> dict[str, Any]:
    """Train and evaluate every variant on ``data`` under one budget; write and return the results."""
    from .api import get_variant
    from .config import ConfigError
    from .data import parse_spec
    from .metrics import sharding
    from .tasks import for_data_kind

    if (steps is None) == (budget is None):
        raise ConfigError("give exactly one budget: steps (iterations) or budget (seconds)")
    if evals < 1 or seeds < 1:
        raise ConfigError("evals and seeds must be >= 1")
    if not 0 <= ema < 1:
        raise ConfigError(f"ema must be a decay in [0, 1) (0 = off), got {ema!r}")
    if steps is not None and steps < evals:
        raise ConfigError(
            f"{steps} steps cannot be cut into {evals} evaluation segments; use more steps or fewer --evals"
        )
    if budget is not None and budget / evals < 1.0:
        raise ConfigError(
            f"a budget of {budget}s leaves under a second per evaluation segment ({evals} of them); "
            f"give at least {evals} seconds"
        )
    entry, _ = parse_spec(data)
    for name in variants:
        kinds = get_variant(name).data_kind.split(",")
        if entry.kind not in kinds:
            raise ConfigError(
                f"variant {name!r} trains on {' or '.join(kinds)} data, but {data!r} gives {entry.kind} data"
            )
    task = for_data_kind(entry.kind)
    metrics = metrics or list(task.default_metrics + task.bench_metrics)
    if not metrics:
        raise ConfigError(f"no default metrics for {entry.kind} data: pass --metrics")
    from .plugins import get_state

    for m in metrics:
        get_state().metrics.get(m)  # unknown metric: fail before training anything
    if threshold and threshold[0].split(".")[0] not in metrics:
        raise ConfigError(
            f"threshold {threshold[0]!r} names no metric of this bench ({', '.join(metrics)}); "
            f"use one of them, e.g. {metrics[0]}.KEY>=VALUE"
        )

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    runs = []
    for name in variants:
        for seed in range(seeds):
            runs.append(
                _bench_one(
                    name,
                    data,
                    out / "runs" / f"{name}-seed{seed}",
                    seed=seed,
                    steps=steps,
                    budget=budget,
                    evals=evals,
                    metrics=metrics,
                    batch_size=batch_size,
                    config=(config or {}).get(name, {}),
                    num_samples=num_samples,
                    device=device,
                    features=features,
                    ema=ema,
                )
            )
    result = {
        "data": data,
        "kind": entry.kind,
        "budget": {"steps": steps, "seconds": budget},
        "seeds": seeds,
        "ema": ema,
        "evals": evals,
        "metrics": metrics,
        "batch_size": batch_size,
        "device": device,
        "threshold": list(threshold) if threshold else None,
        "runs": runs,
        "summary": summarise(runs, variants, threshold),
    }
    if sharding.is_main():  # under torchrun: every rank evaluated a share, rank 0 writes
        (out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
        (out / "results.md").write_text(results_markdown(result))
        results_picture(result, out / "results.png")
    return result


def _bench_one(
    variant: str,
    data: str,
    run: Path,
    *,
    seed: int,
    steps: int | None,
    budget: float | None,
    evals: int,
    ema: float,
    metrics: list[str],
    batch_size: int,
    config: dict,
    num_samples: int | None,
    device: str,
    features: str,
) -> dict[str, Any]:
    """One (variant, seed): train in ``evals`` segments in child processes, evaluating after each."""
    from .evaluate import evaluate
    from .metrics import sharding
    from .networks import count_parameters
    from .pretrained.run import load_run

    points = []
    for k in range(1, evals + 1):
        args = [sys.executable, "-m", "ganzoo", "train", "--progress", "off", "--device", device]
        if k == 1:
            args[4:4] = [
                variant,
                "--data",
                data,
                "--out",
                str(run),
                "--seed",
                str(seed),
                "--batch-size",
                str(batch_size),
                "--sample-every",
                "0",
                "--checkpoint-every",
                "0",
                "--log-every",
                "10",
                "--ema",
                str(ema),
            ]
            args += [x for key, value in config.items() for x in ("-c", f"{key}={json.dumps(value)}")]
        else:
            args += ["--resume", str(run)]
        if steps is not None:
            args += ["--steps", str(math.ceil(steps * k / evals))]
        else:
            args += ["--steps", str(10**9), "--budget", str(budget / evals)]
        sharding.on_main(lambda: _train_segment(args), f"training {variant}")  # noqa: B023 (called at once)
        model = load_run(run)
        scores = evaluate(
            model, data, _applicable(metrics, model), num_samples=num_samples, seed=0, features=features, device=device
        )
        last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
        points.append({"step": last["step"], "train_seconds": last["train_seconds"], "metrics": scores["metrics"]})
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    rates = [line["images_per_s"] for line in lines]
    memory = "peak_cuda_mb" if device.startswith("cuda") else "peak_rss_mb"
    peak = max((line.get(memory, 0) for line in lines), default=0)
    model = load_run(run)
    grid = run / "final-samples.png"
    if sharding.is_main():
        _final_grid(model, grid)
    return {
        "variant": variant,
        "seed": seed,
        "run": str(run),
        "parameters": {n: count_parameters(m) for n, m in model.nets.items()},
        "images_per_s": round(statistics.median(rates), 1) if rates else None,
        "peak_memory_mb": peak or None,
        "curve": points,
        "samples": str(grid),
        "degenerate": degenerate_notes(points),
    }


def degenerate_notes(curve: list[dict[str, Any]]) -> list[str]:
    """Why a run's evaluations are no measurement of it: identical numbers at every point, or evaluate()'s notes."""
    notes = []
    values = [headline_values(p["metrics"]) for p in curve]
    if len(values) > 1 and all(v == values[0] for v in values[1:]):
        notes.append(
            f"all {len(values)} evaluations (steps {', '.join(str(p['step']) for p in curve)}) gave identical "
            f"numbers to the last digit: training did not change the samples, or the metrics cannot see "
            f"the change (look at the samples), so these numbers do not measure what the variant learnt"
        )
    flagged: dict[str, list[int]] = {}
    for point in curve:
        for name, record in point["metrics"].items():
            if record.get("degenerate"):
                flagged.setdefault(f"{name}: {record['degenerate']}", []).append(point["step"])
    notes += [
        f"{note} (at step{'s' if len(steps) > 1 else ''} {', '.join(map(str, steps))})"
        for note, steps in flagged.items()
    ]
    return notes


def _train_segment(args: list[str]) -> None:
    """Run one training command in a child process; its error output becomes the error when it fails.

    Under torchrun only rank 0 trains, in one process (the child does not join the launch); all ranks evaluate.
    """
    from .metrics.sharding import single_process_env

    proc = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=single_process_env())
    if proc.returncode:
        raise RuntimeError(f"training failed ({' '.join(args[3:])}):\n{proc.stderr[-2000:]}")


def _applicable(metrics: list[str], model: Any) -> list[str]:
    """The metrics that score this model: class-conditional ones (intra_fid) only for conditional models,
    so conditional and unconditional variants share one bench with their own columns."""
    if model.task.conditional:
        return metrics
    from .plugins import get_state

    registry = get_state().metrics
    return [m for m in metrics if not registry.get(m).conditional] or metrics


def _final_grid(model: Any, path: Path) -> None:
    """The run's final picture, as its task previews it (a translator without inputs draws none)."""
    from .engine.outputs import save_grid

    preview = model.task.preview(model, seed=0, n=64)
    if preview is not None:
        save_grid(preview.images.cpu(), path, nrow=preview.nrow)


def parse_threshold(text: str) -> tuple[str, float, str]:
    """ "METRIC>=VALUE" or "METRIC<=VALUE" (lower-is-better metrics such as FID); "METRIC=VALUE" means >=."""
    for op in (">=", "<=", "="):
        key, found, raw = text.partition(op)
        if found:
            break
    try:
        level = float(raw)
    except ValueError:
        found = ""
    if not found or not key:
        raise ValueError(
            f"threshold {text!r} is not METRIC>=VALUE or METRIC<=VALUE, e.g. mnist_digits.recognisable>=0.5 or fid<=40"
        )
    return key.strip(), level, "<=" if op == "<=" else ">="


def _reached(value: float | None, level: float, op: str) -> bool:
    return value is not None and (value <= level if op == "<=" else value >= level)


def summarise(runs: list[dict], variants: list[str], threshold: tuple | None) -> dict[str, Any]:
    summary = {}
    for name in variants:
        mine = [r for r in runs if r["variant"] == name]
        finals = [headline_values(r["curve"][-1]["metrics"]) for r in mine]
        keys = sorted(set().union(*finals))
        stats = {}
        for key in keys:
            values = [f[key] for f in finals if key in f]  # one seed has no spread: sd None, not 0
            stats[key] = {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else None}
        entry = {
            "parameters": sum(mine[0]["parameters"].values()),
            "images_per_s": statistics.fmean(r["images_per_s"] or 0 for r in mine),
            "peak_memory_mb": max((r["peak_memory_mb"] or 0 for r in mine), default=0) or None,
            "final": stats,
            "degenerate": [f"seed {r['seed']}: {note}" for r in mine for note in r.get("degenerate", [])],
        }
        if threshold:
            key, level, op = (*threshold, ">=")[:3]
            times = []
            for r in mine:
                hit = [
                    p["train_seconds"]
                    for p in r["curve"]
                    if _reached(headline_values(p["metrics"]).get(key), level, op)
                ]
                times.append(hit[0] if hit else None)
            entry["time_to_threshold"] = times
        summary[name] = entry
    return summary
