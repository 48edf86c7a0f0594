"""The stacked-mnist data spec (three mnist-5k digits as R, G, B) and its 1,000-mode metric.

Real triples are the reference: at the protocol's 26,000 samples they cover all 1,000 modes with
KL 0.026 and 76% of samples assigned (the judge is sure of 91% of single digits, 0.91^3 = 0.76);
the tests score fewer samples to stay fast, and compare against what real triples give at the same count.
"""

from __future__ import annotations

import inspect
import json
import math

import pytest
import torch

from ganzoo.data import load_dataset
from ganzoo.data.mnist import load_mnist5k
from ganzoo.data.stacked_mnist import NUM_TRIPLES, stacked_indices
from ganzoo.metrics.classifier import digit_scores
from ganzoo.metrics.stacked import modes_if_independent, score_digits, stacked_mnist_modes
from ganzoo.plugins import get_state
from ganzoo.registry import resolve_ref

N = 1500  # samples scored per test case (num_scored), against the protocol's 26,000
REAL_MODES_AT_N = 685  # what the first 1,500 real triples score (KL 0.505, 76.6% assigned); with all
#                        1,500 assigned and uniform, 1000 * (1 - exp(-1.5)) = 777 modes could be expected


@pytest.fixture(scope="module")
def stacked():
    return load_dataset("stacked-mnist", image_size=32, channels=3)[0]


def test_the_spec_is_reproducible_and_its_channels_are_the_drawn_digits(stacked):
    again, _ = load_dataset("stacked-mnist", image_size=32, channels=3)
    assert len(stacked) == NUM_TRIPLES == 50_000 and stacked[0].shape == (3, 32, 32)
    assert torch.equal(stacked.indices, again.indices)
    assert torch.equal(stacked.batch(torch.arange(8)), again.batch(torch.arange(8)))
    assert stacked.indices[:2].tolist() == [[1044, 3239, 4933], [3760, 3963, 3379]]  # the same triples on every machine
    digits = load_mnist5k(None, image_size=32, channels=1)
    some = torch.tensor([0, 1, 4999, 31_337, 49_999])
    images = stacked.batch(some)  # (5, 3, 32, 32)
    for row, i in enumerate(some.tolist()):
        assert torch.equal(images[row], stacked[i])
        for channel in range(3):
            assert torch.equal(images[row, channel], digits.tensor[stacked.indices[i, channel], 0])
    assert torch.equal(stacked.digit_labels, digits.labels[stacked.indices])
    assert stacked.labels[0].item() == 269 and stacked.digit_labels[0].tolist() == [2, 6, 9]
    assert torch.equal(stacked.labels, stacked.digit_labels @ torch.tensor([100, 10, 1]))
    assert torch.bincount(stacked.labels, minlength=1000).min() >= 25  # every mode present, roughly evenly
    # the judge reads each channel as the digit it was drawn from
    channels = stacked.batch(torch.arange(200)).reshape(600, 1, 32, 32)
    fractions = torch.tensor(digit_scores(channels[stacked.digit_labels[:200].reshape(-1) == 7])["class_fractions"])
    assert fractions.argmax().item() == 7 and fractions[7] > 0.9


def test_the_spec_refuses_other_channel_counts_and_arguments():
    with pytest.raises(
        ValueError,
        match=r"^stacked-mnist images have 3 channels \(one digit each\), not 1: train with "
        r"--channels 3, or leave --channels out",
    ):
        load_dataset("stacked-mnist", image_size=32, channels=1)
    with pytest.raises(ValueError, match="takes no argument"):
        load_dataset("stacked-mnist:/data", channels=3)
    assert stacked_indices(4, seed=1).tolist() != stacked_indices(4).tolist()


def test_real_triples_cover_the_modes_and_a_partial_generator_does_not(stacked):
    real = stacked_mnist_modes(stacked.batch(torch.arange(N)), num_scored=N, per="drawn")
    assert abs(real["modes"] - REAL_MODES_AT_N) <= 10, real
    assert real["kl"] < 0.6 and 0.7 < real["assigned"] < 0.85 and real["num_modes"] == 1000, real
    assert 0.88 < real["channels_read"] < 0.95 and real["assigned"] <= real["channels_read"] ** 2, real  # 91% of digits
    # a generator that only ever draws a 0 in the red channel: 100 of the 1,000 modes
    red_zero = torch.nonzero(stacked.digit_labels[:, 0] == 0).flatten()[:N]
    partial = stacked_mnist_modes(stacked.batch(red_zero), num_scored=N, per="drawn")
    assert partial["modes"] <= 100 and partial["modes"] < real["modes"] / 5, partial
    assert partial["kl"] > math.log(10) - 0.1 and partial["kl"] > real["kl"] + 1.5, (
        partial
    )  # a tenth of the modes: log 10


