"""The data path alone: images/s of a prepared folder against torchvision's ImageFolder + DataLoader.

Both read the same folder of 64x64 JPEGs and deliver shuffled (64, 3, 64, 64) float batches in
[-1, 1], one epoch at a time, alternating in this one process so machine noise hits both alike.
ganzoo's side is what a run does: ``load_folder`` (timed apart: a cache hit, its SHA-256 check
included, once per run) and the engine's ``Batches``. torchvision's side is the classic recipe
(Resize, CenterCrop, ToTensor, Normalize), with 0 and with ``--workers`` DataLoader processes
(persistent; built once, as a run does). Reported: the one-time preparation, the open, images/s
of each, and the ratio ganzoo / torchvision (median of rounds) against the faster torchvision
setting in the steady state (warm epochs), and beside it the first epoch's: ganzoo's preparation
plus its first epoch against torchvision's first epoch (its workers starting).

    OMP_NUM_THREADS=1 python benchmarks/data_path.py --images 2000 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def make_jpegs(root: Path, n: int, size: int) -> None:
    """n smooth random RGB images (noise upsampled 8x, so JPEG sizes look like photos') in root/all/."""
    rng = np.random.default_rng(0)
    (root / "all").mkdir(parents=True)
    for i in range(n):
        small = rng.integers(0, 256, (size // 8, size // 8, 3), dtype=np.uint8)
        Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC).save(
            root / "all" / f"{i:05d}.jpg", quality=90
        )


def ganzoo_open(root: Path, size: int):
    from ganzoo.data.folder import load_folder

    return load_folder(str(root), image_size=size, channels=3)


def ganzoo_epoch(ds, size: int, batch_size: int, seed: int) -> int:
    from ganzoo.engine.batches import Batches

    batches = Batches(ds, batch_size, seed, torch.device("cpu"))
    n = len(ds) // batch_size
    for _ in range(n):
        x = next(batches)
    assert x.shape == (batch_size, 3, size, size) and x.dtype == torch.float32
    return n * batch_size


def torchvision_loader(root: Path, size: int, batch_size: int, workers: int):
    from torchvision import datasets, transforms

    tf = transforms.Compose(
        [
            transforms.Resize(size),
            transforms.CenterCrop(size),
            transforms.ToTensor(),
            transforms.Normalize((0.5,) * 3, (0.5,) * 3),
        ]
    )
    return torch.utils.data.DataLoader(
        datasets.ImageFolder(str(root), transform=tf),
        batch_size=batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=workers,
        persistent_workers=workers > 0,
    )


def torchvision_epoch(loader) -> int:
    n = 0
    for x, _ in loader:
        n += x.shape[0]
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3, help="alternations of one epoch of each")
    ap.add_argument("--workers", type=int, default=2, help="DataLoader processes of torchvision's second setting")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root, cache = Path(tmp) / "jpegs", Path(tmp) / "cache"
        os.environ["GANZOO_CACHE"] = str(cache)  # a fresh cache: the first load prepares
        make_jpegs(root, args.images, args.size)
        t0 = time.perf_counter()
        ds = ganzoo_open(root, args.size)
        first = time.perf_counter() - t0  # the one-time preparation
        t0 = time.perf_counter()
        ganzoo_epoch(ds, args.size, args.batch_size, 0)
        first_epoch = {"ganzoo": first + time.perf_counter() - t0}  # a run's first epoch: preparation included
        loaders = {}
        for w in sorted({0, args.workers}):
            t0 = time.perf_counter()
            loaders[w] = torchvision_loader(root, args.size, args.batch_size, w)
            torchvision_epoch(loaders[w])  # its first epoch (workers start); afterwards warm
            first_epoch[f"torchvision_w{w}"] = time.perf_counter() - t0
        rates: dict[str, list[float]] = {"ganzoo": [], **{f"torchvision_w{w}": [] for w in loaders}}
        opens = []
        for r in range(args.rounds):
            t0 = time.perf_counter()
            ds = ganzoo_open(root, args.size)  # a cache hit: once per run, not per epoch
            opens.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            n = ganzoo_epoch(ds, args.size, args.batch_size, r + 1)
            rates["ganzoo"].append(n / (time.perf_counter() - t0))
            for w, loader in loaders.items():
                t0 = time.perf_counter()
                n = torchvision_epoch(loader)
                rates[f"torchvision_w{w}"].append(n / (time.perf_counter() - t0))
    best = max((k for k in rates if k != "ganzoo"), key=lambda k: statistics.median(rates[k]))
    ratios = [g / t for g, t in zip(rates["ganzoo"], rates[best])]
    result = {
        "images": args.images,
        "size": args.size,
        "batch_size": args.batch_size,
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "prepare_s": round(first, 2),
        "open_s": round(statistics.median(opens), 3),
        **{f"{k}_images_per_s": round(statistics.median(v), 1) for k, v in rates.items()},
        "against": best,
        "ratio_median": round(statistics.median(ratios), 2),
        "ratios": [round(x, 2) for x in ratios],
        "first_epoch_s": {k: round(v, 2) for k, v in first_epoch.items()},
        # the first epoch, ganzoo's preparation included, against the faster torchvision first epoch
        "first_epoch_ratio": round(min(v for k, v in first_epoch.items() if k != "ganzoo") / first_epoch["ganzoo"], 2),
    }
    print(json.dumps(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
