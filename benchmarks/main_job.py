"""Time the README's main job end to end and score its model: the two figures the README quotes.

The command is read from README.md (the "Main job" row), run fresh in a throwaway folder with an empty
data cache, as a new user would run it, timed from start to exit, and its model scored by the bundled digit judge under
DIGITS_PROTOCOL (1,000 samples, seed 0) with benchmarks/bundled.py's reading: a class-conditional model is asked for
100 of each digit and held to the conditional bar as well (requested digits and their spread). Run it alone on the
machine: the time is the point.

    python benchmarks/main_job.py                       # writes bench/main-job.json
    python benchmarks/main_job.py --out bench/avx2.json # e.g. on another machine
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
BAR = 0.8  # the main job's bar: this share of the real held-out digits' score


def readme_command(readme: Path = REPO / "README.md") -> list[str]:
    """The main job's command line, as the README's "Main job" row writes it."""
    row = next((line for line in readme.read_text().splitlines() if line.startswith("| **Main job**")), None)
    found = re.search(r"`(ganzoo train [^`]+)`", row or "")
    if found is None:
        raise SystemExit("README.md has no '| **Main job** ... `ganzoo train ...`' row")
    return shlex.split(found[1])


def run(out: Path, readme: Path = REPO / "README.md") -> dict:
    import ganzoo
    from ganzoo.metrics import DIGITS_PROTOCOL, SPREAD_BAR
    from ganzoo.metrics.classifier import real_digits_reference, real_requested_reference

    if str(REPO / "benchmarks") not in sys.path:
        sys.path.insert(0, str(REPO / "benchmarks"))
    from bundled import measure  # the cards' reading, so the job and the bundled models are scored alike

    argv = readme_command(readme)
    with tempfile.TemporaryDirectory(prefix="ganzoo-main-job-") as tmp:
        env = dict(os.environ, GANZOO_CACHE=str(Path(tmp) / "cache"))  # fresh: the data is prepared as a new user's is
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "ganzoo", *argv[1:]], cwd=tmp, env=env, check=True)
        wall = time.perf_counter() - start
        run_dir = Path(tmp) / argv[argv.index("--out") + 1]
        last = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])
        metrics = {k: m["value"] for k, m in measure("main-job", ganzoo.load(str(run_dir))).items()}
    real = real_digits_reference()
    result = {
        "command": shlex.join(argv),
        "wall_seconds": round(wall, 1),
        "loop_seconds": round(last["train_seconds"], 1),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "recognisable": metrics["recognisable"],
        "min_class_fraction": metrics["min_class_fraction"],
        "real_recognisable": round(real, 4),
        "share_of_real": round(metrics["recognisable"] / real, 3),
        "bar": f"recognisable >= {BAR} of the real digits' score and at most 600 s wall",
        "protocol": DIGITS_PROTOCOL,
    }
    met = result["share_of_real"] >= BAR and wall <= 600
    if "requested" in metrics:  # a class-conditional job: the conditional bar too, as its cards have
        real_asked = real_requested_reference()
        share, worst = metrics["requested"] / real_asked, metrics["min_requested"] / real_asked
        result.update(
            requested=metrics["requested"],
            min_requested=metrics["min_requested"],
            requested_share_of_real=round(share, 3),
            worst_share_of_real=round(worst, 3),
            spread_ratio=metrics["spread_ratio"],
            intra_fd=metrics["intra_fd"],
        )
        result["bar"] += (
            f"; conditional: requested >= 0.95 and worst digit >= 0.85 of real, spread ratio >= {SPREAD_BAR}"
        )
        met = met and share >= 0.95 and worst >= 0.85 and metrics["spread_ratio"] >= SPREAD_BAR
    result["met"] = met
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/main-job.json"))
    print(json.dumps(run(parser.parse_args().out), indent=2))
