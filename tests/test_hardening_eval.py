"""Hardening of `ganzoo eval` on folders, of `--ref-stats` files and of the reference-feature cache: every hostile
or damaged input is refused in one line naming the file (or, for the cache, reported, ignored and rewritten), and
refused before the memory it would take is allocated (peak RSS measured in a subprocess)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap
import zipfile
import zlib

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from ganzoo.cli import cli
from ganzoo.evaluate import evaluate
from ganzoo.metrics.inception import InceptionWeightsError, load_inception
from ganzoo.metrics.reference import StatsFileError, read_stats_file

RSS_BOUND_KB = 300 * 1024  # peak growth allowed while refusing: far below what the hostile files ask for
KW = dict(features="mnist-classifier", num_reference=100)


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))


def _peak_rss_growth(setup: str, code: str) -> tuple[int, str]:
    """(KiB the peak RSS grew by while ``code`` ran, its outcome), in a fresh interpreter after ``setup``."""
    script = textwrap.dedent(
        """
        import resource
        {setup}
        start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            {code}
            outcome = "ok"
        except Exception as exc:
            outcome = type(exc).__name__ + ": " + str(exc)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - start)
        print(outcome)
        """
    ).format(setup=setup, code=code)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    growth, outcome = done.stdout.strip().splitlines()[-2:]
    return int(growth), outcome


def _stats(d: int = 128, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A real (mu, sigma) of d-d features: sigma symmetric and positive definite."""
    x = np.random.default_rng(seed).normal(size=(4 * d, d))
    return x.mean(0), np.cov(x, rowvar=False)


def _digits(tmp_path, n: int = 30, name: str = "digits"):
    """n mnist-5k digits saved as 32x32 RGB PNGs, as `ganzoo sample -o FOLDER` writes them."""
    from torchvision.utils import save_image

    from ganzoo.data import load_dataset

    dataset, _ = load_dataset("mnist-5k", image_size=32, channels=1)
    folder = tmp_path / name
    folder.mkdir()
    for i in range(n):
        save_image((dataset[i * 97 % len(dataset)] + 1) / 2, str(folder / f"{i + 1:05d}.png"))
    return folder


