"""Train, measure and publish the weights bundled in the built-in plugins (the catalog's "bundled").

Each entry is trained by its recipe, the exact `ganzoo train` command on its model card, then
measured with a fixed protocol and published with save_pretrained into the plugin's
pretrained/ folder, which ships in the wheel:

    python benchmarks/bundled.py                    # all eight
    python benchmarks/bundled.py dcgan-mnist        # one
    python benchmarks/bundled.py --rescore          # re-measure the published weights, rewrite only the cards

Image models: 1,000 samples (seed 0) scored by the bundled MNIST judge (ganzoo.metrics.DIGITS_PROTOCOL).
cyclegan-mnist-inverted: the held-out digits of benchmarks/cyclegan_mnist.py's protocol; pix2pix-mnist-thick: the
content metric of ganzoo.metrics.translation on the same held-out digits.
Figures measured under an earlier judge stay on the cards as history: the registered card's
metrics named *_previous_judge are carried into every rescore of the same weights (not into a retrained model's).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
RECIPES = {
    "dcgan-mnist": (
        "ganzoo_dcgan",
        "ganzoo train dcgan --data mnist-5k --image-size 32 --channels 1 -c ngf=64 -c ndf=32 "
        "-c lr=5e-4 -c r1=1 -c decay_start=0.5 --steps 10000 --ema 0.999 --precision bf16 --out runs/dcgan-mnist",
    ),
    "vanilla-mnist": (
        "ganzoo_vanilla",
        "ganzoo train vanilla --data mnist-5k --image-size 28 --channels 1 -c g_norm=batch "
        "-c 'g_hidden=[512,1024,2048]' -c decay_start=0.85 -c lr_d=1e-4 --batch-size 128 --steps 18000 "
        "--ema 0.999 --out runs/vanilla-mnist",
    ),
    "wgan-gp-mnist": (
        "ganzoo_wgan_gp",
        "ganzoo train wgan-gp --data mnist-5k --image-size 32 --channels 1 -c ngf=64 "
        "-c ndf=32 -c lr=2e-4 -c decay_start=0.6 --steps 7500 --ema 0.999 --out runs/wgan-gp-mnist",
    ),
    "cyclegan-mnist-inverted": (
        "ganzoo_cyclegan",
        "ganzoo train cyclegan --data mnist-5k-inverted --image-size 32 "
        "--channels 1 -c ngf=8 -c ndf=8 -c lambda_identity=0.5 --steps 1500 --batch-size 8 "
        "--out runs/cyclegan-mnist-inverted",
    ),
    "sngan-mnist": (
        "ganzoo_sngan",
        "ganzoo train sngan --data mnist-5k --image-size 32 --channels 1 -c num_classes=10 -c g_ch=32 "
        "-c d_ch=32 -c n_dis=1 -c lr=5e-4 -c g_batch_factor=1 -c decay_start=0.5 --batch-size 32 --steps 4000 "
        "--ema 0.999 --out runs/sngan-mnist",
    ),
    "stylegan2-mnist": (
        "ganzoo_stylegan2",
        "ganzoo train stylegan2 --data mnist-5k --image-size 32 --channels 1 -c channel_base=1024 "
        "-c channel_max=64 -c z_dim=128 -c w_dim=128 -c mapping_layers=2 -c pl_weight=0 -c style_mixing=0 "
        "-c augment=translation -c d_architecture=orig -c r1=1 -c output=tanh --batch-size 32 "
        "--ema 0.999 --steps 9000 --out runs/stylegan2-mnist",
    ),
    "biggan-mnist": (
        "ganzoo_biggan",
        "ganzoo train biggan --data mnist-5k --image-size 32 --channels 1 -c num_classes=10 -c g_ch=16 "
        "-c d_ch=16 -c n_dis=1 -c lr=2e-4 -c lr_d=2e-4 -c augment=translation -c loss=non-saturating "
        "-c mode_seeking=0.25 --batch-size 32 --steps 8000 --ema 0.999 --out runs/biggan-mnist",
    ),
    "pix2pix-mnist-thick": (
        "ganzoo_pix2pix",
        "ganzoo train pix2pix --data mnist-5k-thick-paired --image-size 32 --channels 1 "
        "-c ngf=16 -c ndf=16 --steps 1500 --batch-size 16 --out runs/pix2pix-mnist-thick",
    ),
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
    metrics["training_seconds"] = {
        "value": round(seconds, 1),
        "protocol": f"seconds in the engine's loop on a shared 2-core CPU, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}",
    }
    folder = REPO / "plugins" / package / "pretrained" / name  # new weights: an earlier judge's figures don't apply
    model.save_pretrained(folder, name=name, data=read_config(run)["data"], metrics=metrics, recipe=recipe)
    print(json.dumps({name: metrics}, indent=2), flush=True)
    return metrics


def rescore(name: str) -> dict:
    """Measure the published weights again (after a change of judge) and rewrite only their README.md."""
    import ganzoo
    from ganzoo.hub import CARD_FILE, generator_names, model_card, read_config

    package, recipe = RECIPES[name]
    folder = REPO / "plugins" / package / "pretrained" / name
    model = ganzoo.load(str(folder))
    card = folder / CARD_FILE
    seconds = re.search(r"^- \*\*training_seconds\*\*: ([0-9.]+) — protocol: (.+)$", card.read_text(), re.MULTILINE)
    metrics = measure(name, model)
    if seconds:  # training was not rerun: its time stays as measured
        metrics["training_seconds"] = {"value": float(seconds[1]), "protocol": seconds[2]}
    metrics.update(history(name))
    text = model_card(
        model,
        name=name,
        data=read_config(folder)["data"],
        metrics=metrics,
        recipe=recipe,
        license="mit",
        networks=generator_names(model),
    )
    tmp = card.with_name(f".{card.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, card)
    print(json.dumps({name: metrics}, indent=2), flush=True)
    return metrics


def history(name: str) -> dict:
    """The registered card's figures from an earlier judge (metrics named *_previous_judge), kept on every rewrite."""
    import ganzoo

    return {k: v for k, v in ganzoo.info(name).metrics.items() if k.endswith("_previous_judge")}


