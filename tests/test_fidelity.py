"""FID/KID/IS/PR through torch-fidelity, density/coverage, protocols, reference caches, statistics files,
Inception weights, and `ganzoo eval` of an image folder.

Nothing can be downloaded here, so the Inception weights are a file of random weights in the
published layout, made by the test: the numbers mean nothing, but ganzoo's and torch-fidelity's
must be equal on it, which is what ties ganzoo's FID to the field's.
"""

from __future__ import annotations

import json
import math
from unittest import mock

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from ganzoo.cli import cli
from ganzoo.evaluate import evaluate
from ganzoo.metrics import fidelity
from ganzoo.metrics.inception import InceptionWeightsError, load_inception
from ganzoo.metrics.reference import StatsFileError

N = 16  # images per set in the Inception comparisons: one Inception pass costs ~0.7 s per image per thread here


def _random_inception_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """The FID Inception's tensors, He-initialised so activations stay O(1) through the 94 layers."""
    import torch_fidelity.feature_extractor_inceptionv3 as fx

    with (
        mock.patch.object(fx, "load_state_dict_from_url", lambda *a, **k: None),
        mock.patch.object(torch.nn.Module, "load_state_dict", lambda self, *a, **k: None),
    ):
        skeleton = fx.FeatureExtractorInceptionV3("skeleton", ["2048"])
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, value in skeleton.state_dict().items():
        if key.endswith("conv.weight"):
            value = torch.randn(value.shape, generator=g) * math.sqrt(2.0 / value[0].numel())
        elif key == "fc.weight":
            value = torch.randn(value.shape, generator=g) / math.sqrt(value.shape[1])
        state[key] = value.clone().contiguous()
    return state


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """(safetensors path, pth path) of one random Inception."""
    from safetensors.torch import save_file

    folder = tmp_path_factory.mktemp("inception")
    state = _random_inception_state()
    save_file(state, str(folder / "inception.safetensors"))
    torch.save(state, folder / "inception.pth")
    return folder / "inception.safetensors", folder / "inception.pth"


def _image_folder(path, n: int, seed: int, *, channels: int = 3, size: int = 32, shift: float = 0.0):
    """n smooth random images (PNG) in path; shift moves their mean brightness."""
    path.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(n, channels, 4, 4, generator=g)  # (n, C, 4, 4) coarse structure
    images = torch.nn.functional.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)
    images = ((images * 0.8 + shift).clamp(0, 1) * 255).round().to(torch.uint8)  # (n, C, size, size)
    for i, image in enumerate(images):
        array = image[0].numpy() if channels == 1 else image.permute(1, 2, 0).numpy()
        Image.fromarray(array).save(path / f"{i:05d}.png")
    return path


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("sets")
    return _image_folder(root / "generated", N, seed=1, shift=0.1), _image_folder(root / "real", N, seed=2)


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))


# ---- one code path with torch-fidelity ----------------------------------------------------------------


def test_fid_kid_is_precision_recall_equal_torch_fidelity(weights, folders):
    import torch_fidelity

    safetensors_file, pth_file = weights
    generated, real = folders
    theirs = torch_fidelity.calculate_metrics(
        input1=str(generated),
        input2=str(real),
        cuda=False,
        fid=True,
        kid=True,
        isc=True,
        prc=True,
        feature_extractor="inception-v3-compat",
        feature_layer_prc="2048",  # its PR default is VGG-16
        feature_extractor_weights_path=str(pth_file),
        kid_subset_size=8,
        isc_splits=2,
        rng_seed=0,
        verbose=False,
        cache=False,
        save_cpu_ram=True,
    )
    ours = evaluate(
        str(generated),
        str(real),
        ["fid", "kid", "is", "precision_recall"],
        features="inception",
        inception_weights=safetensors_file,
        options={"kid": {"subset_size": 8}, "is": {"splits": 2}},
        device="cpu",
    )["metrics"]
    pairs = {
        "frechet_inception_distance": ours["fid"]["values"]["fid"],
        "kernel_inception_distance_mean": ours["kid"]["values"]["kid_mean"],
        "kernel_inception_distance_std": ours["kid"]["values"]["kid_std"],
        "inception_score_mean": ours["is"]["values"]["is_mean"],
        "inception_score_std": ours["is"]["values"]["is_std"],
        "precision": ours["precision_recall"]["values"]["precision"],
        "recall": ours["precision_recall"]["values"]["recall"],
    }
    for key, value in pairs.items():
        assert value == pytest.approx(theirs[key], rel=1e-4, abs=1e-9), key
    assert ours["fid"]["value"] > 0 and ours["is"]["value"] > 1.0  # the random network still tells the sets apart
    p = ours["fid"]["protocol"]
    assert p["features"] == "inception-v3-compat" and p["num_samples"] == N and p["reference"]["size"] == N
    assert ours["fid"]["warnings"] and "singular" in ours["fid"]["warnings"][0]  # 16 samples of 2048-d features