def test_tied_channels_fall_short_of_what_their_digits_would_cover_if_independent(stacked):
    """Joint collapse with even digits per channel: every sample's three channels show one digit (R = G = B), so
    10 modes, while the same per-channel digit histograms drawn independently would cover about 745."""
    real = stacked_mnist_modes(stacked.batch(torch.arange(N)), num_scored=N, per="drawn")
    assert abs(real["modes_if_independent"] - real["modes"]) <= 15, (
        real
    )  # 678 against 685: real channels are independent
    tied = stacked_mnist_modes(stacked.batch(torch.arange(N))[:, :1].expand(N, 3, 32, 32), num_scored=N, per="drawn")
    assert tied["modes"] == 10 and tied["kl"] == pytest.approx(math.log(100), abs=0.05), tied
    assert tied["modes_if_independent"] > 650, (
        tied
    )  # 745: the shortfall says the channels are tied, not the digits rare
    assert modes_if_independent(torch.tensor([[2, 6, 9]] * 5)) == pytest.approx(1.0)
    assert modes_if_independent(torch.zeros(0, 3, dtype=torch.int64)) == 0.0


def test_one_repeated_triple_is_one_mode_and_noise_is_no_mode(stacked):
    collapsed = stacked[0].expand(300, 3, 32, 32)  # the judge is sure of all three digits of triple 0 (2, 6, 9)
    score = stacked_mnist_modes(collapsed, num_scored=300, per="drawn")
    assert score["modes"] == 1 and score["assigned"] == 1.0 and score["channels_read"] == 1.0
    assert score["kl"] == pytest.approx(math.log(1000), abs=1e-9)  # the largest KL to uniform over 1,000 modes
    noise = torch.rand(300, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    score = stacked_mnist_modes(noise, num_scored=300, per="drawn")
    assert score["assigned"] <= 0.01 and score["modes"] <= 3 and score["channels_read"] <= 0.05, score


def test_per_assigned_scores_as_many_assigned_samples_as_num_scored_and_skips_what_the_judge_rejects(stacked):
    """per="assigned" rests modes and KL on num_scored assigned samples, as the papers' classifier (which assigns
    every sample) does: more modes and a lower KL than the same count of draws; rejected draws only lower the
    assigned share, so blank images between the real ones change nothing else."""
    n = 500  # fewer than the other tests' N: this one reads about 3,000 samples
    real = stacked.batch(torch.arange(2 * n))  # (1000, 3, 32, 32)
    drawn = stacked_mnist_modes(real, num_scored=n, per="drawn")
    assigned = stacked_mnist_modes(real, num_scored=n, per="assigned")
    assert drawn["drawn"] == n and drawn["scored"] == round(drawn["assigned"] * n) < n, drawn
    assert assigned["scored"] == n and 600 < assigned["drawn"] < 710, assigned  # 76% of real triples are assigned
    assert abs(assigned["assigned"] - drawn["assigned"]) < 0.03, (assigned, drawn)
    assert assigned["modes"] > drawn["modes"] + 40 and assigned["kl"] < drawn["kl"] - 0.1, (assigned, drawn)
    assert abs(assigned["modes"] - 1000 * (1 - math.exp(-n / 1000))) < 20, assigned  # about what uniform draws cover
    blank = -torch.ones_like(real)  # the judge reads no digit on an empty canvas
    mixed = torch.stack([blank, real], dim=1).flatten(0, 1)  # (2000, 3, 32, 32): blank, real, blank, real, ...
    with_blanks = stacked_mnist_modes(mixed, num_scored=n, per="assigned")
    for key in ("modes", "kl", "modes_if_independent", "scored"):
        assert with_blanks[key] == assigned[key], key
    assert with_blanks["drawn"] == 2 * assigned["drawn"] and with_blanks["assigned"] == assigned["assigned"] / 2


def test_per_assigned_refuses_too_few_assigned_samples_and_says_how_many_to_draw(stacked):
    with pytest.raises(
        ValueError,
        match=r"^per='assigned' scores the first 100 samples assigned a mode, but only 7\d of "
        r"the 100 given were \(7\d\.0%\): draw about 14\d$",
    ):
        stacked_mnist_modes(stacked.batch(torch.arange(100)), num_scored=100, per="assigned")
    with pytest.raises(
        ValueError,
        match=r"only 0 of the 50 given were \(0\.0%\): the judge reads none of them as three "
        r"digits, so no number of draws will do",
    ):
        stacked_mnist_modes(-torch.ones(50, 3, 32, 32), num_scored=10, per="assigned")
    with pytest.raises(ValueError, match=r"per must be 'argmax' .*, 'drawn' .* or 'assigned' .*, got 'accepted'"):
        stacked_mnist_modes(stacked.batch(torch.arange(10)), num_scored=10, per="accepted")
    # by hand: rows 0 and 2 are assigned, row 1 has a channel the judge did not read
    digits = torch.tensor([[1, 2, 3], [-1, 0, 0], [4, 5, 6], [7, 8, 9]])
    two = score_digits(digits, num_scored=2, per="assigned")
    assert (two["modes"], two["scored"], two["drawn"]) == (2, 2, 3) and two["assigned"] == pytest.approx(2 / 3)
    assert two["kl"] == pytest.approx(math.log(500)) and two["channels_read"] == pytest.approx(8 / 9)
    assert score_digits(digits, num_scored=2)["scored"] == 1  # per drawn: the first two rows, one assigned


def test_the_headline_reading_is_the_papers_every_draw_counted_with_precision_beside(stacked):
    """per="argmax" (the default): each channel read as the most probable of the ten digits, every draw a mode.
    Real triples cover what uniform draws would; blank canvases are not skipped but counted (one mode, a high
    KL), and the precision axis (channels read confidently) says what the argmax alone cannot."""
    real = stacked_mnist_modes(stacked.batch(torch.arange(2 * N)), num_scored=2 * N)
    assert real["reading"] == "argmax" and real["scored"] == real["drawn"] == 2 * N, real
    assert abs(real["modes"] - 1000 * (1 - math.exp(-2 * N / 1000))) < 15 and real["kl"] < 0.25, real  # 950 uniform
    assert 0.88 < real["channels_read"] < 0.95 and 0.7 < real["assigned"] < 0.85, real  # real triples' precision
    first = stacked.batch(torch.arange(N))
    mixed = torch.stack([-torch.ones_like(first), first], dim=1).flatten(0, 1)  # (2N, ...): blank, real, blank, ...
    with_blanks = stacked_mnist_modes(mixed, num_scored=2 * N)
    assert with_blanks["modes"] < real["modes"] - 100 and with_blanks["kl"] > real["kl"] + 2, with_blanks
    assert with_blanks["channels_read"] == pytest.approx(real["channels_read"] / 2, abs=0.02), with_blanks
    noise = torch.rand(300, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    score = stacked_mnist_modes(noise, num_scored=300)
    assert score["scored"] == 300 and score["channels_read"] <= 0.05 and score["kl"] > 4, score


def test_blends_of_real_triples_lose_modes_and_fail_the_precision_axis(stacked):
    """A generator that blends two real triples pixel by pixel: the argmax reading still gives each channel a digit,
    so it keeps many modes; the precision axis rejects it (measured: 0.7/0.3 blends 604 modes, 8.6% of channels read;
    0.5/0.5 blends 391 modes, 3.7%; the real triples 779 modes, 91.5%)."""
    a, b = stacked.batch(torch.arange(N)), stacked.batch(torch.arange(N, 2 * N))  # (N, 3, 32, 32) each
    real = stacked_mnist_modes(a, num_scored=N)
    for weight, most_modes in ((0.7, 0.85), (0.5, 0.6)):
        blend = stacked_mnist_modes(weight * a + (1 - weight) * b, num_scored=N)
        assert blend["modes"] < most_modes * real["modes"] and blend["kl"] > real["kl"] + 0.3, (weight, blend)
        assert blend["channels_read"] < 0.15 and blend["assigned"] < 0.01, (weight, blend)  # real: 0.91 and 0.77


def test_the_metric_states_its_protocol_and_refuses_what_it_cannot_score(stacked):
    spec = get_state().metrics.get("stacked_mnist_modes")
    compute = resolve_ref(spec.compute)
    assert compute is stacked_mnist_modes and spec.data_kind == "image"
    defaults = {k: p.default for k, p in inspect.signature(compute).parameters.items() if p.kind is p.KEYWORD_ONLY}
    assert defaults["confidence"] == 0.9 and defaults["num_scored"] == 26_000  # evaluate() records these
    with pytest.raises(
        ValueError,
        match=r"^metric 'stacked_mnist_modes' scores 26,000 samples \(its protocol\), got "
        r"100: draw 26000 or more",
    ):
        stacked_mnist_modes(stacked.batch(torch.arange(100)))
    with pytest.raises(
        ValueError, match=r"needs 3-channel images \(N, 3, H, W\), got samples of shape \(4, 1, 32, 32\)"
    ):
        stacked_mnist_modes(torch.zeros(4, 1, 32, 32), num_scored=4)


def test_the_benchmark_merges_seeds_run_as_separate_processes(tmp_path):
    """benchmarks/stacked_mnist.py: a seed scored by another process of the same setting joins the table, a seed
    re-scored with --eval-only keeps its training time; one of another setting (here other steps) is replaced."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "stacked_bench", Path(__file__).resolve().parents[1] / "benchmarks" / "stacked_mnist.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    args = bench.parse_args(["--seeds", "1", "--steps", "50", "-c", "ngf=8", "--out", str(tmp_path)])
    folder = tmp_path / "dcgan-x"
    folder.mkdir()
    earlier = {
        "settings": {**{k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}, "seeds": [0, 1]},
        "results": [{"seed": 0, "modes": 7, "train_seconds": 10.0}, {"seed": 1, "modes": 8, "train_seconds": 20.0}],
    }
    (folder / "result.json").write_text(json.dumps(earlier))
    merged = bench.merge_earlier(
        folder, [{"seed": 1, "modes": 9, "train_seconds": None}, {"seed": 2, "modes": 5, "train_seconds": 30.0}], args
    )
    assert [(r["seed"], r["modes"], r["train_seconds"]) for r in merged] == [(0, 7, 10.0), (1, 9, 20.0), (2, 5, 30.0)]
    earlier["settings"]["steps"] = 60
    (folder / "result.json").write_text(json.dumps(earlier))
    assert [r["seed"] for r in bench.merge_earlier(folder, [{"seed": 2, "modes": 5, "train_seconds": 1.0}], args)] == [
        2
    ]


def test_the_benchmark_draws_chunks_until_enough_samples_are_assigned(tmp_path, monkeypatch, stacked):
    """benchmarks/stacked_mnist.py scores the first chunk under the papers' reading (the headline) and per drawn,
    and keeps drawing chunks (sampling seeds 0, 1, ...) until num_scored samples are read confidently (per
    assigned); a generator that gets too few within --max-draws is reported as failed, by seed, in the summary."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "stacked_bench", Path(__file__).resolve().parents[1] / "benchmarks" / "stacked_mnist.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    drawn_seeds = []

    class RealTriples:  # a "generator" whose chunk for sampling seed k is real triples k*n .. (k+1)*n - 1
        def sample(self, n, seed):
            drawn_seeds.append(seed)
            return stacked.batch(torch.arange(seed * n, (seed + 1) * n))

    monkeypatch.setattr(bench.ganzoo, "load", lambda run: RealTriples())
    args = ["--seeds", "0", "--eval-only", "--num-scored", "200", "--out", str(tmp_path), "--tag", "t"]
    assert bench.main(args) == 0
    record = json.loads((tmp_path / "dcgan-t" / "result.json").read_text())
    result = record["results"][0]
    assert drawn_seeds == [0, 1] and result["drawn"] == result["scored"] == 200  # every draw counted
    assert result == {**result, **stacked_mnist_modes(stacked.batch(torch.arange(200)), num_scored=200)}
    per_drawn = result["per_drawn"]
    assert per_drawn == stacked_mnist_modes(stacked.batch(torch.arange(200)), num_scored=200, per="drawn")
    assert per_drawn["drawn"] == 200 and per_drawn["scored"] < 200  # 76% of 200 read confidently
    at = result["per_assigned"]
    assert at == stacked_mnist_modes(stacked.batch(torch.arange(400)), num_scored=200, per="assigned"), at
    assert at["scored"] == 200 and 200 < at["drawn"] < 300 and record["summary"]["per_assigned_modes"] == at["modes"]
    assert "per_assigned: the first 200 samples assigned a mode" in record["protocol"]
    assert "argmax" in record["protocol"] and record["summary"]["reading"] == "argmax"
    assert record["summary"]["per_assigned_failed_seeds"] == [] and result["per_assigned_failed"] is None
    drawn_seeds.clear()
    assert bench.main([*args, "--max-draws", "200"]) == 0  # one chunk only: about 150 of 200 assigned, too few
    assert drawn_seeds == [0]
    record = json.loads((tmp_path / "dcgan-t" / "result.json").read_text())
    failed = record["results"][0]
    assert failed["per_assigned"] is None and failed["per_assigned_failed"].startswith("only 1")
    assert record["summary"]["per_assigned_modes"] is None and record["summary"]["per_assigned_failed_seeds"] == [0]
    assert record["summary"]["modes"] == result["modes"]  # the headline does not depend on the extra reading
