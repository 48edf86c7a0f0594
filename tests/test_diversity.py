"""Variety within each class (ganzoo.metrics.diversity): real digits pass, one prototype per class and a few
prototypes per class fail, and the bundled conditional model is scored with the bar shown as it stands."""

from pathlib import Path

import pytest
import torch

import ganzoo
from ganzoo.data.mnist import load_mnist5k, mnist5k_split
from ganzoo.metrics import DIVERSITY_PROTOCOL
from ganzoo.metrics.diversity import SPREAD_BAR, class_diversity, conditional_diversity, real_reference

from .test_catalog import CONDITIONAL


@pytest.fixture(scope="module")
def held():
    data = load_mnist5k(None, image_size=32, channels=1)
    rows = torch.from_numpy(mnist5k_split()[1])
    return data.tensor[rows], data.labels[rows]


def test_real_digits_are_as_varied_as_real_digits(held):
    real = real_reference()
    assert real["spread_ratio"] >= SPREAD_BAR and 0.95 < real["spread_ratio"] < 1.05, real
    assert f"real held-out digits {real['spread_ratio']:.3f}" in DIVERSITY_PROTOCOL  # what every card quotes
    images, labels = held
    scored = conditional_diversity(images, labels)  # the held-out digits as if drawn: the same reading
    assert scored["spread_ratio"] == pytest.approx(real["spread_ratio"]) and scored["intra_fd"] == pytest.approx(
        real["intra_fd"]
    ), scored
    assert scored["real_intra_fd_reference"] == pytest.approx(real["intra_fd"])


def test_prototypes_fail_the_spread_bar(held):
    images, labels = held
    one = torch.stack([images[labels == c][0] for c in range(10)])  # (10, 1, 32, 32): one real digit per class
    proto_labels = torch.arange(10).repeat_interleave(20)
    prototypes = one[proto_labels]  # 20 copies of each: every digit drawn right, no variety
    score = conditional_diversity(prototypes, proto_labels)
    assert (
        score["spread_ratio"] == pytest.approx(0.0, abs=1e-6) and score["intra_fd"] > 5 * real_reference()["intra_fd"]
    )
    few = torch.cat([images[labels == c][:3] for c in range(10)])  # three real digits per class, repeated
    few_labels = torch.arange(10).repeat_interleave(3)
    score = conditional_diversity(few.repeat(7, 1, 1, 1), few_labels.repeat(7))
    assert score["spread_ratio"] < SPREAD_BAR, score


def test_the_metric_refuses_what_it_cannot_score(held):
    images, labels = held
    with pytest.raises(ValueError, match="takes no labels"):
        class_diversity(images)
    with pytest.raises(ValueError, match=r"grayscale digits \(N, 1, H, W\)"):
        class_diversity(images.expand(-1, 3, -1, -1), sample_labels=labels)
    with pytest.raises(ValueError, match="at least 2 samples"):
        conditional_diversity(images[:3], torch.tensor([0, 1, 2]))


# the bundled conditional models whose diversity bar is not met, with what their cards publish
NOT_AS_VARIED = {
    "sngan-mnist": "sngan-mnist's digits are less varied than real ones: judge-feature spread "
    "74% of real digits' (bar 90%), intra-FD 109 against real-vs-real 38",
}


@pytest.fixture(scope="module")
def conditional_scores():
    labels = torch.arange(1000) % 10  # 100 samples asked of each digit, as the requested-digit bar draws them
    return {
        name: conditional_diversity(ganzoo.load(name).sample(1000, seed=0, labels=labels), labels)
        for name in CONDITIONAL
    }


@pytest.mark.parametrize("name", CONDITIONAL)
def test_the_bundled_conditional_models_published_diversity_reproduces(name, conditional_scores):
    score, card = conditional_scores[name], ganzoo.info(name).metrics  # the card's figures, quoted by the docs
    assert score["spread_ratio"] == pytest.approx(card["spread_ratio"]["value"], abs=0.01), score
    assert score["intra_fd"] == pytest.approx(card["intra_fd"]["value"], abs=3), score
    verdict = "met" if card["spread_ratio"]["value"] >= SPREAD_BAR else "NOT met"
    assert card["spread_ratio"]["protocol"].endswith(f"is {verdict}")


def test_the_readme_quotes_the_conditional_cards():
    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())
    for name in ("biggan-mnist", "sngan-mnist"):
        card = ganzoo.info(name).metrics
        assert f"spread within a digit is {card['spread_ratio']['value']:.0%} of real digits'" in readme, name
        assert f"{card['requested']['value']:.1%}" in readme, name
    assert f"its worst digit {ganzoo.info('biggan-mnist').metrics['min_requested']['value']:.0%}" in readme


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=NOT_AS_VARIED[n])) if n in NOT_AS_VARIED else n
        for n in CONDITIONAL
    ],
)
def test_the_bundled_conditional_models_are_as_varied_as_real_digits(name, conditional_scores):
    assert conditional_scores[name]["spread_ratio"] >= SPREAD_BAR, conditional_scores[name]


def test_card_verdicts_are_read_from_the_values():
    from ganzoo.metrics import conditional_card_metrics

    base = dict(requested=0.9, min_requested=0.8, recognisable=0.9, min_class_fraction=0.09, intra_fd=50.0)
    card = conditional_card_metrics(**base, spread_ratio=0.9, spread_worst=0.8, share=0.95, worst_share=0.85)
    assert card["spread_ratio"]["protocol"].endswith("is met")
    assert card["requested_share_of_real"]["protocol"].endswith("is met")
    card = conditional_card_metrics(**base, spread_ratio=0.899, spread_worst=0.8, share=1.1, worst_share=0.849)
    assert card["spread_ratio"]["protocol"].endswith("is NOT met")
    assert card["requested_share_of_real"]["protocol"].endswith("is NOT met")
    assert "worst digit 0.849" in card["requested_share_of_real"]["protocol"]
