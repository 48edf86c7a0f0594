"""Train, measure and publish the weights bundled in the built-in plugins (the catalog's "bundled").

Each entry is trained by its recipe, the exact `ganzoo train` command on its model card, then
measured with a fixed protocol and published with save_pretrained into the plugin's
pretrained/ folder, which ships in the wheel:

    python benchmarks/bundled.py                    # all four
    python benchmarks/bundled.py dcgan-mnist        # one

Image models: 1,000 samples (seed 0) scored by the bundled MNIST classifier (confidence 0.9).
cyclegan-mnist-inverted: the held-out digits of benchmarks/cyclegan_mnist.py's protocol.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECIPES = {
    "dcgan-mnist": ("ganzoo_dcgan", "ganzoo train dcgan --data mnist-5k --image-size 32 --channels 1 -c ngf=64 -c ndf=32 "
                    "-c lr=5e-4 -c r1=1 -c decay_start=0.5 --steps 5000 --ema 0.999 --out runs/dcgan-mnist"),
    "vanilla-mnist": ("ganzoo_vanilla", "ganzoo train vanilla --data mnist-5k --image-size 32 --channels 1 -c g_norm=batch "
                      "--steps 6000 --ema 0.995 --out runs/vanilla-mnist"),
    "wgan-gp-mnist": ("ganzoo_wgan_gp", "ganzoo train wgan-gp --data mnist-5k --image-size 32 --channels 1 -c ngf=32 "
                      "-c ndf=32 -c lr=2e-4 --steps 2000 --ema 0.995 --out runs/wgan-gp-mnist"),
    "cyclegan-mnist-inverted": ("ganzoo_cyclegan", "ganzoo train cyclegan --data mnist-5k-inverted --image-size 32 "
                                "--channels 1 -c ngf=8 -c ndf=8 --steps 1500 --batch-size 8 --out runs/cyclegan-mnist-inverted"),
}


def publish(name: str) -> dict:
    import ganzoo
    from ganzoo.hub import read_config

    package, recipe = RECIPES[name]
    run = REPO / shlex.split(recipe)[-1]
    steps = int(shlex.split(recipe)[shlex.split(recipe).index("--steps") + 1])
    if _finished_step(run) != steps:  # a finished run of this recipe is published as it is
        args = shlex.split(recipe)[1:] + ["--progress", "off", "--sample-every", "0"]
        subprocess.run([sys.executable, "-m", "ganzoo", *args], cwd=REPO, check=True)
    model = ganzoo.load(str(run))
    metrics = measure(name, model)
    seconds = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["train_seconds"]
    metrics["training_seconds"] = {"value": round(seconds, 1), "protocol": f"seconds in the engine's loop on a shared 2-core CPU, "
                                   f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"}
    folder = REPO / "plugins" / package / "pretrained" / name
    model.save_pretrained(folder, name=name, data=read_config(run)["data"], metrics=metrics, recipe=recipe)
    print(json.dumps({name: metrics}, indent=2), flush=True)
    return metrics


def _finished_step(run: Path) -> int | None:
    lines = (run / "metrics.jsonl").read_text().splitlines() if (run / "metrics.jsonl").exists() else []
    return json.loads(lines[-1])["step"] if lines else None


def measure(name: str, model) -> dict:
    if name == "cyclegan-mnist-inverted":
        sys.path.insert(0, str(REPO / "benchmarks"))
        from cyclegan_mnist import inversion_scores

        scores = inversion_scores(model)
        protocol = "500 held-out mnist-5k digits (never trained on); pixel units in [0, 1]"
        return {k: {"value": v, "protocol": protocol} for k, v in scores.items() if k != "holdout_images"}
    from ganzoo.metrics.classifier import digit_scores

    scores = digit_scores(model.sample(1000, seed=0))
    from ganzoo.metrics import DIGITS_PROTOCOL as protocol
    return {"recognisable": {"value": round(scores["recognisable"], 4), "protocol": protocol},
            "min_class_fraction": {"value": round(scores["min_class_fraction"], 4), "protocol": protocol}}


if __name__ == "__main__":
    results = {name: publish(name) for name in (sys.argv[1:] or RECIPES)}
    print(json.dumps(results, indent=2))