def test_mnist_judge_is_a_torch_fidelity_extractor(tmp_path):
    """calculate_metrics(feature_extractor="ganzoo-mnist-classifier") computes what ganzoo computes."""
    import torch_fidelity

    from ganzoo.metrics.features import register_with_torch_fidelity

    register_with_torch_fidelity()
    generated = _image_folder(tmp_path / "g", 60, seed=3, channels=1)
    real = _image_folder(tmp_path / "r", 60, seed=4, channels=1, shift=0.15)
    theirs = torch_fidelity.calculate_metrics(
        input1=str(generated),
        input2=str(real),
        cuda=False,
        fid=True,
        kid=True,
        prc=True,
        feature_extractor="ganzoo-mnist-classifier",
        feature_layer_fid="features",
        feature_layer_kid="features",
        feature_layer_prc="features",
        kid_subset_size=30,
        rng_seed=5,
        verbose=False,
        cache=False,
        save_cpu_ram=True,
    )
    ours = evaluate(
        str(generated),
        str(real),
        ["fid", "kid", "precision_recall"],
        features="mnist-classifier",
        seed=5,
        options={"kid": {"subset_size": 30}},
    )["metrics"]
    assert ours["fid"]["value"] == pytest.approx(theirs["frechet_inception_distance"], rel=1e-4)
    assert ours["kid"]["value"] == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-4)
    assert ours["precision_recall"]["values"]["recall"] == pytest.approx(theirs["recall"], rel=1e-4)
    assert ours["fid"]["value"] > 1e-3


def _brute_force(fake: np.ndarray, real: np.ndarray, k_pr: int = 3, k_dc: int = 5) -> dict[str, float]:
    """The papers' definitions, loop by loop."""

    def dist(a, b):
        return math.sqrt(((a - b) ** 2).sum())

    def kth(points, i, k):
        return sorted(dist(points[i], points[j]) for j in range(len(points)) if j != i)[k - 1]

    r_real = [kth(real, i, k_pr) for i in range(len(real))]
    r_fake = [kth(fake, j, k_pr) for j in range(len(fake))]
    precision = np.mean([any(dist(f, real[i]) <= r_real[i] for i in range(len(real))) for f in fake])
    recall = np.mean([any(dist(r, fake[j]) <= r_fake[j] for j in range(len(fake))) for r in real])
    r5 = [kth(real, i, k_dc) for i in range(len(real))]
    inside = [[dist(f, real[i]) <= r5[i] for i in range(len(real))] for f in fake]
    density = sum(map(sum, inside)) / (k_dc * len(fake))
    coverage = np.mean([any(inside[j][i] for j in range(len(fake))) for i in range(len(real))])
    return {"precision": precision, "recall": recall, "density": density, "coverage": coverage}


def test_precision_recall_density_coverage_equal_the_papers_formulas():
    g = np.random.default_rng(0)
    real = g.normal(size=(40, 3))
    fake = g.normal(size=(30, 3)) * 1.3 + 0.4  # (30, 3): wider and shifted
    want = _brute_force(fake, real)
    got = {
        **fidelity.precision_recall(torch.tensor(fake), torch.tensor(real)),
        **fidelity.density_coverage(torch.tensor(fake), torch.tensor(real)),
    }
    for key in want:
        assert got[key] == pytest.approx(want[key], abs=1e-6), key  # torch-fidelity averages in float32
    assert 0 < got["precision"] < 1 and 0 < got["coverage"] < 1
    same = fidelity.density_coverage(torch.tensor(real), torch.tensor(real))
    assert same["coverage"] == 1.0 and same["density"] > 0.9  # a set against itself


