"""CycleGAN on MNIST <-> inverted MNIST: does unpaired translation find the inversion?

Trains on the data spec "mnist-5k-inverted" (A = half of mnist-5k's training digits, B = the other
half, inverted; no image is ever seen beside its own inversion), then evaluates on the 500
held-out digits, which training never saw:

- a2b MAE: mean |G_AB(x) - (1 - x)| in [0, 1] pixel units (target <= 0.08);
- b2a label accuracy: the bundled MNIST classifier's label of G_BA(inverted x) against x's label
  (target >= 90%);
- cycle error: mean |G_BA(G_AB(x)) - x| in [0, 1] units (reported).

    python benchmarks/cyclegan_mnist.py --steps 1500 --out runs/bench-cyclegan
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import ganzoo
from ganzoo.data.mnist import load_mnist5k, mnist5k_split
from ganzoo.metrics.classifier import load_mnist_classifier


@torch.no_grad()
def inversion_scores(model: "ganzoo.GanModel") -> dict[str, float]:
    """The three numbers above, on the 500 held-out mnist-5k digits."""
    data = load_mnist5k(image_size=model.config.image_size, channels=model.config.channels)
    _, holdout = mnist5k_split()
    x = data.tensor[torch.as_tensor(holdout)]  # (500, 1, S, S) in [-1, 1]
    labels = data.labels[torch.as_tensor(holdout)]
    fake_b = model.translate(x, "a2b")
    mae = ((fake_b + 1) / 2 - (1 - (x + 1) / 2)).abs().mean().item()
    cycle = ((model.translate(fake_b, "b2a") - x) / 2).abs().mean().item()
    back = model.translate(-x, "b2a")  # inverted held-out digits -> domain A
    predicted = load_mnist_classifier()(back).argmax(1)
    return {"a2b_mae": round(mae, 4), "b2a_label_accuracy": round((predicted == labels).float().mean().item(), 4),
            "cycle_mae": round(cycle, 4), "holdout_images": int(len(x))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--ngf", type=int, default=16)
    ap.add_argument("--ndf", type=int, default=16)
    ap.add_argument("--n-blocks", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="runs/bench-cyclegan")
    args = ap.parse_args()

    out = Path(args.out)
    start = time.perf_counter()
    ganzoo.train("cyclegan", "mnist-5k-inverted", steps=args.steps, out=out, batch_size=args.batch_size, seed=args.seed,
                 image_size=32, channels=1, ngf=args.ngf, ndf=args.ndf, n_blocks=args.n_blocks,
                 progress="off", sample_every=max(args.steps // 4, 1), checkpoint_every=max(args.steps // 4, 1))
    wall = time.perf_counter() - start
    scores = inversion_scores(ganzoo.load(str(out)))
    result = {"settings": vars(args), "wall_s": round(wall, 1), "torch": torch.__version__,
              "threads": torch.get_num_threads(), **scores,
              "pass": scores["a2b_mae"] <= 0.08 and scores["b2a_label_accuracy"] >= 0.90}
    (out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
