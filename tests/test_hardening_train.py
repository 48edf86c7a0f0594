"""Training-side hardening: configs refused before they allocate, one-line device errors, a prepared cache
that survives a hostile or stale folder, checkpoints whose checksum cannot be switched off, emulated precision said."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from safetensors import safe_open
from safetensors.torch import save_file

import ganzoo
from ganzoo.cli import cli
from ganzoo.config import ConfigError
from ganzoo.data import prepared
from ganzoo.data.folder import load_folder
from ganzoo.data.image_files import find_images
from ganzoo.data.prepared import PreparedCacheError, cache_root
from ganzoo.engine.checkpoint import CorruptCheckpointError, list_checkpoints, read_checkpoint, save_checkpoint

from .conftest import peak_rss_of

TINY = dict(image_size=16, channels=1, ngf=8, ndf=8)
TRAIN = ["train", "dcgan", "--data", "mnist-5k", "--image-size", "16", "--channels", "1", "--steps", "1"]
RSS_BOUND_MB = 300


def _fails_cleanly(*args: str) -> str:
    """Run the CLI in-process; it must exit 1 with one "Error: ..." line and no traceback. Returns the line."""
    result = CliRunner().invoke(cli, list(args))
    assert isinstance(result.exception, SystemExit), f"uncaught {result.exception!r}"
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


def _peak_rss_of(code: str) -> dict:
    """``code`` run by conftest.peak_rss_of after importing what these tests measure from."""
    return peak_rss_of(code, "import torch, ganzoo\nfrom ganzoo.config import ConfigError")


# ---- config values: refused by the shared checks, before a run folder exists ------------------------------


@pytest.mark.parametrize(
    "pair, message",
    [
        ("ngf=8.0", "ngf must be a positive number, a whole one"),
        ("ngf=1e9", "ngf must be a positive number, a whole one"),
        ("nz=1e8", "nz must be a positive number, a whole one"),
        ("nz=100000000", "nz must be a positive number, a whole one up to 1048576"),
        ("lr=1e309", "lr must be a positive number, and finite, got inf"),
        ("bn_eps=NaN", "bn_eps must be a positive number, and finite, got nan"),
        ("r1=Infinity", "r1 must be >= 0"),
    ],
)
def test_config_values_the_networks_cannot_use_are_one_line_before_the_run_folder(tmp_path, pair, message):
    out = tmp_path / "run"
    line = _fails_cleanly(*TRAIN, "--out", str(out), "-c", pair)
    assert message in line and "plugin" not in line
    assert not out.exists()


def test_a_budget_that_is_not_finite_is_refused():
    with pytest.raises(ConfigError, match="budget must be a finite number of seconds"):
        ganzoo.train("dcgan", "mnist-5k", out="unused", budget=float("inf"), **TINY)


def test_the_shared_checks_keep_whole_numbers_and_their_bound():
    with pytest.raises(ConfigError, match="image_size=2048 cannot be made by this architecture"):
        ganzoo.create("dcgan", image_size=2048)
    with pytest.raises(ConfigError, match="ngf must be a positive number"):
        ganzoo.create("dcgan", ngf=True)
    assert ganzoo.create("dcgan", **TINY).config.ngf == 8


@pytest.mark.parametrize("override", ["image_size=1024", "ngf=2048"])
def test_networks_over_the_memory_limit_are_refused_from_meta_shapes(tmp_path, override):
    key, value = override.split("=")
    out = tmp_path / "run"
    result = _peak_rss_of(
        f"""
        try:
            ganzoo.train("dcgan", "mnist-5k", steps=1, out={str(out)!r}, channels=1, {key}={value}, progress="off")
        except ConfigError as exc:
            result["error"] = str(exc)
        """
    )
    assert "GB of parameters" in result.get("error", "") and "GANZOO_MAX_PARAMETER_GB" in result["error"]
    assert result["grew_mb"] < RSS_BOUND_MB, result
    assert not out.exists()


def test_the_memory_limit_can_be_raised_and_create_checks_it_too(monkeypatch):
    with pytest.raises(ConfigError, match=r"dcgan' with this config has 2\.\d\d GB of parameters"):
        ganzoo.create("dcgan", image_size=32, ngf=2048)
    monkeypatch.setenv("GANZOO_MAX_PARAMETER_GB", "0.001")
    with pytest.raises(ConfigError, match="above the limit of 0.001 GB"):
        ganzoo.create("dcgan")


def _tiny_run(out: Path) -> Path:
    return ganzoo.train("dcgan", "mnist-5k", steps=2, out=out, batch_size=16, progress="off", sample_every=0, **TINY)


def _edit_config(run: Path, **changes) -> None:
    record = json.loads((run / "config.json").read_text())
    record["config"].update(changes)
    (run / "config.json").write_text(json.dumps(record))


def test_a_resume_whose_config_json_grew_huge_is_refused_before_it_allocates(tmp_path):
    run = _tiny_run(tmp_path / "run")
    _edit_config(run, ngf=2048, image_size=64)
    result = _peak_rss_of(
        f"""
        try:
            ganzoo.train(out={str(run)!r}, steps=4, resume=True, progress="off")
        except ConfigError as exc:
            result["error"] = str(exc)
        """
    )
    assert "GB of parameters" in result.get("error", ""), result
    assert result["grew_mb"] < RSS_BOUND_MB, result


def test_a_resume_with_edited_shapes_is_refused_from_meta_shapes_before_data_loads(tmp_path, monkeypatch):
    run = _tiny_run(tmp_path / "run")
    _edit_config(run, ngf=16)

    def no_data(*args, **kwargs):
        raise AssertionError("the data set was loaded before the shapes were compared")

    monkeypatch.setattr("ganzoo.data.load_dataset", no_data)
    with pytest.raises(ConfigError, match=r"holds net\.G\.\S+ of shape .* where the config in .*config.json makes"):
        ganzoo.train(out=run, steps=4, resume=True, progress="off")


# ---- the device ---------------------------------------------------------------------------------------------


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_train_on_cuda_without_a_gpu_is_one_line(tmp_path):
    out = tmp_path / "run"
    line = _fails_cleanly(*TRAIN, "--out", str(out), "--device", "cuda")
    assert "CUDA is not available" in line and "--device cpu" in line
    assert not out.exists()


def test_an_unknown_device_is_one_line(tmp_path):
    line = _fails_cleanly(*TRAIN, "--out", str(tmp_path / "run"), "--device", "tpu")
    assert "device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got 'tpu'" in line


# ---- the prepared cache -------------------------------------------------------------------------------------


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _bmp_folder(root: Path, n: int = 100, seed: int = 0) -> Path:
    """Uncompressed images (enough to be prepared): a rewrite with other pixels keeps every file's size."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(root / f"{i}.bmp")
    return root