def _finished_step(run: Path) -> int | None:
    lines = (run / "metrics.jsonl").read_text().splitlines() if (run / "metrics.jsonl").exists() else []
    return json.loads(lines[-1])["step"] if lines else None


def measure(name: str, model, seed: int = 0) -> dict:
    """The card metrics of bundled model ``name`` (``model``), each with its protocol; ``seed``: the sampling seed
    (the cards' is 0; another seed is for screening, never for a card)."""
    if name == "cyclegan-mnist-inverted":
        sys.path.insert(0, str(REPO / "benchmarks"))
        from cyclegan_mnist import inversion_scores

        scores = inversion_scores(model)
        protocol = "500 held-out mnist-5k digits (never trained on); pixel units in [0, 1]"
        return {k: {"value": v, "protocol": protocol} for k, v in scores.items() if k != "holdout_images"}
    if name == "pix2pix-mnist-thick":
        from ganzoo.metrics.translation import HOLDOUT_PROTOCOL, translation_scores

        scores = translation_scores(model, "thick")
        return {
            k: {"value": v, "protocol": HOLDOUT_PROTOCOL}
            for k, v in scores.items()
            if k not in ("task", "holdout_images")
        }
    from ganzoo.metrics import DIGITS_PROTOCOL as protocol
    from ganzoo.metrics import REQUESTED_PROTOCOL
    from ganzoo.metrics.classifier import digit_scores, real_requested_reference, requested_digit_scores

    labels = torch.arange(1000) % 10 if model.num_classes else None  # conditional: 100 samples asked of each digit
    samples = model.sample(1000, seed=seed, **({} if labels is None else {"labels": labels}))
    scores = digit_scores(samples)
    metrics = {
        "recognisable": {"value": round(scores["recognisable"], 4), "protocol": protocol},
        "min_class_fraction": {"value": round(scores["min_class_fraction"], 4), "protocol": protocol},
    }
    if labels is not None:
        real = real_requested_reference()  # the held-out real digits' score under the same rule
        if f"{real:.1%}" not in REQUESTED_PROTOCOL:
            raise SystemExit(
                f"REQUESTED_PROTOCOL quotes another real score than the judge's {real:.1%}: update it first"
            )
        asked = requested_digit_scores(samples, labels)
        metrics["requested"] = {"value": round(asked["requested"], 4), "protocol": REQUESTED_PROTOCOL}
        metrics["min_requested"] = {
            "value": round(asked["min_requested"], 4),
            "protocol": REQUESTED_PROTOCOL + "; the worst digit",
        }
        metrics.update(diversity(samples, labels))
        share, worst = asked["requested"] / real, asked["min_requested"] / real
        verdict = "met" if share >= 0.95 and worst >= 0.85 else "NOT met"
        metrics["requested_share_of_real"] = {
            "value": round(share, 3),
            "protocol": (
                f"requested over the real held-out digits' {real:.1%}; worst digit {worst:.3f}. "
                f"The conditional bar, 0.95 overall and 0.85 for the worst digit, is {verdict}"
            ),
        }
    return metrics


def diversity(samples: torch.Tensor, labels: torch.Tensor) -> dict:
    """The conditional bar's diversity term: spread ratio (bar 0.9) and intra-class FD beside real-vs-real."""
    from ganzoo.metrics import REQUESTED_PROTOCOL
    from ganzoo.metrics.diversity import SPREAD_BAR, conditional_diversity, real_reference

    scores, real = conditional_diversity(samples, labels), real_reference()
    verdict = "met" if scores["spread_ratio"] >= SPREAD_BAR else "NOT met"
    protocol = (
        f"{REQUESTED_PROTOCOL}; judge features (128-d) of each digit's samples against mnist-5k's training "
        "digits of that digit (ganzoo.metrics.diversity)"
    )
    return {
        "spread_ratio": {
            "value": round(scores["spread_ratio"], 3),
            "protocol": f"{protocol}: RMS distance to the digit's mean over real digits', averaged over the digits; "
            f"worst digit {scores['spread_ratio_min']:.3f}; real held-out digits {real['spread_ratio']:.3f}. The "
            f"diversity bar, {SPREAD_BAR} averaged over the digits, is {verdict}",
        },
        "intra_fd": {
            "value": round(scores["intra_fd"], 1),
            "protocol": f"{protocol}: Frechet distance per digit (samples cut to the held-out count of the digit), "
            f"averaged over the digits; real-vs-real (the 500 held-out digits) {real['intra_fd']:.1f}",
        },
    }


if __name__ == "__main__":
    names = [a for a in sys.argv[1:] if a != "--rescore"] or list(RECIPES)
    action = rescore if "--rescore" in sys.argv[1:] else publish
    results = {name: action(name) for name in names}
    print(json.dumps(results, indent=2))
