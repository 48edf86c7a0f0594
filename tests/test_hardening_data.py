"""Training data hardening: a data set larger than the memory is refused before it is made, and the files of a
`--data FOLDER` are opened header first, so a decompression bomb or a file that is no image is one line naming it."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from ganzoo.cli import cli
from ganzoo.data import images as images_module
from ganzoo.data import prepared
from ganzoo.data.folder import ImageReadError, load_folder
from ganzoo.data.images import DataMemoryError, to_model_range
from ganzoo.data.paired import load_aligned, load_paired
from ganzoo.data.unpaired import load_unpaired

from .conftest import peak_rss_of

RSS_BOUND_MB = 300  # the bound on refusals; the bomb tests below use a tighter one
BOMB_BOUND_MB = 60  # decoding a 9000x9000 image takes 81 MB per copy, and PIL makes two


def _peak_rss_of(code: str) -> dict:
    """``code`` run by conftest.peak_rss_of after importing what these tests measure from."""
    return peak_rss_of(
        code, "import torch, ganzoo, ganzoo.data.folder, ganzoo.data.images, PIL.Image, PIL.PngImagePlugin"
    )


def _fails_cleanly(*args: str) -> str:
    """Run the CLI in-process; it must exit 1 with one "Error: ..." line and no traceback. Returns the line."""
    result = CliRunner().invoke(cli, list(args))
    assert isinstance(result.exception, SystemExit), f"uncaught {result.exception!r}"
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def one_gib(monkeypatch):
    """A machine with 1 GiB of memory available."""
    monkeypatch.setattr(images_module, "memory_available", lambda: 1 << 30)


# ---- the data set's size, estimated before it is made ------------------------------------------------------------


def test_a_data_set_larger_than_the_memory_is_refused_before_it_is_made(tmp_path):
    out = tmp_path / "run"
    result = _peak_rss_of(
        f"""
        import ganzoo.data.images as images
        images.memory_available = lambda: 1 << 30  # a machine with 1 GiB available
        try:  # 5,000 digits of 1x256x256 take 1.3 GB as float32
            ganzoo.train("dcgan", "mnist-5k", steps=1, out={str(out)!r}, channels=1, image_size=256, progress="off")
        except ValueError as exc:
            result["error"] = f"{{type(exc).__name__}}: {{exc}}"
        """
    )
    error = result.get("error", "")
    assert error.startswith("DataMemoryError: 5,000 images of 1x256x256 take 1.3 GB as float32"), result
    assert "more than the 1.1 GB of memory available" in error and "--image-size" in error
    assert "--data folder:PATH" in error
    assert result["grew_mb"] < RSS_BOUND_MB, result
    assert not out.exists()


def test_the_cli_refuses_a_data_set_larger_than_the_memory_in_one_line(tmp_path, one_gib):
    out = tmp_path / "run"
    line = _fails_cleanly(
        "train", "dcgan", "--data", "mnist-5k", "--out", str(out), "--steps", "1", "--channels", "1",
        "-c", "image_size=256",
    )  # fmt: skip
    assert "5,000 images of 1x256x256 take 1.3 GB" in line and "1.1 GB of memory available" in line
    assert not out.exists()


def test_a_data_set_that_fits_is_made_as_before(one_gib):
    digits = torch.randint(0, 256, (300, 28, 28), dtype=torch.uint8)
    small = to_model_range(digits, 16, 1, chunk=7)  # chunked differently: the same values
    assert torch.equal(small, to_model_range(digits, 16, 1))
    assert small.shape == (300, 1, 16, 16) and -1.0 <= small.min() and small.max() <= 1.0


def _png(path: Path, size: tuple[int, int] = (32, 32), value: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (value, value, value)).save(path)


def test_folders_stacked_into_memory_are_refused_before_they_are_stacked(tmp_path, monkeypatch):
    for side in ("trainA", "trainB"):
        for i in range(3):
            _png(tmp_path / "pairs" / side / f"{i}.png")
    _png(tmp_path / "aligned" / "0.png", (64, 32))
    monkeypatch.setattr(images_module, "memory_available", lambda: 3 * 3 * 32 * 32 * 4)  # three images fit
    assert load_unpaired(str(tmp_path / "pairs"), image_size=32, channels=3).a.shape == (3, 3, 32, 32)
    with pytest.raises(DataMemoryError, match=r"trainA: 3 images of 3x64x64 take 0\.0 GB as float32"):
        load_unpaired(str(tmp_path / "pairs"), image_size=64, channels=3)
    monkeypatch.setattr(images_module, "memory_available", lambda: 1000)
    with pytest.raises(DataMemoryError, match=r"aligned: 1 image pairs of 3x32x32"):
        load_aligned(str(tmp_path / "aligned"), image_size=32, channels=3)
    with pytest.raises(DataMemoryError, match=r"trainA: 3 images of 3x32x32"):
        load_paired(f"{tmp_path / 'pairs' / 'trainA'},{tmp_path / 'pairs' / 'trainB'}", image_size=32, channels=3)


def test_a_preparation_larger_than_the_free_disk_is_refused_before_it_writes(tmp_path, cache, monkeypatch):
    folder = tmp_path / "imgs"
    for i in range(100):
        _png(folder / f"{i:03d}.png", (16, 16), i)
    real = prepared.shutil.disk_usage
    monkeypatch.setattr(prepared.shutil, "disk_usage", lambda path: real(path)._replace(free=10_000))
    with pytest.raises(prepared.PreparedCacheError, match=r"preparing 100 images of 3x16x16 takes 0\.0 GB in .* "):
        load_folder(str(folder), image_size=16, channels=3)
    assert not list(cache.rglob("images.npy*"))


# ---- the files of a training folder: header first, bounded, one line naming a bad one ----------------------------


def _digits(folder: Path, n: int) -> Path:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8)).save(folder / f"{i + 1:05d}.png")
    return folder


def _bomb(path: Path) -> None:
    Image.new("1", (9000, 9000)).save(path)  # ~10 kB on disk, 81 M pixels decoded; under PIL's own bomb limit


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims width x height (PIL's bomb check fires on the header alone)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))


@pytest.mark.parametrize("count", [8, 120], ids=["decoded-per-item", "prepared"])
def test_a_bomb_in_a_training_folder_is_refused_from_its_header(tmp_path, count):
    folder = _digits(tmp_path / "imgs", count)
    _bomb(folder / "00000.png")
    cache = tmp_path / "cache"
    result = _peak_rss_of(
        f"""
        import os
        os.environ["GANZOO_CACHE"] = {str(cache)!r}
        from ganzoo.data.folder import load_folder
        try:
            load_folder({str(folder)!r}, image_size=16, channels=1)
        except ValueError as exc:
            result["error"] = f"{{type(exc).__name__}}: {{exc}}"
        """
    )
    bomb = folder / "00000.png"
    assert result.get("error", "").startswith(f"ImageReadError: image {bomb} is 9000x9000 pixels, more than"), result
    assert result["grew_mb"] < BOMB_BOUND_MB, result
    assert not list(cache.rglob("images.npy*"))


@pytest.mark.parametrize(
    "damage, shown",
    [
        ("text", "cannot identify image file"),
        ("truncated", "cannot read image"),
        ("huge header", "a decompression bomb"),
        ("bomb", "is 9000x9000 pixels"),
    ],
)
@pytest.mark.parametrize("count", [8, 120], ids=["decoded-per-item", "prepared"])
def test_a_bad_file_in_a_training_folder_is_one_line_naming_it(tmp_path, cache, damage, shown, count):
    folder = _digits(tmp_path / "imgs", count)
    bad = folder / "00003.png"
    if damage == "text":
        bad.write_text("hello")
    elif damage == "truncated":
        bad.write_bytes(bad.read_bytes()[:80])
    elif damage == "huge header":
        _png_header_only(bad, 30000, 30000)
    else:
        _bomb(bad)
    out = tmp_path / "run"
    line = _fails_cleanly(
        "train", "dcgan", "--data", str(folder), "--out", str(out), "--steps", "1",
        "--image-size", "16", "--channels", "1",
    )  # fmt: skip
    assert str(bad) in line and shown in line, line
    assert not out.exists()


def test_a_truncated_file_found_on_access_names_itself(tmp_path):
    folder = _digits(tmp_path / "imgs", 2)
    bad = folder / "00001.png"
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) - 40])  # the pixel data cut short, the header whole
    ds = load_folder(str(folder), image_size=16, channels=1, verify=False)
    with pytest.raises(ImageReadError, match=f"cannot read image {bad}"):
        ds[0]


def test_ganzoo_cache_pointing_at_a_file_decodes_per_item_with_one_warning(tmp_path, monkeypatch):
    folder = tmp_path / "imgs"
    for i in range(100):
        _png(folder / f"{i:03d}.png", (16, 16), i)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("GANZOO_CACHE", str(blocker))
    with pytest.warns(RuntimeWarning, match=f"{blocker} \\(from GANZOO_CACHE\\) is a file, not a folder"):
        ds = load_folder(str(folder), image_size=16, channels=3)
    assert not isinstance(ds, prepared.PreparedFolderDataset) and len(ds) == 100
    assert ds[5].shape == (3, 16, 16) and blocker.read_text() == "x"


def test_a_bomb_in_a_hub_data_set_is_refused_from_its_header_naming_the_row(tmp_path):
    import io

    from datasets import Dataset, Features
    from datasets import Image as ImageFeature

    from ganzoo.data.hub_data import HubImageDataset

    cells = []
    for size in [(16, 16), (9000, 9000)]:
        buffer = io.BytesIO()
        Image.new("1", size).save(buffer, format="PNG")
        cells.append({"bytes": buffer.getvalue(), "path": None})
    table = Dataset.from_dict({"image": cells}, features=Features({"image": ImageFeature(decode=False)}))
    ds = HubImageDataset(table, "image", image_size=16, channels=1, source={"repo": "zoo/x", "split": "train"})
    assert ds[0].shape == (1, 16, 16)
    with pytest.raises(ImageReadError, match=r"image hf:zoo/x \(train\) row 1 is 9000x9000 pixels, more than"):
        ds[1]


def test_a_bomb_among_side_by_side_pairs_is_refused_from_its_header(tmp_path):
    folder = tmp_path / "aligned"
    _png(folder / "0.png", (64, 32))
    _bomb(folder / "1.png")
    with pytest.raises(ImageReadError, match=f"image {folder / '1.png'} is 9000x9000 pixels"):
        load_aligned(str(folder), image_size=32, channels=3)