def test_density_coverage_rejects_junk():
    """Junk far from the real data has no density and covers nothing; a collapsed set covers one ball."""
    g = torch.Generator().manual_seed(0)
    real = torch.randn(200, 8, generator=g)  # (200, 8)
    junk = torch.randn(200, 8, generator=g) + 20.0
    assert fidelity.density_coverage(junk, real) == {"density": 0.0, "coverage": 0.0}
    collapsed = real[:1].repeat(200, 1)
    assert fidelity.density_coverage(collapsed, real)["coverage"] < 0.05
    with pytest.raises(ValueError, match="needs more than 5 reference images"):
        fidelity.density_coverage(junk, real[:5])


# ---- weights -------------------------------------------------------------------------------------------


def test_missing_weights_offline_name_the_file_and_both_remedies(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("GANZOO_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(InceptionWeightsError) as info:
        load_inception()
    text = str(info.value)
    assert "weights-inception-2015-12-05-6726825d.pth" in text and "offline" in text
    assert str(tmp_path / "torch" / "hub" / "checkpoints") in text and "--inception-weights" in text
    assert "https://github.com/toshas/torch-fidelity/releases" in text


def test_failed_download_gives_the_same_advice(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("GANZOO_OFFLINE", raising=False)
    monkeypatch.delenv("GANZOO_INCEPTION_WEIGHTS", raising=False)

    def unreachable(url, dst, hash_prefix=None, progress=True):
        raise OSError("Name or service not known")

    monkeypatch.setattr(torch.hub, "download_url_to_file", unreachable)
    with pytest.raises(InceptionWeightsError, match="the download failed .*Name or service not known"):
        load_inception()
    assert not (tmp_path / "torch" / "hub" / "checkpoints" / "weights-inception-2015-12-05-6726825d.pth").exists()


def test_pth_weights_are_read_only_when_hash_pinned_and_only_as_tensors(weights, tmp_path, monkeypatch):
    import ganzoo.metrics.inception as inception

    _, pth = weights
    with pytest.raises(InceptionWeightsError, match="ganzoo unpickles no other .pth.*safetensors"):
        load_inception(pth)
    digest = inception.sha256_file(pth)
    monkeypatch.setattr(inception, "INCEPTION_SHA256_PREFIX", digest[:8])  # as if it were the published file
    net, got = load_inception(pth)
    assert got == digest and net.fc.weight.shape == (1008, 2048)

    class Boom:
        def __reduce__(self):
            return (print, ("unpickled!",))

    hostile = tmp_path / "hostile.pth"
    torch.save({"fc.weight": Boom()}, hostile)  # torch.save pickles the object
    monkeypatch.setattr(inception, "INCEPTION_SHA256_PREFIX", inception.sha256_file(hostile)[:8])
    with pytest.raises(InceptionWeightsError, match="could not be read as a state dict of tensors"):
        load_inception(hostile)


def test_weights_of_another_network_are_refused(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "resnet.safetensors"
    save_file({"conv1.weight": torch.zeros(64, 3, 7, 7)}, str(path))
    with pytest.raises(InceptionWeightsError, match="does not hold the FID Inception's tensors"):
        load_inception(path)


# ---- protocols, reference cache, statistics files --------------------------------------------------------


def _digits(tmp_path, n: int = 300, offset: int = 0):
    """n mnist-5k digits drawn at random (seed ``offset``), saved as PNGs: a folder of 'generated' images."""
    from torchvision.utils import save_image

    from ganzoo.data import load_dataset

    dataset, _ = load_dataset("mnist-5k", image_size=32, channels=1)
    folder = tmp_path / f"digits{offset}"
    folder.mkdir()
    pick = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(offset))[
        :n
    ]  # mnist-5k is sorted by digit
    for i, index in enumerate(pick.tolist()):
        save_image((dataset[index] + 1) / 2, str(folder / f"{i:05d}.png"))
    return folder


def test_reference_features_are_cached_and_reused(tmp_path):
    folder = _digits(tmp_path, 200, offset=4000)
    kw = dict(features="mnist-classifier", num_reference=500, options={"kid": {"subset_size": 100}})
    first = evaluate(str(folder), "mnist-5k", ["fid", "kid"], **kw)["metrics"]
    assert first["fid"]["protocol"]["reference"]["features_from"].startswith("computed, cached as ")
    cached = list((tmp_path / "cache" / "reference-features").glob("*.npz"))
    assert len(cached) == 1
    from ganzoo.metrics.features import MnistClassifierFeatures

    with mock.patch.object(
        MnistClassifierFeatures, "forward", autospec=True, side_effect=MnistClassifierFeatures.forward
    ) as forward:
        second = evaluate(str(folder), "mnist-5k", ["fid", "kid"], **kw)["metrics"]
    assert second["fid"]["protocol"]["reference"]["features_from"] == f"cache {cached[0]}"
    assert second["fid"]["value"] == first["fid"]["value"] and second["kid"]["value"] == first["kid"]["value"]
    assert sum(call.args[1].shape[0] for call in forward.call_args_list) == 200  # the samples only
    other = evaluate(str(folder), "mnist-5k", ["fid"], features="mnist-classifier", num_reference=400)["metrics"]
    assert other["fid"]["protocol"]["reference"]["features_from"].startswith("computed")  # another key
    cached[0].write_bytes(b"not a zip")  # a damaged cache is noticed and rebuilt, never used
    with pytest.warns(UserWarning, match="unreadable"):
        again = evaluate(str(folder), "mnist-5k", ["fid"], **{**kw, "options": {}})["metrics"]
    assert again["fid"]["value"] == pytest.approx(first["fid"]["value"], rel=1e-9)


def test_reference_statistics_file_replaces_the_data(tmp_path):
    folder = _digits(tmp_path, 200, offset=4000)
    kw = dict(features="mnist-classifier", num_reference=500)
    with_data = evaluate(str(folder), "mnist-5k", ["fid"], **kw)["metrics"]["fid"]
    stats_file = next((tmp_path / "cache" / "reference-features").glob("*.npz"))  # ganzoo's cache is a stats file
    with_file = evaluate(str(folder), None, ["fid"], ref_stats=stats_file, features="mnist-classifier")
    assert with_file["metrics"]["fid"]["value"] == pytest.approx(with_data["value"], rel=1e-9)
    assert with_file["metrics"]["fid"]["protocol"]["reference"]["features_from"].startswith(
        f"statistics file {stats_file}"
    )

    with np.load(stats_file) as data:
        mu, sigma = data["mu"], data["sigma"]
    published = tmp_path / "published.npz"
    np.savez(published, mu=mu.astype(np.float64), sigma=sigma)  # the TTUR format: no header
    with pytest.warns(UserWarning, match="does not say which network made it"):
        value = evaluate(str(folder), None, ["fid"], ref_stats=published, features="mnist-classifier")
    assert value["metrics"]["fid"]["value"] == pytest.approx(with_data["value"], rel=1e-6)

    narrow = tmp_path / "narrow.npz"
    np.savez(narrow, mu=mu[:64], sigma=sigma[:64, :64])
    with pytest.raises(StatsFileError, match="64-d statistics, but mnist-classifier gives 128-d features"):
        evaluate(str(folder), None, ["fid"], ref_stats=narrow, features="mnist-classifier")
    other = tmp_path / "other.npz"
    np.savez(other, mu=mu, sigma=sigma, meta=np.array(json.dumps({"extractor": "inception-v3-compat"})))
    with pytest.raises(
        StatsFileError,
        match="statistics of inception-v3-compat features, but this evaluation uses "
        "mnist-classifier: pass --features inception-v3-compat",
    ):
        evaluate(str(folder), None, ["fid"], ref_stats=other, features="mnist-classifier")
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, mu=np.array([object()], dtype=object), sigma=sigma)
    with pytest.raises(StatsFileError, match="not a readable .npz of plain arrays"):
        evaluate(str(folder), None, ["fid"], ref_stats=pickled, features="mnist-classifier")
    with pytest.raises(ValueError, match="without it only --metrics fid with --ref-stats"):
        evaluate(str(folder), None, ["kid"], ref_stats=stats_file, features="mnist-classifier")


def test_protocols_pin_counts_and_are_recorded(tmp_path):
    folder = _digits(tmp_path, 20)
    with pytest.raises(ValueError, match="protocol 'fid10k' pins num_samples to 10000, but 20 was given"):
        evaluate(str(folder), "mnist-5k", ["fid"], protocol="fid10k", num_samples=20)
    with pytest.raises(ValueError, match="holds 20 images, fewer than the 10,000 samples"):
        evaluate(str(folder), "mnist-5k", ["fid"], protocol="fid10k")
    with pytest.raises(ValueError, match="unknown protocol 'fid-50k'; choose one of: fid50k-full, fid10k, custom"):
        evaluate(str(folder), "mnist-5k", ["fid"], protocol="fid-50k")
    result = evaluate(str(folder), "mnist-5k", ["fid"], features="mnist-classifier", num_reference=100)
    assert result["protocol"]["name"] == "custom" and result["metrics"]["fid"]["protocol"]["protocol"] == "custom"


def test_eval_cli_scores_an_image_folder_with_the_protocol_beside_every_number(tmp_path):
    folder = _digits(tmp_path, 100, offset=4500)
    out = tmp_path / "r.json"
    result = CliRunner().invoke(
        cli,
        [
            "eval",
            str(folder),
            "--data",
            "mnist-5k",
            "--metrics",
            "fid,kid,density_coverage",
            "--features",
            "mnist-classifier",
            "--num-reference",
            "300",
            "-o",
            "kid.subset_size=50",
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for row in ("fid ", "kid.kid_std", "density_coverage.coverage"):
        line = next(text for text in lines if text.startswith(row))
        assert "100" in line and "mnist-5k (300)" in line and "mnist-classifier" in line
    assert any(text.startswith("protocol custom:") for text in lines)
    assert any(text.startswith("warning fid: FID from 100 samples of 128-d features") for text in lines)
    saved = json.loads(out.read_text())
    assert saved["metrics"]["kid"]["protocol"]["options"]["subset_size"] == 50
    assert 0 < saved["metrics"]["density_coverage"]["values"]["coverage"] <= 1.0
    bad = CliRunner().invoke(
        cli, ["eval", str(folder), "--data", "mnist-5k", "--features", "mnist-classifier", "--metrics", "is"]
    )
    assert bad.exit_code != 0 and "use --features inception" in bad.output


def test_a_model_and_a_folder_of_its_saved_samples_score_the_same(tmp_path):
    """Samples are quantised to 8 bits as a PNG is.

    So `ganzoo sample` + `ganzoo eval FOLDER` equals `ganzoo eval MODEL`.
    """
    from torchvision.utils import save_image

    import ganzoo

    model = ganzoo.load("dcgan-mnist")
    samples = model.sample(120, seed=0)
    folder = tmp_path / "samples"
    folder.mkdir()
    for i, image in enumerate(samples):
        save_image((image + 1) / 2, str(folder / f"{i:05d}.png"))
    kw = dict(features="mnist-classifier", num_reference=300)
    direct = evaluate(model, "mnist-5k", ["fid"], num_samples=120, **kw)["metrics"]["fid"]["value"]
    from_folder = evaluate(str(folder), "mnist-5k", ["fid"], **kw)["metrics"]["fid"]["value"]
    assert from_folder == pytest.approx(direct, rel=1e-6)


def test_junk_scores_far_worse_than_real_images(tmp_path):
    """The judge must reject: noise images are far from real digits by FID and density/coverage."""
    real = _digits(tmp_path, 200, offset=4000)
    noise = _image_folder(tmp_path / "noise", 200, seed=9, channels=1)
    kw = dict(features="mnist-classifier", num_reference=1000, options={"kid": {"subset_size": 100}})
    good = evaluate(str(real), "mnist-5k", ["fid", "kid", "density_coverage"], **kw)["metrics"]
    junk = evaluate(str(noise), "mnist-5k", ["fid", "kid", "density_coverage"], **kw)["metrics"]
    assert junk["fid"]["value"] > 10 * good["fid"]["value"]
    assert junk["kid"]["value"] > 10 * max(good["kid"]["value"], 1e-4)
    assert junk["density_coverage"]["values"]["coverage"] < 0.1 < good["density_coverage"]["values"]["coverage"]


def test_model_card_quotes_the_protocol_beside_every_number(tmp_path):
    import ganzoo

    model = ganzoo.load("dcgan-mnist")
    result = evaluate(
        model,
        "mnist-5k",
        ["fid", "kid"],
        num_samples=200,
        num_reference=300,
        features="mnist-classifier",
        options={"kid": {"subset_size": 100}},
    )
    folder = model.save_pretrained(tmp_path / "m", metrics=result, name="dcgan-test", samples=False)
    card = (folder / "README.md").read_text()
    assert "Protocol `custom`: the counts and extractor given by the flags." in card
    assert f"- **fid**: {result['metrics']['fid']['value']:.6g}" in card and "- **kid.kid_std**:" in card
    assert card.count("200 samples (seed 0) against mnist-5k (300 images), features mnist-classifier") == 2
    assert "options subset_size=100, n_subsets=100" in card or "options n_subsets=100, subset_size=100" in card


def test_intra_fid_tells_right_labels_from_wrong_ones():
    """Real digits labelled with their own digit score a far lower intra-FID than the same digits mislabelled."""
    from ganzoo.data import load_dataset
    from ganzoo.metrics.builtin import as_images, intra_fid, reference_labels

    dataset, _ = load_dataset("mnist-5k", image_size=32, channels=1)
    real = as_images(dataset, limit=2000, seed=0)
    labels, classes = reference_labels(dataset, limit=2000, seed=0)
    assert classes == [str(d) for d in range(10)] and labels.shape == (2000,)
    pick = torch.randperm(5000, generator=torch.Generator().manual_seed(1))[:600]
    samples, own = dataset.tensor[pick], dataset.labels[pick]  # (600, 1, 32, 32), (600,)
    right = intra_fid(samples, real, extractor="mnist-classifier", sample_labels=own, reference_labels=labels)
    wrong = intra_fid(
        samples, real, extractor="mnist-classifier", sample_labels=(own + 1) % 10, reference_labels=labels
    )
    assert right["classes"] == 10 and right["intra_fid_worst"] >= right["intra_fid"]
    assert wrong["intra_fid"] > 5 * right["intra_fid"]
    with pytest.raises(ValueError, match="scores a class-conditional model"):
        intra_fid(samples, real, extractor="mnist-classifier", reference_labels=labels)


def test_intra_fid_through_evaluate_for_a_conditional_model():
    import ganzoo

    model = ganzoo.create("sngan", image_size=32, channels=1, num_classes=10, g_ch=16, d_ch=16)
    result = evaluate(
        model, "mnist-5k", ["intra_fid", "fid"], num_samples=200, num_reference=1000, features="mnist-classifier"
    )["metrics"]
    assert result["intra_fid"]["values"]["classes"] == 10 and result["intra_fid"]["value"] > 0
    assert result["intra_fid"]["protocol"]["labels"] == "sample i asks for class i mod 10"
    unconditional = ganzoo.create("dcgan", image_size=32, channels=1)
    with pytest.raises(ValueError, match="scores a class-conditional model"):
        evaluate(unconditional, "mnist-5k", ["intra_fid"], num_samples=50, features="mnist-classifier")


def test_eval_cli_on_a_bundled_model_prints_the_protocol():
    result = CliRunner().invoke(
        cli, ["eval", "dcgan-mnist", "--data", "mnist-5k", "-n", "200", "--num-reference", "500"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "dcgan-mnist on mnist-5k, seed 0"
    row = next(text for text in lines if text.startswith("mnist_digits.recognisable"))
    assert "200" in row and "mnist-5k (500)" in row
    assert any(text.startswith("protocol custom: the counts and extractor given by the flags") for text in lines)
    assert any(text.startswith("reference features: computed, cached as ") for text in lines)
