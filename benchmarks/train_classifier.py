"""Train the bundled MNIST digit judge and write ganzoo/metrics/mnist_classifier.safetensors.

Data: mnist-5k at 32x32, the first 450 images of each digit for training (4,500), the last 50 of
each held out (500) to report on. Augmentation: random translations of up to 2 pixels. Every batch
also holds non-digits labelled with the eleventh class, "not a digit" (ganzoo.metrics.judge):
noise, pixel-shuffled digits, blends of two training digits of different classes (weights 0.25 -
0.75) and random strokes. Resolution augmentation: 80% of the digits and half the non-digits are
seen as if made at another size s in [12, 64] px (log-uniform), on the path such an image takes into
the judge (a digit from its 28 px source, the others from 32 px: resized to s, then by the judge's
`prepare` to 32 px, both antialiased bilinear), so the judge scores digits alike at every size.
After training, `judge_report` scores held-out digits and fresh probes
made from them with another seed; the recipe, that report and the held-out digits' recognisable
share (the reference for relative quality bars) go into the file's metadata. A few minutes on the CPU.

    PYTHONPATH=. python benchmarks/train_classifier.py [--epochs 22] [--seed 0] [--out PATH]
    PYTHONPATH=. python benchmarks/train_classifier.py --report-only [--weights PATH]   # the judge report
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from ganzoo.data.mnist import load_mnist5k, mnist5k_split
from ganzoo.metrics.classifier import REJECT, WEIGHTS_PATH, MnistClassifier, load_mnist_classifier
from ganzoo.metrics.judge import (
    PROBE_SIZES,
    REPORT_SEED,
    REPORT_SIZES,
    at_size,
    blends,
    judge_report,
    noise,
    shuffled,
    strokes,
)

SHIFT = 2  # largest translation in pixels
REJECTS = {"noise": 8, "shuffled": 8, "blends": 12, "strokes": 12}  # "not a digit" images in every batch
BLEND = (0.25, 0.75)  # weight of the first digit in a training blend
RESAMPLE = 0.8  # share of digits seen as if made at another size
RESAMPLE_REJECTS = 0.5  # the same for non-digits: blurred too often, they teach "blurry means not a digit"
SIZES = (12, 64)  # the range of those sizes, in pixels, drawn log-uniform: small sizes blur most


def resample(x: torch.Tensor, generator: torch.Generator, share: float = RESAMPLE) -> torch.Tensor:
    """Images (B, 1, H, W) -> (B, 1, 32, 32): each, with probability ``share``, resized to a random size in
    SIZES first, the way an image made at that size reaches the judge; the rest resized straight to 32."""
    low, high = math.log(SIZES[0]), math.log(SIZES[1] + 1)
    sizes = (low + (high - low) * torch.rand(len(x), generator=generator)).exp().long().clamp(*SIZES)
    sizes[torch.rand(len(x), generator=generator) >= share] = x.shape[-1]
    out = torch.empty(len(x), 1, 32, 32)
    for size in sizes.unique().tolist():
        pick = (sizes == size).nonzero().squeeze(1)
        out[pick] = MnistClassifier.prepare(at_size(x[pick], size))  # (b, 1, 32, 32)
    return out


def translate(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Shift each image (B, 1, H, W) by up to SHIFT pixels each way, filling with background (-1)."""
    b, _, h, w = x.shape
    padded = F.pad(x, (SHIFT,) * 4, value=-1.0)  # (B, 1, H + 2S, W + 2S)
    offsets = torch.randint(0, 2 * SHIFT + 1, (b, 2), generator=generator)
    return torch.stack([padded[i, :, dy : dy + h, dx : dx + w] for i, (dy, dx) in enumerate(offsets.tolist())])


