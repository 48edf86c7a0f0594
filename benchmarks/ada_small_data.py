"""Benchmark: does adaptive discriminator augmentation (``-c augment=ada``) help DCGAN on 1,000 digits?

A small-data regime: the first ``--images`` training digits of mnist-5k (an equal number of each digit,
never the 500 held-out ones), written once as a folder of PNGs with one subfolder per digit, the way
any subset of a data set is given to ganzoo (``--data FOLDER``). DCGAN at 32x32 trains on it with and
without ADA at the same budget (steps, batch, seed; EMA 0.999 kept as well), and each run's G as trained
and its EMA are scored on 1,000 samples (sampling seed 0) by the bundled digit judge: the recognisable
share and the Fréchet distance in the judge's features against all 5,000 mnist-5k digits (the full data
set, as the ADA paper measures FID). ADA runs at its paper target (0.6) and interval (4) with ada_kimg 20:
the paper's 500 is for runs of millions of images, and this one sees 32,000.

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/ada_small_data.py --seeds 0 1 [--arms plain ada]
    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/ada_small_data.py --seeds 0 1 --table   # print only

A finished run (its metrics reach --steps) is scored again, not retrained; a shorter one (a copy of a
1,000-step run, say) is resumed to --steps first. Results: <out>/result.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ARMS = {  # arm -> DCGAN config on top of the common one
    "plain": {},
    "ada": {"augment": "ada"},
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=1000, help="training digits, an equal share of each digit")
    p.add_argument("--steps", type=int, default=1000, help="iterations (one D and one G update each)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    p.add_argument("--ema", type=float, default=0.999, help="EMA decay of G (sampled when on)")
    p.add_argument("--ada-kimg", type=float, default=20.0, help="ADA speed: thousand images for p to go 0 -> 1")
    p.add_argument("-c", "--config", action="append", default=[], metavar="KEY=JSON", help="more DCGAN config")
    p.add_argument("--out", type=Path, default=Path("runs/bench/ada-small"))
    p.add_argument("--table", action="store_true", help="print the table of the existing result.json only")
    return p.parse_args(argv)


def subset_folder(out: Path, images: int) -> Path:
    """The first images/10 training digits of each class of mnist-5k as PNGs in out/data-N/<digit>/."""
    from PIL import Image

    from ganzoo.data.mnist import mnist5k_arrays, mnist5k_split

    folder = out / f"data-{images}"
    if images % 10:
        raise SystemExit(f"--images must be a multiple of 10 (an equal share of each digit), got {images}")
    done = folder / "DONE"
    if done.exists():
        return folder
    pixels, labels = mnist5k_arrays()
    train, _ = mnist5k_split()
    for digit in range(10):
        (folder / str(digit)).mkdir(parents=True, exist_ok=True)
        for i in [j for j in train if labels[j] == digit][: images // 10]:
            Image.fromarray(np.asarray(pixels[i])).save(folder / str(digit) / f"{i:04d}.png")
    done.write_text("written by benchmarks/ada_small_data.py\n")
    return folder


def common_config(args: argparse.Namespace) -> dict[str, Any]:
    config = dict(image_size=32, channels=1, ada_kimg=args.ada_kimg)
    for item in args.config:
        key, _, value = item.partition("=")
        config[key] = json.loads(value)
    return config


def train(args: argparse.Namespace, data: Path, arm: str, seed: int, run: Path) -> None:
    """Train one arm and seed into ``run`` unless a finished run is there already."""
    import ganzoo

    metrics = run / "metrics.jsonl"
    if metrics.exists():  # finished: scored as it is; shorter: continued to --steps (a resume is exact)
        if json.loads(metrics.read_text().splitlines()[-1])["step"] < args.steps:
            ganzoo.train(out=run, steps=args.steps, resume=True, progress="off", sample_every=0)
        return
    config = {**common_config(args), **ARMS[arm]}
    if arm != "ada":
        config.pop("ada_kimg")
    ganzoo.train("dcgan", str(data), steps=args.steps, out=run, batch_size=args.batch_size, seed=seed,
                 ema=args.ema, progress="off", sample_every=0, log_every=100, **config)  # fmt: skip


def score(run: Path) -> dict[str, Any]:
    """Judge scores of 1,000 samples (seed 0) of G as trained and of its EMA; the wall time and final ADA state.

    G as trained is the headline: at a thousand steps an EMA of decay 0.999 still holds a third of the initial
    weights. EMA refreshes its statistics from its own generator, so the run trains the same with it or without.
    """
    import ganzoo
    from ganzoo.data import load_dataset
    from ganzoo.engine.checkpoint import list_checkpoints, load_module, read_checkpoint
    from ganzoo.metrics.builtin import mnist_digits

    reference, _ = load_dataset("mnist-5k", image_size=32, channels=1)
    ema = ganzoo.load(str(run))  # the EMA generator when the run kept one
    trained = ganzoo.load(str(run))
    load_module("net.G", trained.nets["G"], read_checkpoint(list_checkpoints(run / "checkpoints")[-1])[0])
    out: dict[str, Any] = {}
    for name, model in (("", trained), ("ema_", ema)):
        scores = mnist_digits(model.sample(1000, seed=0), reference)  # samples (1000, 1, 32, 32)
        out[f"{name}recognisable"] = round(scores["recognisable"], 4)
        out[f"{name}mnist_fd"] = round(scores["mnist_fd"], 2)
        out[f"{name}classes_covered"] = scores["classes_covered"]
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return {**out, "train_seconds": lines[-1]["train_seconds"], "ada_p": lines[-1].get("ada_p"),
            "ada_rt": lines[-1].get("ada_rt")}  # fmt: skip


def table(result: dict[str, Any]) -> str:
    rows = ["| arm | seed | recognisable | judge-feature FD | EMA: recog., FD | final p | r_t (last log) | train s |",
            "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for key, r in sorted(result["runs"].items()):
        arm, seed = key.split("/")
        p = "-" if r["ada_p"] is None else f"{r['ada_p']:.3f}"
        rt = "-" if r["ada_rt"] is None else f"{r['ada_rt']:.2f}"
        rows.append(f"| {arm} | {seed} | {r['recognisable']:.1%} | {r['mnist_fd']:.1f} | {r['ema_recognisable']:.1%}, "
                    f"{r['ema_mnist_fd']:.1f} | {p} | {rt} | {r['train_seconds']:.0f} |")  # fmt: skip
    for arm in sorted({k.split("/")[0] for k in result["runs"]}):
        runs = [r for k, r in result["runs"].items() if k.startswith(arm + "/")]
        rec, fd = [r["recognisable"] for r in runs], [r["mnist_fd"] for r in runs]
        rows.append(
            f"| {arm}, mean of {len(runs)} | | {statistics.mean(rec):.1%} | {statistics.mean(fd):.1f} | | | | |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    path = args.out / "result.json"
    result = json.loads(path.read_text()) if path.exists() else {"runs": {}}
    if not args.table:
        data = subset_folder(args.out, args.images)
        for arm in args.arms:
            for seed in args.seeds:
                run = args.out / f"{arm}-seed-{seed}"
                start = time.perf_counter()
                train(args, data, arm, seed, run)
                entry = score(run)
                entry["wall_seconds"] = round(time.perf_counter() - start, 1)
                result["runs"][f"{arm}/{seed}"] = entry
                result["setup"] = {
                    "command": "OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/ada_small_data.py "
                    + " ".join(
                        f"--{k.replace('_', '-')} {v}"
                        for k, v in (("images", args.images), ("steps", args.steps), ("batch_size", args.batch_size))
                    ),  # fmt: skip
                    "config": common_config(args),
                    "ema": args.ema,
                    "cpu": torch.backends.cpu.get_cpu_capability(),
                    "machine": platform.processor() or platform.machine(),
                    "threads": os.environ.get("OMP_NUM_THREADS", "unset"),
                    "precision": "fp32",
                    "torch": torch.__version__,
                }
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(result, indent=2))
                print(f"{arm} seed {seed}: {json.dumps(entry)}", flush=True)
    print(table(result))


if __name__ == "__main__":
    main()
