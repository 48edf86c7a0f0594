"""DCGAN really learns: a short CPU run on mnist-5k draws digits that the bundled classifier recognises.

A smoke test of the whole pipeline the DCGAN benchmark (benchmarks/dcgan_mnist.py) uses: train
through ``ganzoo.train``, reload the generator from the run's checkpoint, sample in eval mode, score
with ``digit_scores``. The untrained generator scores 0% recognisable; 1,500 steps of a narrow DCGAN
score about 3 times the threshold below, with all ten digits at >= 2.6% of the samples (one torch
thread, torch 2.14.1; at 1,000 steps it was 1.6 times, and only 7 digits cleared 2%: too close to call
across installs), so a broken loss, optimizer, data pipeline, checkpoint or sampling path fails
it. About 1.5 minutes on one CPU core.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import ganzoo
from ganzoo.engine.checkpoint import list_checkpoints, load_module, read_checkpoint
from ganzoo.metrics.classifier import digit_scores, relative_bar

CONFIG = dict(image_size=32, channels=1, ngf=32, ndf=16, lr=5e-4)  # narrow nets, faster lr: learns quickly
STEPS = 1500
SAMPLES = 500
MIN_RECOGNISABLE = 0.10  # of the real digits' score (relative_bar); untrained: 0.0; see docs/benchmarks.md
MIN_CLASSES = 8  # digits with >= 2% of the samples: learning covers most classes, collapse does not


def load_generator(run: Path) -> ganzoo.GanModel:
    """The trained generator from the run's latest checkpoint."""
    config = json.loads((run / "config.json").read_text())["config"]
    tensors, _ = read_checkpoint(list_checkpoints(run / "checkpoints")[-1])
    model = ganzoo.create("dcgan", **config)
    load_module("net.G", model.nets["G"], tensors)
    return model


def test_untrained_generator_draws_no_digits():
    torch.manual_seed(0)
    scores = digit_scores(ganzoo.create("dcgan", **CONFIG).sample(SAMPLES, seed=1))
    assert scores["recognisable"] < 0.02


@pytest.mark.slow
def test_short_dcgan_run_draws_recognisable_digits(tmp_path):
    run = ganzoo.train(
        "dcgan",
        "mnist-5k",
        steps=STEPS,
        out=tmp_path / "run",
        device="cpu",
        batch_size=64,
        seed=0,
        progress="off",
        sample_every=0,
        checkpoint_every=0,
        **CONFIG,
    )
    scores = digit_scores(load_generator(Path(run)).sample(SAMPLES, seed=1))
    classes = sum(f >= 0.02 for f in scores["class_fractions"])
    assert scores["recognisable"] >= relative_bar(MIN_RECOGNISABLE), scores
    assert classes >= MIN_CLASSES, scores