def rejects(digits: torch.Tensor, labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One batch's "not a digit" images (sum(REJECTS), 1, 32, 32), made from training digits (N, 1, 32, 32)."""
    pick = torch.randint(0, len(digits), (REJECTS["shuffled"],), generator=generator)
    return resample(
        torch.cat(
            [
                noise(REJECTS["noise"], generator),
                shuffled(digits[pick], generator),
                translate(blends(digits, labels, REJECTS["blends"], generator, ratio=BLEND), generator),
                strokes(REJECTS["strokes"], generator),
            ]
        ),
        generator,
        RESAMPLE_REJECTS,
    )


@torch.no_grad()
def accuracy(model: MnistClassifier, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    return float((model(x).argmax(dim=1) == y).double().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=22)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=WEIGHTS_PATH)
    parser.add_argument("--report-only", action="store_true", help="print the judge report of --weights; train nothing")
    parser.add_argument("--weights", type=Path, default=WEIGHTS_PATH, help="weights for --report-only")
    args = parser.parse_args()
    if args.report_only:
        print(json.dumps(judge_report(load_mnist_classifier(weights=args.weights)), indent=2))
        return

    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    data = load_mnist5k(None, image_size=32, channels=1)
    train_idx, holdout_idx = (torch.from_numpy(i) for i in mnist5k_split())
    x_train, y_train = data.tensor[train_idx], data.labels[train_idx]  # (4500, 1, 32, 32), (4500,)
    source = load_mnist5k(None, image_size=28, channels=1).tensor[train_idx]  # (4500, 1, 28, 28), as stored
    x_hold, y_hold = data.tensor[holdout_idx], data.labels[holdout_idx]  # (500, 1, 32, 32), (500,)

    model = MnistClassifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps = args.epochs * -(-len(x_train) // args.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=steps)
    start = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        total = 0.0
        for i in range(0, len(order), args.batch_size):
            batch = order[i : i + args.batch_size]
            junk = rejects(x_train, y_train, generator)
            digits = translate(resample(source[batch], generator), generator)  # (B, 1, 32, 32)
            logits = model(torch.cat([digits, junk]))  # (B + R, 11)
            targets = torch.cat([y_train[batch], torch.full((len(junk),), REJECT)])
            loss = F.cross_entropy(logits, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(batch)
        held_out = accuracy(model, x_hold, y_hold)
        print(f"epoch {epoch + 1:2d}  loss {total / len(order):.4f}  held-out acc {held_out:.4f}")
    seconds = time.perf_counter() - start

    model.eval()
    report = judge_report(model)
    held_out = report["held-out digits"]["accuracy"]
    metadata = {
        "format": "pt",
        "model": "ganzoo.metrics.classifier:MnistClassifier",
        "input": "(B, 1, 32, 32) in [-1, 1]",
        "classes": "0-9 the digits, 10 not a digit",
        "heldout_accuracy": f"{held_out:.4f}",
        "heldout_recognisable": f"{report['held-out digits']['recognisable']:.4f}",
        "heldout_recognisable_by_size": json.dumps(
            {
                str(size): round(
                    report["held-out digits" if size == 32 else f"held-out digits at {size} px"]["recognisable"], 4
                )
                for size in REPORT_SIZES
            }
        ),
        "judge_report": json.dumps({name: {k: round(v, 4) for k, v in row.items()} for name, row in report.items()}),
        "judge_report_protocol": f"ganzoo.metrics.judge.judge_report(seed={REPORT_SEED}): the 500 held-out digits, "
        "and 1,000 of each probe made from them, at 32 px; the digits also loaded at "
        f"{', '.join(str(s) for s in REPORT_SIZES if s != 32)} px "
        f"and the probes also at {' and '.join(map(str, PROBE_SIZES))} px; "
        "recognisable = top class a digit with probability >= 0.9",
        "train_accuracy": f"{accuracy(model, x_train, y_train):.4f}",
        "seed": str(args.seed),
        "data": "mnist-5k (ganzoo/data/mnist5k.npz) at 32x32, antialiased bilinear resize",
        "train_split": "first 450 images of each digit (4500), ganzoo.data.mnist.mnist5k_split()[0]",
        "holdout_split": "last 50 images of each digit (500), ganzoo.data.mnist.mnist5k_split()[1]",
        "recipe": f"Adam one-cycle lr {args.lr}, batch {args.batch_size}, {args.epochs} epochs, "
        f"random translations up to {SHIFT} px, resolution augmentation (a share {RESAMPLE} of digits and "
        f"{RESAMPLE_REJECTS} of non-digits resized to a random {SIZES[0]}-{SIZES[1]} px, "
        "log-uniform, and back to 32 px, "
        "antialiased bilinear), dropout 0.3, cross-entropy over 11 classes; per batch "
        f"{sum(REJECTS.values())} images of class 10 (not a digit): {REJECTS['noise']} noise "
        f"(uniform, Gaussian, blobs, flat), {REJECTS['shuffled']} pixel-shuffled digits, {REJECTS['blends']} "
        f"blends of two training digits of different classes (first weight {BLEND[0]} - {BLEND[1]}), "
        f"{REJECTS['strokes']} random strokes (ganzoo.metrics.judge)",
        "train_seconds": f"{seconds:.1f}",
        "torch": torch.__version__,
    }
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(args.out), metadata=metadata)
    print(json.dumps(report, indent=2))
    print(f"held-out accuracy {held_out:.4f}, {seconds:.1f} s; wrote {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
