"""Class labels of a conditional model: indices of any integer type, names matched case-insensitively with
"did you mean", and nothing rounded silently."""

import numpy as np
import pytest
import torch

import ganzoo


@pytest.fixture(scope="module")
def named():
    model = ganzoo.create("sngan", image_size=32, channels=1, num_classes=3, g_ch=8, d_ch=8)
    model.classes = ["golden retriever", "tabby cat", "zebra"]
    return model


def test_names_match_case_insensitively_and_integers_of_any_type_are_indices(named):
    assert named._labels(2, "Golden Retriever", None).tolist() == [0, 0]
    assert named._labels(2, ["ZEBRA", "tabby cat"], None).tolist() == [2, 1]
    assert named._labels(2, np.int64(1), None).tolist() == [1, 1]
    assert named._labels(2, torch.tensor([2, 0]), None).tolist() == [2, 0]
    same = named.sample(2, seed=0, labels="zebra")
    assert torch.equal(same, named.sample(2, seed=0, labels=2))


def test_a_misspelt_name_gets_suggestions(named):
    with pytest.raises(ValueError, match=r"no class named 'golden retreiver'; did you mean 'golden retriever'\?"):
        named.sample(1, labels="golden retreiver")


@pytest.mark.parametrize("bad", [[1.9, 0.2], 1.0, True, [True, False], None.__class__])
def test_floats_and_bools_are_refused_not_rounded(named, bad):
    with pytest.raises(ValueError, match=r"class indices 0\.\.2 or class names"):
        named.sample(2, labels=bad)
