"""Non-digit probes for the MNIST digit judge, and the report of how often each is called a digit.

The bundled classifier (classifier.py) learns to put noise, pixel-shuffled digits, blends of two
different digits and random strokes in its eleventh class, "not a digit"; benchmarks/train_classifier.py
draws them from the training digits. `judge_report` draws fresh ones from the 500 held-out digits
with another seed and counts how many the judge still calls a recognisable digit, at 32 px and at
the other sizes generators are trained at (REPORT_SIZES): a digit made at s px reaches the judge
resized s -> 32 px (`at_size`), so the judge is trained and checked on that path.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from .classifier import at_size, digit_scores, load_mnist_classifier

__all__ = [
    "NOISE_KINDS",
    "noise",
    "shuffled",
    "blends",
    "strokes",
    "at_size",
    "judge_report",
    "REPORT_SEED",
    "REPORT_SIZES",
    "PROBE_SIZES",
]

SIZE = 32
NOISE_KINDS = ("uniform", "gaussian", "blobs", "flat")
REPORT_SEED = 1234  # the report's probes; training draws its own from the seed it is given (0)
REPORT_SIZES = (16, 24, 32, 48, 64)  # image sizes at which the report scores the held-out real digits
PROBE_SIZES = (16, 64)  # sizes besides 32 at which the report checks the non-digit probes


def noise(n: int, generator: torch.Generator, kind: str | None = None, *, size: int = SIZE) -> torch.Tensor:
    """n noise images (n, 1, size, size) in [-1, 1]: one kind of NOISE_KINDS, or a random mix of all four."""
    uniform = torch.rand(n, 1, size, size, generator=generator) * 2 - 1
    gaussian = (torch.randn(n, 1, size, size, generator=generator) * 0.7).clamp(-1, 1)
    coarse = torch.randn(n, 1, 6, 6, generator=generator)
    blobs = F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False).mul(2).tanh()
    flat = (torch.rand(n, 1, 1, 1, generator=generator) * 2 - 1).expand(n, 1, size, size)
    images = torch.stack([uniform, gaussian, blobs, flat])  # (4, n, 1, size, size)
    if kind is not None:
        return images[NOISE_KINDS.index(kind)].clone()
    pick = torch.randint(0, len(NOISE_KINDS), (n,), generator=generator)
    return images[pick, torch.arange(n)]


def shuffled(digits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image (B, 1, H, W) with its pixels in a random order of its own: a digit's ink, no shape."""
    flat = digits.flatten(1)  # (B, H*W)
    order = torch.rand(flat.shape, generator=generator).argsort(dim=1)
    return flat.gather(1, order).view_as(digits)


def blends(
    digits: torch.Tensor,
    labels: torch.Tensor,
    n: int,
    generator: torch.Generator,
    ratio: tuple[float, float] = (0.5, 0.5),
) -> torch.Tensor:
    """n pixel blends w * a + (1 - w) * b of two digits of different classes, w uniform in ``ratio``."""
    first = torch.randint(0, len(digits), (n,), generator=generator)
    second = torch.randint(0, len(digits), (n,), generator=generator)
    same = labels[first] == labels[second]
    while same.any():  # redraw partners of the same class
        second[same] = torch.randint(0, len(digits), (int(same.sum()),), generator=generator)
        same = labels[first] == labels[second]
    low, high = ratio
    w = low + (high - low) * torch.rand(n, 1, 1, 1, generator=generator)
    return w * digits[first] + (1 - w) * digits[second]  # (n, 1, H, W)


