"""pix2pix on a paired mnist-5k task: does it learn the true translation, and keep the digit?

Trains on a paired data spec, "mnist-5k-thick-paired" (every training digit beside its strokes
dilated by a 3x3 square) or "mnist-5k-rot90-paired" (beside itself rotated 90 degrees), then scores
the 500 held-out digits, which training never saw, with ganzoo.metrics.translation:

- a2b_mae: mean |G(x) - T(x)| in [0, 1] pixel units, against identity_mae, that of x itself;
- a2b_label_kept: the bundled digit judge's label of upright(G(x)) against x's label, beside
  true_target_label_kept, the same for the true targets T(x) (what a perfect translator gets).

    python benchmarks/pix2pix_mnist.py --task thick --steps 1500 --out runs/bench-pix2pix-thick
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import ganzoo
from ganzoo.metrics.translation import translation_scores


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", choices=["thick", "rot90", "inverted"], default="thick")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--ngf", type=int, default=32)
    ap.add_argument("--ndf", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="run folder (default runs/bench-pix2pix-TASK)")
    args = ap.parse_args()

    data = f"mnist-5k-{args.task}-paired"
    out = Path(args.out or f"runs/bench-pix2pix-{args.task}")
    start = time.perf_counter()
    ganzoo.train(
        "pix2pix",
        data,
        steps=args.steps,
        out=out,
        batch_size=args.batch_size,
        seed=args.seed,
        image_size=32,
        channels=1,
        ngf=args.ngf,
        ndf=args.ndf,
        lr=args.lr,
        device="cpu",
        progress="off",
        sample_every=max(args.steps // 4, 1),
        checkpoint_every=max(args.steps // 4, 1),
    )
    wall = time.perf_counter() - start
    scores = translation_scores(ganzoo.load(str(out)), args.task)
    result = {
        "data": data,
        "settings": vars(args),
        "wall_s": round(wall, 1),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        **scores,
    }
    (out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