def _prepared_folder() -> Path:
    (folder,) = [p for p in cache_root().iterdir() if p.is_dir()]
    return folder


@pytest.mark.parametrize("text", ["null", "[1, 2]", '"header"', "{"])
def test_a_header_that_is_not_an_object_is_prepared_again(tmp_path, cache, text):
    images = _bmp_folder(tmp_path / "imgs")
    load_folder(str(images), image_size=12, channels=3)
    (_prepared_folder() / "header.json").write_text(text)
    with pytest.warns(RuntimeWarning, match="refused"):
        again = load_folder(str(images), image_size=12, channels=3)
    assert isinstance(again, prepared.PreparedFolderDataset) and len(again) == 100
    assert json.loads((_prepared_folder() / "header.json").read_text())["format"] == prepared.FORMAT


def test_a_header_that_is_a_directory_is_one_line_saying_what_to_remove(tmp_path, cache):
    images = _bmp_folder(tmp_path / "imgs")
    load_folder(str(images), image_size=16, channels=3)
    folder = _prepared_folder()
    (folder / "header.json").unlink()
    (folder / "header.json").mkdir()
    with pytest.raises(PreparedCacheError, match=f"remove {folder}"):
        load_folder(str(images), image_size=16, channels=3)
    line = _fails_cleanly(
        "train", "dcgan", "--data", str(images), "--out", str(tmp_path / "run"), "--steps", "1",
        "--image-size", "16", "--channels", "3",
    )  # fmt: skip
    assert f"remove {folder}" in line and not (tmp_path / "run").exists()


def test_a_rewrite_that_keeps_size_and_mtime_is_not_served_stale(tmp_path, cache):
    images = _bmp_folder(tmp_path / "imgs")
    first = load_folder(str(images), image_size=12, channels=3)
    before = torch.stack([first[i] for i in range(len(first))])
    target = images / "3.bmp"
    stat = target.stat()
    Image.fromarray(np.full((12, 12, 3), 7, dtype=np.uint8)).save(target)  # other pixels, same size
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the old mtime back
    assert target.stat().st_size == stat.st_size and target.stat().st_mtime_ns == stat.st_mtime_ns
    i = find_images(images).index(target)
    again = load_folder(str(images), image_size=12, channels=3)
    expected = load_folder(str(images), image_size=12, channels=3, prepare=False)
    assert torch.equal(again[i], expected[i]) and not torch.equal(again[i], before[i])


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_temp_files_of_a_killed_preparation_are_removed_by_the_next(tmp_path, cache):
    images = _bmp_folder(tmp_path / "imgs")
    load_folder(str(images), image_size=12, channels=3)
    folder = _prepared_folder()
    other = cache_root() / ("0" * 32)  # the folder of files that changed since
    other.mkdir()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = [folder / f"images.npy.tmp-{_dead_pid()}", other / f"header.json.tmp-{_dead_pid()}"]
        alive = folder / f"images.npy.tmp-{live.pid}"  # a preparation still running: left alone
        for path in [*dead, alive]:
            path.write_bytes(b"\0" * 1000)
        (folder / "images.npy").unlink()  # the next run prepares
        load_folder(str(images), image_size=12, channels=3)
        assert not any(p.exists() for p in dead) and alive.exists()
    finally:
        live.kill()
        live.wait()