def strokes(n: int, generator: torch.Generator) -> torch.Tensor:
    """n images (n, 1, 32, 32) of pen strokes that are no digit, drawn with a soft round pen.

    Half are two to four scattered lines and arcs (quadratic Bezier curves), half one long scribble
    (a random walk that keeps turning); widths and lengths are those of MNIST strokes.
    """
    t = torch.linspace(0, 1, 32).view(1, 1, 32, 1)
    control = 4 + 24 * torch.rand(n, 4, 3, 2, generator=generator)  # (n, curves, 3 points, xy) in pixels
    curves = (1 - t) ** 2 * control[:, :, :1] + 2 * (1 - t) * t * control[:, :, 1:2] + t**2 * control[:, :, 2:]
    count = torch.randint(2, 5, (n, 1, 1, 1), generator=generator)
    curves = torch.where(torch.arange(4).view(1, 4, 1, 1) < count, curves, curves[:, :1])  # (n, 4, 32, 2)

    steps = 128
    turn = torch.randn(n, steps, generator=generator).mul(0.35).cumsum(1)  # a heading that drifts, then swings
    heading = turn + 2 * math.pi * torch.rand(n, 1, generator=generator)
    walk = torch.stack([heading.cos(), heading.sin()], dim=-1).cumsum(1) * 0.6  # (n, 128, 2), steps of 0.6 px
    walk = walk - walk.mean(dim=1, keepdim=True)
    walk = 16 + walk * (12 / walk.abs().amax(dim=(1, 2), keepdim=True).clamp(min=12))  # inside [4, 28]

    points = torch.where(torch.rand(n, 1, 1, generator=generator) < 0.5, curves.reshape(n, 128, 2), walk)
    ys, xs = torch.meshgrid(
        torch.arange(SIZE, dtype=torch.float32), torch.arange(SIZE, dtype=torch.float32), indexing="ij"
    )
    grid = torch.stack([xs, ys], dim=-1).view(1, SIZE * SIZE, 2).expand(n, -1, -1)  # (n, 1024, 2)
    exact = "donot_use_mm_for_euclid_dist"  # the direct formula: the same strokes as pairwise norms, 3x faster
    distance = torch.cdist(points, grid, compute_mode=exact).amin(dim=1)  # (n, 1024) to the nearest pen point
    width = 1.0 + 0.8 * torch.rand(n, 1, generator=generator)
    ink = torch.sigmoid((width - distance) / 0.35)  # (n, 1024) in (0, 1)
    return (ink * 2 - 1).view(n, 1, SIZE, SIZE)


def judge_report(
    classifier: torch.nn.Module | None = None, *, n: int = 1000, seed: int = REPORT_SEED, confidence: float = 0.9
) -> dict[str, dict[str, Any]]:
    """How the judge scores held-out digits and non-digit probes made from them (``n`` of each probe).

    Each row: recognisable (top class a digit with probability >= confidence) and rejected (top
    class "not a digit"; always 0 for a ten-class judge); the real digits' rows add accuracy. The
    unsuffixed rows are at 32 px; "held-out digits at S px" loads the digits at S px (REPORT_SIZES),
    and the probes "... at S px" (PROBE_SIZES) are made from those digits or at that size.
    """
    from ..data.mnist import load_mnist5k, mnist5k_split

    net = classifier if classifier is not None else load_mnist_classifier()
    data = load_mnist5k(None, image_size=SIZE, channels=1)
    index = torch.from_numpy(mnist5k_split()[1])
    x, y = data.tensor[index], data.labels[index]  # (500, 1, 32, 32), (500,)
    generator = torch.Generator().manual_seed(seed)
    probes = {
        "blends 50/50 of two different digits": blends(x, y, n, generator),
        "blends 70/30 of two different digits": blends(x, y, n, generator, ratio=(0.7, 0.7)),
        "pixel-shuffled digits": shuffled(x[torch.randint(0, len(x), (n,), generator=generator)], generator),
        "uniform noise": noise(n, generator, "uniform"),
        "Gaussian noise": noise(n, generator, "gaussian"),
        "strokes": strokes(n, generator),
    }
    labelled = {"held-out digits": x}
    for size in REPORT_SIZES:
        if size != SIZE:
            labelled[f"held-out digits at {size} px"] = load_mnist5k(None, image_size=size, channels=1).tensor[index]
    for size in PROBE_SIZES:
        digits = labelled[f"held-out digits at {size} px"]  # (500, 1, size, size)
        probes[f"blends 50/50 of two different digits at {size} px"] = blends(digits, y, n, generator)
        pick = torch.randint(0, len(x), (n,), generator=generator)
        probes[f"pixel-shuffled digits at {size} px"] = shuffled(digits[pick], generator)
        probes[f"uniform noise at {size} px"] = noise(n, generator, "uniform", size=size)
        probes[f"Gaussian noise at {size} px"] = noise(n, generator, "gaussian", size=size)
        probes[f"strokes at {size} px"] = at_size(probes["strokes"], size)  # the same pen strokes, resampled
    report = {}
    for name, images in {**labelled, **probes}.items():
        scores = digit_scores(images, confidence=confidence, classifier=net)
        report[name] = {"images": len(images), "recognisable": scores["recognisable"], "rejected": scores["rejected"]}
    with torch.no_grad():
        for name, digits in labelled.items():
            report[name]["accuracy"] = float((net(digits).argmax(dim=1) == y).double().mean())
    return report
