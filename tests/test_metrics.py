"""Metrics: Fréchet distance, KID, precision/recall (torch-fidelity's) against independent computations; feature
extractors loaded from local files and caches (never downloaded); evaluate() end to end."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

import ganzoo
from ganzoo import plugins
from ganzoo.metrics.features import WeightsNotCachedError, canonical_spec, load_extractor, to_uint8
from ganzoo.metrics.fidelity import FewSamplesWarning, fid_from_stats, kid, precision_recall, stats
from ganzoo.metrics.inception import InceptionWeightsError
from ganzoo.registry import UnknownNameError


@pytest.fixture
def metrics_registered():
    """The core plugin registers the built-in metrics, attributed to it."""
    metrics = plugins.get_state().metrics
    assert {"fid", "kid", "precision_recall", "mnist_digits", "modes"} <= set(metrics.names())
    assert metrics.get("fid").plugin == "ganzoo" and metrics.get("modes").data_kind == "points"


# ---- Fréchet distance (torch-fidelity's formula, checked independently) ---------------------------


def _random_gaussian(rng: np.random.Generator, d: int) -> tuple[np.ndarray, np.ndarray]:
    a = rng.normal(size=(d, d))
    return rng.normal(size=d), a @ a.T + 0.1 * np.eye(d)


def test_frechet_matches_scipy_sqrtm():
    rng = np.random.default_rng(0)
    (mu1, s1), (mu2, s2) = _random_gaussian(rng, 8), _random_gaussian(rng, 8)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    expected = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
    assert fid_from_stats({"mu": mu1, "sigma": s1}, {"mu": mu2, "sigma": s2}) == pytest.approx(expected, rel=1e-9)


def test_frechet_closed_form_for_diagonal_covariances_and_mixed_precision():
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    v1, v2 = rng.uniform(0.1, 3, size=6), rng.uniform(0.1, 3, size=6)
    expected = ((mu1 - mu2) ** 2).sum() + (v1 + v2 - 2 * np.sqrt(v1 * v2)).sum()
    fake = {"mu": mu1.astype(np.float32), "sigma": np.diag(v1)}  # what fidelity.stats gives: float32 mean
    assert fid_from_stats(fake, {"mu": mu2, "sigma": np.diag(v2)}) == pytest.approx(expected, rel=1e-6)


def test_frechet_is_zero_for_a_set_against_itself_and_grows_with_a_shift():
    f = torch.randn(400, 8, generator=torch.Generator().manual_seed(0))
    assert fid_from_stats(stats(f), stats(f)) == pytest.approx(0.0, abs=1e-6)
    values = [fid_from_stats(stats(f), stats(f + shift)) for shift in (0.1, 0.5, 1.0, 2.0)]
    assert values == sorted(values)
    assert values[-1] == pytest.approx(8 * 2.0**2, rel=1e-4)  # same covariance: only |mu1 - mu2|^2 is left


def test_frechet_rejects_bad_input_and_warns_on_few_samples():
    with pytest.raises(ValueError, match="at least 2 samples"):
        stats(torch.ones(1, 4))
    with pytest.raises(ValueError, match="NaN or Inf"):
        stats(torch.tensor([[float("nan"), 0.0], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="different dimensions: 2 and 3"):
        fid_from_stats({"mu": np.zeros(2), "sigma": np.eye(2)}, {"mu": np.zeros(3), "sigma": np.eye(3)})
    with pytest.warns(FewSamplesWarning, match="FID from 5 samples of 32-d features"):
        stats(torch.randn(5, 32))


# ---- KID --------------------------------------------------------------------------------------------


def _mmd2_numpy(x: np.ndarray, y: np.ndarray) -> float:
    """Independent unbiased MMD^2 with k(a, b) = (a.b/d + 1)^3, written out with explicit loops."""
    d = x.shape[1]
    k = lambda a, b: (a @ b / d + 1.0) ** 3  # noqa: E731
    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_kid_single_full_subset_matches_numpy_estimator():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(30, 5)), rng.normal(size=(30, 5)) * 1.3 + 0.2
    got = kid(torch.tensor(x), torch.tensor(y), subsets=1, subset_size=30)
    assert got["kid_mean"] == pytest.approx(_mmd2_numpy(x, y), rel=1e-10)
    assert got["kid_std"] == 0.0


def test_kid_averages_subsets_and_separates_distributions():
    rng = np.random.default_rng(4)
    x, y = torch.tensor(rng.normal(size=(200, 6))), torch.tensor(rng.normal(size=(200, 6)))
    same = kid(x, y, subsets=20, subset_size=50, seed=1)
    shifted = kid(x, y + 1.0, subsets=20, subset_size=50, seed=1)
    assert abs(same["kid_mean"]) < shifted["kid_mean"] and same["kid_std"] > 0
    assert same == kid(x, y, subsets=20, subset_size=50, seed=1)  # seeded


def test_kid_subset_larger_than_samples_is_an_error():
    with pytest.raises(ValueError, match="subset_size 100 is larger than the 50 generated samples"):
        kid(torch.zeros(50, 3), torch.zeros(500, 3), subset_size=100)


# ---- precision / recall ---------------------------------------------------------------------------


def test_precision_recall_identical_and_disjoint_sets():
    f = torch.randn(100, 4, generator=torch.Generator().manual_seed(0))
    assert precision_recall(f, f)["precision"] == 1.0 and precision_recall(f, f)["recall"] == 1.0
    far = precision_recall(f + 1000.0, f)
    assert far["precision"] == 0.0 and far["recall"] == 0.0


def test_precision_recall_known_subset_case():
    # Real points 0..9 on a line: with k=1 every real ball has radius 1. Generated: 0, 1, 2, 3, 4.4
    # (inside the real manifold) and five far points: precision 5/10. Generated ball radii: 1, 1,
    # 1, 1, 1.4 near the reals, so reals 0..5 are covered (5 is 0.6 from 4.4), 6..9 are not: recall 6/10.
    line = lambda xs: torch.tensor([[float(v), 0.0] for v in xs])  # noqa: E731
    real = line(range(10))
    fake = line([0, 1, 2, 3, 4.4, 100, 110, 120, 130, 140])
    got = precision_recall(fake, real, k=1)
    assert got["precision"] == pytest.approx(0.5) and got["recall"] == pytest.approx(0.6)


def test_precision_recall_needs_more_than_k_points():
    with pytest.raises(ValueError, match="more than 3 generated samples"):
        precision_recall(torch.zeros(3, 2), torch.randn(10, 2))


# ---- feature extractors ----------------------------------------------------------------------------


def _save_test_resnet(path) -> torch.nn.Module:
    import timm
    from safetensors.torch import save_file

    torch.manual_seed(0)
    net = timm.create_model("test_resnet", pretrained=False, num_classes=0).eval()
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    return net


def test_timm_extractor_from_local_file_matches_in_memory_model(tmp_path):
    path = tmp_path / "weights.safetensors"
    net = _save_test_resnet(path)
    extractor = load_extractor(f"timm:test_resnet@{path}")
    assert extractor.spec == f"timm:test_resnet.r160_in1k@{path}" and extractor.dim == net.num_features
    gray = torch.rand(4, 1, 160, 160, generator=torch.Generator().manual_seed(1)) * 2 - 1  # (4, 1, 160, 160)
    with torch.no_grad():
        seen = to_uint8(gray).float() / 127.5 - 1  # (4, 3, 160, 160): 8-bit, as a PNG of the samples holds them
        expected = net(seen)  # test_resnet normalises with mean = std = 0.5: [-1, 1] stays
    assert torch.allclose(extractor(gray, batch_size=3), expected, atol=1e-5)


def test_timm_extractor_from_the_hub_cache(tmp_path, monkeypatch):
    snapshot = tmp_path / "hub" / "models--timm--test_resnet.r160_in1k" / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    (tmp_path / "hub" / "models--timm--test_resnet.r160_in1k" / "refs").mkdir()
    (tmp_path / "hub" / "models--timm--test_resnet.r160_in1k" / "refs" / "main").write_text("a" * 40)
    net = _save_test_resnet(snapshot / "model.safetensors")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    x = torch.rand(2, 3, 160, 160) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(load_extractor("timm:test_resnet")(x), net(to_uint8(x).float() / 127.5 - 1), atol=1e-5)


def test_uncached_weights_are_never_downloaded(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch"))
    with pytest.raises(WeightsNotCachedError, match="not cached") as info:
        load_extractor("timm:inception_v3.tf_in1k")
    assert "timm:inception_v3.tf_in1k@/path/to/model.safetensors" in str(info.value)
    with pytest.raises(InceptionWeightsError, match="not cached and offline mode is on"):
        load_extractor("inception")  # the FID Inception: see tests/test_fidelity.py


def test_extractor_spec_errors(tmp_path):
    assert canonical_spec("inception") == "inception-v3-compat"
    with pytest.raises(ValueError, match="did you mean 'inception_v3'"):
        canonical_spec("timm:inceptoin_v3")
    with pytest.raises(ValueError, match="unknown feature extractor"):
        canonical_spec("vgg")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_extractor(f"timm:test_resnet@{tmp_path / 'missing.safetensors'}")
    path = tmp_path / "resnet.safetensors"
    _save_test_resnet(path)
    with pytest.raises(ValueError, match="another model"):  # a test_resnet file offered as test_convnext
        load_extractor(f"timm:test_convnext@{path}")


# ---- evaluate ---------------------------------------------------------------------------------------


def test_evaluate_mnist_classifier_features(metrics_registered, tmp_path):
    from ganzoo.evaluate import evaluate, format_table, write_results

    model = ganzoo.create("dcgan", image_size=32, channels=1)
    result = evaluate(
        model,
        "mnist-5k",
        ["fid", "kid", "precision_recall", "mnist_digits"],
        num_samples=120,
        num_reference=300,
        features="mnist-classifier",
        options={"kid": {"subset_size": 100, "n_subsets": 5}},
    )
    assert result["model"] == "dcgan" and result["data"] == "mnist-5k"
    metrics = result["metrics"]
    assert set(metrics) == {"fid", "kid", "precision_recall", "mnist_digits"}
    assert set(metrics["kid"]["values"]) == {"kid_mean", "kid_std"}
    assert list(metrics["mnist_digits"]["values"]) == [
        "mnist_fd",
        "recognisable",
        "min_class_fraction",
        "classes_covered",
        "rejected",
    ]
    for entry in metrics.values():
        p = entry["protocol"]
        assert entry["value"] == next(iter(entry["values"].values()))
        assert p["num_samples"] == 120 and p["seed"] == 0 and p["protocol"] == "custom"
        assert {k: p["reference"][k] for k in ("spec", "size", "of")} == {"spec": "mnist-5k", "size": 300, "of": 5000}
        assert p["reference"]["features_from"].startswith(("computed", "cache"))
        assert p["features"] == "mnist-classifier" and len(p["features_sha256"]) == 16
    assert metrics["kid"]["protocol"]["options"] == {"n_subsets": 5, "subset_size": 100}
    assert metrics["precision_recall"]["protocol"]["options"] == {"k": 3}
    assert metrics["fid"]["value"] > 0 and 0 <= metrics["precision_recall"]["values"]["recall"] <= 1
    path = write_results(result, tmp_path / "out" / "eval.json")
    import json

    assert json.loads(path.read_text()) == result
    table = format_table(result)
    assert "kid.kid_mean" in table and "mnist-5k (300)" in table


def test_evaluate_modes_on_ring8(metrics_registered):
    from ganzoo.evaluate import evaluate

    result = evaluate(ganzoo.create("wgan-gp", dim=2), "ring8", ["modes"])
    entry = result["metrics"]["modes"]
    assert entry["protocol"]["num_samples"] == 2500 and entry["protocol"]["features"] is None
    assert entry["values"]["num_modes"] == 8 and 0 <= entry["values"]["modes"] <= 8
    assert entry["protocol"]["options"] == {"hq_sigmas": 3.0}


def test_evaluate_errors(metrics_registered):
    from ganzoo.evaluate import evaluate

    points, images = ganzoo.create("wgan-gp", dim=2), ganzoo.create("dcgan", image_size=32, channels=1)
    with pytest.raises(UnknownNameError, match="did you mean 'fid'"):
        evaluate(points, "ring8", ["fdi"])
    with pytest.raises(ValueError, match="metric 'fid' needs image data, but 'ring8' gives points data"):
        evaluate(points, "ring8", ["fid"])
    with pytest.raises(ValueError, match="kid needs at least 1000 generated samples \\(subset_size 1000\\), got 50"):
        evaluate(images, "mnist-5k", ["kid"], num_samples=50, features="mnist-classifier")
    with pytest.raises(ValueError, match="has no option 'kk'"):
        evaluate(images, "mnist-5k", ["precision_recall"], options={"precision_recall": {"kk": 5}})
    with pytest.raises(ValueError, match="num_samples must be a positive integer"):
        evaluate(points, "ring8", ["modes"], num_samples=0)
    with pytest.raises(ValueError, match="unknown feature extractor 'vgg'"):
        evaluate(images, "mnist-5k", ["fid"], features="vgg")
    with pytest.raises(ValueError, match="generates images, but 'ring8' is points data"):
        evaluate(images, "ring8", ["modes"])
