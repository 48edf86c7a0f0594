"""The bundled MNIST digit classifier: strict loading, held-out accuracy, digit scores."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file, save_file

from ganzoo.data.mnist import load_mnist5k, mnist5k_split
from ganzoo.metrics.classifier import (
    WEIGHTS_PATH,
    MnistClassifier,
    classifier_features,
    classifier_metadata,
    digit_scores,
    load_mnist_classifier,
)


@pytest.fixture(scope="module")
def classifier() -> MnistClassifier:
    return load_mnist_classifier()


@pytest.fixture(scope="module")
def held_out() -> tuple[torch.Tensor, torch.Tensor]:
    data = load_mnist5k(None, image_size=32, channels=1)
    index = torch.from_numpy(mnist5k_split()[1])
    return data.tensor[index], data.labels[index]  # (500, 1, 32, 32), (500,)


def test_bundled_weights_are_small_and_load_strictly(classifier):
    assert WEIGHTS_PATH.stat().st_size < 1_000_000
    assert not classifier.training
    state = load_file(str(WEIGHTS_PATH))
    assert state.keys() == classifier.state_dict().keys()
    meta = classifier_metadata()
    assert meta["seed"] == "0" and float(meta["heldout_accuracy"]) >= 0.95


def test_held_out_accuracy(classifier, held_out):
    x, y = held_out
    with torch.no_grad():
        accuracy = (classifier(x).argmax(dim=1) == y).double().mean().item()
    assert accuracy >= 0.95
    assert accuracy == pytest.approx(float(classifier_metadata()["heldout_accuracy"]), abs=1e-3)


def test_other_sizes_and_channels_are_accepted(classifier, held_out):
    x, _ = held_out
    x28 = torch.nn.functional.interpolate(x[:8], size=(28, 28), mode="bilinear", antialias=True)
    with torch.no_grad():
        assert classifier(x28).shape == (8, 10)
        assert torch.allclose(classifier(x[:8].expand(-1, 3, -1, -1)), classifier(x[:8]), atol=1e-4)
    assert classifier_features(x[:20]).shape == (20, 128)


def test_digit_scores_on_real_digits(held_out):
    x, _ = held_out
    scores = digit_scores(x)
    assert scores["num_samples"] == 500
    assert scores["recognisable"] >= 0.85
    assert len(scores["class_fractions"]) == 10 and sum(scores["class_fractions"]) == pytest.approx(1.0)
    assert scores["min_class_fraction"] >= 0.04


def test_digit_scores_on_noise():
    generator = torch.Generator().manual_seed(0)
    noise = torch.rand(500, 1, 32, 32, generator=generator) * 2 - 1
    assert digit_scores(noise)["recognisable"] < 0.3


def test_digit_scores_detect_a_missing_class(held_out):
    x, y = held_out
    scores = digit_scores(x[y != 3])
    assert scores["class_fractions"][3] < 0.01 and scores["min_class_fraction"] < 0.01


def test_missing_tensor_fails_to_load(tmp_path):
    state = load_file(str(WEIGHTS_PATH))
    del state["conv2.weight"]
    damaged = tmp_path / "damaged.safetensors"
    save_file(state, str(damaged))
    with pytest.raises(RuntimeError, match="conv2.weight"):
        load_mnist_classifier(weights=damaged)


def test_wrong_shape_fails_to_load(tmp_path):
    state = load_file(str(WEIGHTS_PATH))
    state["head.bias"] = torch.zeros(11)
    damaged = tmp_path / "damaged.safetensors"
    save_file(state, str(damaged))
    with pytest.raises(RuntimeError, match="head.bias"):
        load_mnist_classifier(weights=damaged)
