"""Train the bundled MNIST digit classifier and write ganzoo/metrics/mnist_classifier.safetensors.

Data: mnist-5k at 32x32, the first 450 images of each digit for training (4,500), the last 50 of
each held out (500) to report accuracy. Augmentation: random translations of up to 2 pixels; noise
images in every batch are trained toward a uniform softmax so that noise is never "recognisable".
Runs on the CPU in about a minute; the recipe and held-out accuracy go into the file's metadata.

    PYTHONPATH=. python benchmarks/train_classifier.py [--epochs 15] [--seed 0] [--out PATH]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from ganzoo.data.mnist import load_mnist5k, mnist5k_split
from ganzoo.metrics.classifier import WEIGHTS_PATH, MnistClassifier

SHIFT = 2  # largest translation in pixels
JUNK = 16  # non-digit images added to every batch
JUNK_WEIGHT = 0.5  # weight of their cross-entropy to the uniform distribution


def translate(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Shift each image (B, 1, H, W) by up to SHIFT pixels each way, filling with background (-1)."""
    b, _, h, w = x.shape
    padded = F.pad(x, (SHIFT,) * 4, value=-1.0)  # (B, 1, H + 2S, W + 2S)
    offsets = torch.randint(0, 2 * SHIFT + 1, (b, 2), generator=generator)
    return torch.stack([padded[i, :, dy : dy + h, dx : dx + w] for i, (dy, dx) in enumerate(offsets.tolist())])


def junk(n: int, generator: torch.Generator) -> torch.Tensor:
    """n non-digit images (n, 1, 32, 32) in [-1, 1]: uniform, Gaussian, blobby and flat noise.

    Training pushes the softmax on these toward uniform (outlier exposure, Hendrycks et al. 2019),
    so that noise from an untrained or collapsed generator does not count as a confident digit.
    """
    kind = torch.randint(0, 4, (n, 1, 1, 1), generator=generator)
    uniform = torch.rand(n, 1, 32, 32, generator=generator) * 2 - 1
    gaussian = (torch.randn(n, 1, 32, 32, generator=generator) * 0.7).clamp(-1, 1)
    coarse = torch.randn(n, 1, 6, 6, generator=generator)
    blobs = F.interpolate(coarse, size=(32, 32), mode="bilinear", align_corners=False).mul(2).tanh()
    flat = (torch.rand(n, 1, 1, 1, generator=generator) * 2 - 1).expand(n, 1, 32, 32)
    return torch.where(kind == 0, uniform, torch.where(kind == 1, gaussian, torch.where(kind == 2, blobs, flat)))


@torch.no_grad()
def accuracy(model: MnistClassifier, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    return float((model(x).argmax(dim=1) == y).double().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=WEIGHTS_PATH)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    data = load_mnist5k(None, image_size=32, channels=1)
    train_idx, holdout_idx = (torch.from_numpy(i) for i in mnist5k_split())
    x_train, y_train = data.tensor[train_idx], data.labels[train_idx]  # (4500, 1, 32, 32), (4500,)
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
            logits = model(torch.cat([translate(x_train[batch], generator), junk(JUNK, generator)]))
            loss = F.cross_entropy(logits[: len(batch)], y_train[batch])
            loss = loss - JUNK_WEIGHT * logits[len(batch) :].log_softmax(dim=1).mean()  # CE to uniform
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(batch)
        held_out = accuracy(model, x_hold, y_hold)
        print(f"epoch {epoch + 1:2d}  loss {total / len(order):.4f}  held-out acc {held_out:.4f}")
    seconds = time.perf_counter() - start

    model.eval()
    held_out = accuracy(model, x_hold, y_hold)
    metadata = {
        "format": "pt",
        "model": "ganzoo.metrics.classifier:MnistClassifier",
        "input": "(B, 1, 32, 32) in [-1, 1]",
        "heldout_accuracy": f"{held_out:.4f}",
        "train_accuracy": f"{accuracy(model, x_train, y_train):.4f}",
        "seed": str(args.seed),
        "data": "mnist-5k (ganzoo/data/mnist5k.npz) at 32x32, antialiased bilinear resize",
        "train_split": "first 450 images of each digit (4500), ganzoo.data.mnist.mnist5k_split()[0]",
        "holdout_split": "last 50 images of each digit (500), ganzoo.data.mnist.mnist5k_split()[1]",
        "recipe": f"Adam one-cycle lr {args.lr}, batch {args.batch_size}, {args.epochs} epochs, "
        f"random translations up to {SHIFT} px, dropout 0.3, "
        f"{JUNK} noise images per batch trained toward a uniform softmax (weight {JUNK_WEIGHT})",
        "train_seconds": f"{seconds:.1f}",
        "torch": torch.__version__,
    }
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(args.out), metadata=metadata)
    print(f"held-out accuracy {held_out:.4f}, {seconds:.1f} s; wrote {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