# ---- checkpoints: the checksum cannot be switched off -------------------------------------------------------


def _checkpoint(tmp_path: Path) -> Path:
    path = tmp_path / "step-000000001.safetensors"
    save_checkpoint(path, {"net.G.w": torch.arange(6.0).reshape(2, 3)}, {"iteration": 1, "ganzoo_version": "0.1.0"})
    return path


def test_a_checkpoint_whose_checksum_key_is_renamed_is_refused(tmp_path):
    path = _checkpoint(tmp_path)
    data = path.read_bytes()
    assert data.count(b"ganzoo_sha256") == 1
    path.write_bytes(data.replace(b"ganzoo_sha256", b"ganzoo_sha257"))  # one byte of the key's name
    with pytest.raises(CorruptCheckpointError, match="metadata keys ganzoo never writes \\('ganzoo_sha257'\\)"):
        read_checkpoint(path)


def test_a_checkpoint_whose_checksum_was_deleted_is_refused(tmp_path):
    path = _checkpoint(tmp_path)
    with safe_open(str(path), framework="pt") as f:
        metadata, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    save_file(tensors, str(path), metadata={"ganzoo": metadata["ganzoo"]})
    with pytest.raises(CorruptCheckpointError, match="no checksum, where ganzoo wrote 'ganzoo_sha256'"):
        read_checkpoint(path)


def test_a_checkpoint_from_before_checksums_loads_with_a_warning(tmp_path):
    path = _checkpoint(tmp_path)
    with safe_open(str(path), framework="pt") as f:
        metadata, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    header = {k: v for k, v in json.loads(metadata["ganzoo"]).items() if k != "checksum"}  # as older ones
    save_file(tensors, str(path), metadata={"ganzoo": json.dumps(header)})
    with pytest.warns(UserWarning, match="has no checksum .* loaded unverified"):
        loaded, got = read_checkpoint(path)
    assert got == {"iteration": 1, "ganzoo_version": "0.1.0"} and torch.equal(loaded["net.G.w"], tensors["net.G.w"])


def test_a_checkpoint_reads_back_the_header_it_was_given(tmp_path):
    _, header = read_checkpoint(_checkpoint(tmp_path))
    assert header == {"iteration": 1, "ganzoo_version": "0.1.0"}


def test_a_resume_refuses_a_run_whose_checksum_was_removed(tmp_path):
    run = _tiny_run(tmp_path / "run")
    last = list_checkpoints(run / "checkpoints")[-1]
    last.write_bytes(last.read_bytes().replace(b"ganzoo_sha256", b"ganzoo_sha25X"))
    with pytest.raises(CorruptCheckpointError, match=f"checkpoint {last} is corrupt"):
        ganzoo.train(out=run, steps=4, resume=True, progress="off")


# ---- emulated precision -------------------------------------------------------------------------------------


def _cpu_without_native_bf16(monkeypatch):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)


def test_bf16_on_a_cpu_without_native_bf16_is_called_emulated(monkeypatch):
    from ganzoo.engine.device import precision_note

    assert precision_note("fp32", torch.device("cpu")) is None
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    assert precision_note("bf16", torch.device("cpu")) is None
    _cpu_without_native_bf16(monkeypatch)
    note = precision_note("bf16", torch.device("cpu"))
    assert "precision bf16 is emulated on this CPU" in note and "--precision fp32" in note


def test_a_run_in_emulated_precision_says_so_at_its_start(tmp_path, monkeypatch, capsys):
    _cpu_without_native_bf16(monkeypatch)
    ganzoo.train(
        "dcgan", "mnist-5k", steps=1, out=tmp_path / "run", batch_size=8, device="cpu", precision="bf16",
        sample_every=0, progress="auto", **TINY,
    )  # fmt: skip
    err = capsys.readouterr().err
    assert err.count("precision bf16 is emulated") == 1
    assert err.index("precision bf16 is emulated") < err.index("training into")


def test_bf16_on_a_gpu_before_ampere_is_called_emulated(monkeypatch):
    from ganzoo.engine.device import precision_note

    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla T4")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation)
    assert "precision bf16 is emulated on Tesla T4" in precision_note("bf16", torch.device("cuda", 0))
    assert precision_note("fp16", torch.device("cuda", 0)) is None
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    assert precision_note("bf16", torch.device("cuda", 0)) is None


def test_a_gpu_index_the_machine_lacks_is_one_line(monkeypatch):
    from ganzoo.engine.device import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda") == torch.device("cuda:0")
    with pytest.raises(ConfigError, match=r"device 'cuda:3' was asked for but this machine has 1 GPU\(s\)"):
        resolve_device("cuda:3")
