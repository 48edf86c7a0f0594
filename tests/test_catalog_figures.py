"""Every figure a bundled card publishes is recomputed here from the bundled weights, under its protocol.

The digit models' recognisable and min_class_fraction are in tests/test_catalog.py; this file covers the
translation models' content metrics and the conditional model's requested share of the real digits' score.
"""

import pytest
import torch

import ganzoo
from ganzoo.metrics.translation import translation_scores

from .test_catalog import CONDITIONAL

# card metric -> the key of ganzoo.metrics.translation.translation_scores it publishes
TRANSLATION_CARDS = {
    "pix2pix-mnist-thick": (
        "thick",
        {
            "a2b_mae": "a2b_mae",
            "a2b_label_kept": "a2b_label_kept",
            "true_target_label_kept": "true_target_label_kept",
            "identity_mae": "identity_mae",
        },
    ),
    "cyclegan-mnist-inverted": (
        "inverted",
        {"a2b_mae": "a2b_mae", "b2a_label_accuracy": "b2a_label_kept", "cycle_mae": "cycle_mae"},
    ),
}


@pytest.mark.parametrize("name", sorted(TRANSLATION_CARDS))
def test_translation_cards_are_reproduced(name):
    task, keys = TRANSLATION_CARDS[name]
    card, scores = ganzoo.info(name), translation_scores(ganzoo.load(name), task)
    assert scores["holdout_images"] == 500
    published = {k: v for k, v in card.metrics.items() if not k.endswith("_previous_judge")}
    assert set(published) == set(keys), f"{name} publishes {sorted(published)}; recompute every one here"
    for metric, key in keys.items():
        # deterministic (no sampling): only float reordering across CPUs moves the fourth decimal
        assert scores[key] == pytest.approx(published[metric]["value"], abs=0.002), (metric, scores[key])


@pytest.mark.parametrize("name", CONDITIONAL)
def test_the_conditional_cards_share_of_the_real_score_is_reproduced(name):
    from ganzoo.metrics.classifier import digit_scores, real_requested_reference, requested_digit_scores

    card, model = ganzoo.info(name), ganzoo.load(name)
    labels = torch.arange(1000) % 10
    samples = model.sample(1000, seed=0, labels=labels)
    asked, real = requested_digit_scores(samples, labels), real_requested_reference()
    assert asked["requested"] / real == pytest.approx(card.metrics["requested_share_of_real"]["value"], abs=0.012)
    assert f"worst digit {asked['min_requested'] / real:.3f}" in card.metrics["requested_share_of_real"]["protocol"]
    assert f"{real:.1%}" in card.metrics["requested_share_of_real"]["protocol"]
    scores = digit_scores(samples)
    assert scores["min_class_fraction"] == pytest.approx(card.metrics["min_class_fraction"]["value"], abs=0.005)