def _png_header_only(path, width: int, height: int) -> None:
    """A PNG that declares width x height and holds no pixels: what PIL's lazy open sees of a bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))


# ---- --ref-stats: only the named arrays, headers first ---------------------------------------------------------


def _add_deflated_zeros(path, name: str, nbytes: int) -> None:
    """Append array ``name`` of nbytes zero bytes (float32), deflated and streamed: ~1 MB on disk per GiB."""
    header = {"descr": "<f4", "fortran_order": False, "shape": (nbytes // 4,)}
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open(f"{name}.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array_header_1_0(f, header)
            block = bytes(1 << 24)
            for _ in range(nbytes // len(block)):
                f.write(block)


def test_ref_stats_reads_only_mu_sigma_and_meta_so_an_extra_gib_array_costs_nothing(tmp_path):
    mu, sigma = _stats(400)
    path = tmp_path / "stats.npz"
    np.savez(path, mu=mu, sigma=sigma)  # 1.3 MB
    _add_deflated_zeros(path, "extra", 1 << 30)
    assert path.stat().st_size < 4 << 20
    setup = "from ganzoo.metrics.reference import read_stats_file"
    growth, outcome = _peak_rss_growth(setup, f"stats, meta = read_stats_file({str(path)!r}); assert meta == {{}}")
    assert outcome == "ok"
    assert growth < RSS_BOUND_KB, f"reading the statistics grew the peak RSS by {growth // 1024} MiB"


def test_ref_stats_declaring_a_huge_array_is_refused_from_its_header(tmp_path):
    mu, sigma = _stats()
    path = tmp_path / "huge.npz"
    np.savez(path, sigma=sigma)
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**13,)}
    with zipfile.ZipFile(path, "a") as archive, archive.open("mu.npy", "w") as f:
        np.lib.format.write_array_header_1_0(f, header)
        f.write(mu.tobytes())
    growth, outcome = _peak_rss_growth(
        "from ganzoo.metrics.reference import read_stats_file", f"read_stats_file({str(path)!r})"
    )
    assert outcome.startswith("StatsFileError") and str(path) in outcome and "10000000000000" in outcome
    assert growth < RSS_BOUND_KB


def _crc_bad(path) -> None:
    mu, sigma = _stats()
    np.savez(path, mu=mu, sigma=sigma)
    data = bytearray(path.read_bytes())
    at = data.index(mu.tobytes()[:16]) + 8  # inside mu's data: the zip's CRC no longer matches
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


def _npy_renamed(path) -> None:
    np.save(str(path) + ".npy", _stats()[0])
    os.replace(str(path) + ".npy", path)


def _with(**arrays):
    def write(path):
        mu, sigma = _stats()
        np.savez(path, **{"mu": mu, "sigma": sigma, **arrays})

    return write


def _scaled(factor):
    def write(path):
        mu, sigma = _stats()
        np.savez(path, mu=mu * factor, sigma=sigma)

    return write


def _sigma(transform):
    def write(path):
        mu, sigma = _stats()
        np.savez(path, mu=mu, sigma=transform(sigma))

    return write


HOSTILE_STATS = {
    "string mu": (_with(mu=np.array(["0.5"] * 128)), "must hold real numbers"),
    "structured mu": (_with(mu=np.zeros(128, dtype=[("a", "<f4"), ("b", "<f4")])), "must hold real numbers"),
    "complex mu": (_with(mu=_stats()[0] + 1j), "is complex"),
    "mu x 1e300": (_scaled(1e300), "too large for a Fréchet distance"),
    "non-symmetric sigma": (_sigma(lambda s: s + np.triu(np.ones_like(s))), "not symmetric"),
    "non-PSD sigma": (_sigma(lambda s: s - 10 * np.abs(s).max() * np.eye(len(s))), "not positive semi-definite"),
    "meta not JSON": (_with(meta=np.array("{not json")), "not valid JSON"),
    "meta a number": (_with(meta=np.array(5)), "must be one JSON string"),
    "meta a list": (_with(meta=np.array("[1, 2]")), "must be a JSON object"),
    "meta extractor not a string": (_with(meta=np.array(json.dumps({"extractor": 5}))), "must be a JSON object"),
    "CRC-bad zip": (_crc_bad, "is damaged"),
    ".npy renamed .npz": (_npy_renamed, "a single .npy array renamed .npz"),
}


@pytest.mark.parametrize("case", list(HOSTILE_STATS))
def test_a_hostile_ref_stats_file_is_refused_in_one_line_naming_it(tmp_path, case):
    write, message = HOSTILE_STATS[case]
    path = tmp_path / "stats.npz"
    write(path)
    with pytest.raises(StatsFileError) as caught:
        read_stats_file(path)
    text = str(caught.value)
    assert str(path) in text and message in text and "\n" not in text


def test_the_cli_refuses_a_bad_ref_stats_file_in_one_line(tmp_path):
    folder = _digits(tmp_path, 8)
    path = tmp_path / "renamed.npz"
    _npy_renamed(path)
    result = CliRunner().invoke(
        cli, ["eval", str(folder), "--ref-stats", str(path), "--metrics", "fid", "--features", "mnist-classifier"]
    )
    assert result.exit_code == 1 and result.exception is None or isinstance(result.exception, SystemExit)
    assert result.output.strip().count("\n") == 0 and result.output.startswith("Error: ")
    assert str(path) in result.output and "renamed .npz" in result.output


# ---- the reference-feature cache -----------------------------------------------------------------------------------


def _cache_file(tmp_path):
    files = list((tmp_path / "cache" / "reference-features").glob("*.npz"))
    assert len(files) == 1
    return files[0]


def _damage_truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _damage_flip(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _rewrite(transform):
    def damage(path):
        with np.load(path) as data:
            arrays = {k: data[k] for k in data.files}
        arrays = {k: (transform(v) if k.startswith("features_") else v) for k, v in arrays.items()}
        np.savez(path, **arrays)  # valid, with the same header: only the numbers changed

    return damage


DAMAGES = {
    "truncated": (_damage_truncate, "is unreadable"),
    "one byte flipped": (_damage_flip, "computing the features again"),
    "consistently rewritten": (_rewrite(lambda f: f * 2), "does not match its checksum"),
    "rewritten with NaN": (_rewrite(lambda f: f * np.nan), "does not match its checksum"),
}


@pytest.mark.parametrize("case", list(DAMAGES))
def test_a_damaged_reference_cache_is_reported_ignored_and_rewritten(tmp_path, case):
    damage, message = DAMAGES[case]
    folder = _digits(tmp_path)
    first = evaluate(str(folder), "mnist-5k", ["fid"], **KW)["metrics"]["fid"]
    path = _cache_file(tmp_path)
    assert first["protocol"]["reference"]["features_from"] == f"computed, cached as {path}"
    damage(path)
    with pytest.warns(UserWarning, match=message):
        second = evaluate(str(folder), "mnist-5k", ["fid"], **KW)["metrics"]["fid"]
    assert second["value"] == pytest.approx(first["value"], rel=1e-9)
    assert second["protocol"]["reference"]["features_from"] == f"computed, cached as {path}"
    third = evaluate(str(folder), "mnist-5k", ["fid"], **KW)["metrics"]["fid"]  # the rewritten file verifies
    assert third["protocol"]["reference"]["features_from"] == f"cache {path}"
    assert third["value"] == pytest.approx(first["value"], rel=1e-9)


def test_a_reference_cache_of_nan_features_that_verifies_is_still_recomputed(tmp_path, monkeypatch):
    import ganzoo.metrics.reference as reference

    monkeypatch.setattr(reference, "_content_sha256", lambda key, arrays: "same")  # as if written with NaN
    folder = _digits(tmp_path)
    first = evaluate(str(folder), "mnist-5k", ["fid"], **KW)["metrics"]["fid"]
    _rewrite(lambda f: f * np.nan)(_cache_file(tmp_path))
    with pytest.warns(UserWarning, match="holds NaN or Inf features; computing the features again"):
        second = evaluate(str(folder), "mnist-5k", ["fid"], **KW)["metrics"]["fid"]
    assert second["value"] == pytest.approx(first["value"], rel=1e-9)


def test_ganzoo_cache_pointing_at_a_file_is_one_warning_and_no_cache(tmp_path, monkeypatch):
    folder = _digits(tmp_path)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("GANZOO_CACHE", str(blocker))
    with pytest.warns(UserWarning, match=f"{blocker} \\(from GANZOO_CACHE\\) is a file, not a folder"):
        result = evaluate(str(folder), "mnist-5k", ["fid"], **KW)["metrics"]["fid"]
    assert result["protocol"]["reference"]["features_from"] == "computed"
    assert blocker.read_text() == "x"


# ---- NaN weights and NaN features blame the extractor, not the samples ---------------------------------------------


def test_nan_inception_weights_are_refused_naming_the_file(tmp_path):
    from safetensors.torch import save_file

    from tests.test_fidelity import _random_inception_state

    state = _random_inception_state()
    state["fc.weight"][0, 0] = float("nan")
    path = tmp_path / "nan.safetensors"
    save_file(state, str(path))
    with pytest.raises(InceptionWeightsError, match=f"{path} holds NaN or Inf in 1 tensors .*'fc.weight'"):
        load_inception(path)


def test_an_extractor_giving_nan_features_is_blamed_not_the_samples():
    from ganzoo.metrics.features import FeatureExtractor, ModelRangeFeatures

    class Broken(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):  # (B, 3, H, W) -> (B, 4) of NaN
            return torch.full((x.shape[0], 4), float("nan"))

    extractor = FeatureExtractor("broken", ModelRangeFeatures("broken", ["features"], Broken(), lambda x: x))
    with pytest.raises(ValueError, match="gives NaN or Inf 'features' features for 8-bit images: its weights"):
        extractor(torch.zeros(2, 3, 16, 16))


# ---- `ganzoo eval FOLDER`: the size from every header, bounded, one line per bad file --------------------------------


def test_a_huge_first_image_is_refused_from_its_header_before_decoding(tmp_path):
    folder = _digits(tmp_path, 8)
    Image.new("1", (9000, 9000)).save(folder / "00000.png")  # ~10 kB on disk, 81 M pixels decoded
    setup = "from ganzoo.evaluate import evaluate"
    code = f"evaluate({str(folder)!r}, 'mnist-5k', ['fid'], features='mnist-classifier', num_reference=100)"
    growth, outcome = _peak_rss_growth(setup, code)
    assert outcome.startswith("ImageReadError") and "00000.png is 9000x9000 pixels" in outcome
    assert growth < RSS_BOUND_KB, f"refusing grew the peak RSS by {growth // 1024} MiB"


def test_a_tiny_first_image_does_not_set_the_evaluation_size(tmp_path):
    folder = _digits(tmp_path, 8)
    Image.new("RGB", (1, 50)).save(folder / "00000.png")
    with pytest.raises(ValueError, match="00000.png is 1x50: a side under 8 pixels"):
        evaluate(str(folder), "mnist-5k", ["fid"], **KW)


def test_mixed_sizes_are_refused_naming_a_file_of_each(tmp_path):
    folder = _digits(tmp_path, 8)
    Image.new("RGB", (64, 64)).save(folder / "00000.png")
    with pytest.raises(ValueError, match="2 different sizes") as caught:
        evaluate(str(folder), "mnist-5k", ["fid"], **KW)
    assert "8 are 32x32 (e.g." in str(caught.value) and "1 are 64x64" in str(caught.value)
    assert str(folder / "00000.png") in str(caught.value) and str(folder / "00001.png") in str(caught.value)


def test_a_grayscale_first_image_does_not_turn_rgb_samples_gray(tmp_path):
    folder = _digits(tmp_path, 8)
    Image.new("L", (32, 32), 128).save(folder / "00000.png")
    result = evaluate(str(folder), "mnist-5k", ["fid"], **KW)["metrics"]["fid"]["protocol"]
    assert (result["image_size"], result["channels"]) == (32, 3)
    assert result["files"] == "9 images of 32x32"
    gray = _digits(tmp_path, 8, name="gray")
    for file in gray.iterdir():
        Image.open(file).convert("L").save(file)
    result = evaluate(str(gray), "mnist-5k", ["fid"], **KW)["metrics"]["fid"]["protocol"]
    assert (result["image_size"], result["channels"]) == (32, 1)
    table = CliRunner().invoke(
        cli,
        [
            "eval",
            str(folder),
            "--data",
            "mnist-5k",
            "--metrics",
            "fid",
            "--features",
            "mnist-classifier",
            "--num-reference",
            "100",
        ],
    )
    assert "samples scored at 32x32 RGB (from 9 images of 32x32)" in table.output.splitlines()


@pytest.mark.parametrize("first", ["not an image", "a bomb"])
def test_a_bad_first_file_gives_one_line_as_later_files_do(tmp_path, first):
    folder = _digits(tmp_path, 8)
    bad = folder / "00000.png"
    if first == "not an image":
        bad.write_text("hello")
    else:
        _png_header_only(bad, 30000, 30000)  # 900 M pixels: PIL calls it a decompression bomb
    args = ["eval", str(folder), "--data", "mnist-5k", "--metrics", "fid", "--features", "mnist-classifier"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"Error: cannot read image {bad}") and result.output.strip().count("\n") == 0
