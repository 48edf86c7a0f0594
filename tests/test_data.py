"""Data specs: bundled mnist-5k, image folders, CelebA-layout folders and torchvision roots."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganzoo.data.folder import FolderImageDataset, ImageReadError, load_folder, pil_to_model_range
from ganzoo.data.images import ImageTensorDataset, to_model_range
from ganzoo.data.mnist import NPZ_PATH, load_mnist5k, mnist5k_arrays, mnist5k_split
from ganzoo.data.torchvision_sets import load_celeba, load_cifar10, load_mnist

# --- mnist-5k ---------------------------------------------------------------------------------


def test_mnist5k_raw_arrays():
    images, labels = mnist5k_arrays()
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (5000,)
    assert np.array_equal(np.bincount(labels), np.full(10, 500))
    assert images.max() == 255 and images.min() == 0
    assert not images.flags.writeable  # the cached copy is shared


def test_mnist5k_checksum_matches_attribution():
    digest = hashlib.sha256(NPZ_PATH.read_bytes()).hexdigest()
    assert digest in (NPZ_PATH.parent / "MNIST5K.md").read_text()


@pytest.mark.parametrize("size,channels", [(32, 1), (64, 1), (32, 3), (64, 3), (28, 1)])
def test_mnist5k_sizes_and_channels(size, channels):
    ds = load_mnist5k(None, image_size=size, channels=channels)
    assert isinstance(ds, ImageTensorDataset) and len(ds) == 5000
    assert ds.tensor.shape == (5000, channels, size, size) and ds.tensor.dtype == torch.float32
    assert ds[0].shape == (channels, size, size)
    assert ds.tensor.min() >= -1 and ds.tensor.max() <= 1
    assert ds.tensor.min() == -1  # background stays exactly black
    assert ds.labels.dtype == torch.int64 and set(ds.labels.tolist()) == set(range(10))
    if channels == 3:  # gray -> RGB repeats the channel
        assert torch.equal(ds.tensor[:, 0], ds.tensor[:, 2])


def test_mnist5k_native_size_is_exact():
    images, _ = mnist5k_arrays()
    ds = load_mnist5k(None, image_size=28, channels=1)
    assert torch.allclose((ds.tensor[:, 0] + 1) * 127.5, torch.from_numpy(images.astype(np.float32)), atol=1e-3)


def test_mnist5k_rejects_argument():
    with pytest.raises(ValueError, match="mnist-5k"):
        load_mnist5k("/some/root")


def test_mnist5k_split_is_stratified():
    train, holdout = mnist5k_split()
    _, labels = mnist5k_arrays()
    assert len(train) == 4500 and len(holdout) == 500 and not set(train) & set(holdout)
    assert np.array_equal(np.bincount(labels[holdout]), np.full(10, 50))


def test_to_model_range_rgb_to_gray_uses_luma():
    rgb = np.zeros((1, 3, 4, 4), np.uint8)
    rgb[:, 1] = 255  # pure green
    gray = to_model_range(rgb, 4, 1)
    assert gray.shape == (1, 1, 4, 4)
    assert torch.allclose(gray, torch.full_like(gray, 0.587 * 2 - 1), atol=1e-5)
    with pytest.raises(ValueError, match="uint8"):
        to_model_range(np.zeros((1, 4, 4), np.float32), 4, 1)


# --- image folders ------------------------------------------------------------------------------


def _save(path: Path, mode: str, size: tuple[int, int], seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    bands = len(Image.new(mode, (1, 1)).getbands())
    arr = rng.integers(0, 256, (size[1], size[0], bands), dtype=np.uint8)
    img = Image.fromarray(arr[..., 0] if bands == 1 else arr, "L" if bands == 1 else ("RGBA" if bands == 4 else "RGB"))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.convert(mode).save(path)


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    root = tmp_path / "imgs"
    _save(root / "a.png", "RGB", (50, 40))
    _save(root / "b.PNG", "RGBA", (20, 70), 1)
    _save(root / "c.jpg", "L", (33, 33), 2)
    _save(root / "sub" / "d.JPEG", "RGB", (100, 64), 3)
    _save(root / "sub" / "deeper" / "e.bmp", "RGB", (16, 16), 4)
    _save(root / "f.gif", "P", (40, 30), 5)
    _save(root / "g.webp", "RGB", (31, 47), 6)
    _save(root / "h.tif", "L", (64, 48), 7)
    (root / "notes.txt").write_text("not an image")
    return root


@pytest.mark.parametrize("channels", [1, 3])
def test_folder_loader_any_size_and_mode(image_folder, channels):
    ds = load_folder(str(image_folder), image_size=24, channels=channels)
    assert len(ds) == 8  # recursive, case-insensitive extensions, the .txt ignored
    for i in range(len(ds)):
        x = ds[i]
        assert x.shape == (channels, 24, 24) and x.dtype == torch.float32
        assert x.min() >= -1 and x.max() <= 1


def test_folder_resize_then_center_crop():
    # a 40x20 image: left half black, right half white; shorter side 20 -> 10 gives 20x10, crop 10x10
    arr = np.zeros((20, 40), np.uint8)
    arr[:, 20:] = 255
    x = pil_to_model_range(Image.fromarray(arr, "L"), 10, 1)  # (1, 10, 10)
    assert x.shape == (1, 10, 10)
    assert x[0, :, 0].max() < 0 and x[0, :, -1].min() > 0  # the centre crop spans the edge
    rgb = pil_to_model_range(Image.new("RGB", (7, 9), (255, 0, 0)), 5, 3)
    assert torch.allclose(rgb[0], torch.ones(5, 5)) and torch.allclose(rgb[1], -torch.ones(5, 5))


def test_folder_missing_path(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(FileNotFoundError, match=f"no such folder: {missing}"):
        load_folder(str(missing), image_size=8, channels=1)


def test_folder_not_a_folder(tmp_path):
    file = tmp_path / "x.png"
    _save(file, "RGB", (8, 8))
    with pytest.raises(NotADirectoryError, match=f"not a folder: {file}"):
        load_folder(str(file), image_size=8, channels=1)


def test_folder_without_images(tmp_path):
    (tmp_path / "readme.md").write_text("hi")
    with pytest.raises(FileNotFoundError, match=rf"no images \(png, jpg, .*\) found under {tmp_path}"):
        load_folder(str(tmp_path), image_size=8, channels=1)


def test_folder_corrupt_image_named_up_front(image_folder):
    bad = image_folder / "sub" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    with pytest.raises(ImageReadError, match=f"cannot read image {bad}"):
        load_folder(str(image_folder), image_size=8, channels=3)


def test_folder_truncated_image_named_on_access(tmp_path):
    good = tmp_path / "t.jpg"
    _save(good, "RGB", (64, 64))
    good.write_bytes(good.read_bytes()[:200])  # header survives, pixel data does not
    ds = FolderImageDataset([good], image_size=8, channels=3, verify=False)
    with pytest.raises(ImageReadError, match=f"cannot read image {good}"):
        ds[0]


@pytest.mark.parametrize("size, channels", [(32, 1), (16, 1), (16, 3)])
def test_folder_16bit_png_matches_its_8bit_equivalent(tmp_path, size, channels):
    rng = np.random.default_rng(0)
    eight = np.add.outer(np.arange(32), np.arange(32)).astype(np.uint8) * 4 + rng.integers(
        0, 4, (32, 32), dtype=np.uint8
    )
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    Image.fromarray(eight).save(tmp_path / "a" / "g.png")
    Image.fromarray(eight.astype(np.uint16) * 257).save(tmp_path / "b" / "g.png")  # the same values on 16 bits
    with Image.open(tmp_path / "b" / "g.png") as img:
        assert img.mode == "I;16"  # really a 16-bit file
    from ganzoo.data import load_dataset

    x8 = load_dataset(f"folder:{tmp_path / 'a'}", image_size=size, channels=channels)[0][0]
    x16 = load_dataset(f"folder:{tmp_path / 'b'}", image_size=size, channels=channels)[0][0]
    assert x16.shape == (channels, size, size) and x16.min() >= -1 and x16.max() <= 1
    assert torch.allclose(x16, x8, atol=1 / 127.5)  # within the 8-bit copy's rounding after resizing
    if size == 32:
        assert torch.allclose(x16, x8, atol=1e-6) and x16.min() < -0.99  # not washed out to white


def test_folder_16bit_extremes_and_float_images(tmp_path):
    Image.fromarray(np.array([[0, 65535], [32768, 65535]], dtype=np.uint16)).save(tmp_path / "g.png")
    x = pil_to_model_range(Image.open(tmp_path / "g.png"), 2, 1)
    assert torch.allclose(x, torch.tensor([[[-1.0, 1.0], [32768 / 65535 * 2 - 1, 1.0]]]))
    Image.fromarray(np.array([[0.0, 1.0], [0.5, 0.25]], dtype=np.float32)).save(tmp_path / "f.tif")
    x = pil_to_model_range(Image.open(tmp_path / "f.tif"), 2, 3)
    assert x.shape == (3, 2, 2) and torch.allclose(x[2], torch.tensor([[-1.0, 1.0], [0.0, -0.5]]))


def test_folder_images_of_unknown_range_are_refused_naming_file_and_mode(tmp_path):
    (tmp_path / "i").mkdir()
    wide = tmp_path / "i" / "wide.tif"
    Image.fromarray(np.arange(16, dtype=np.int32).reshape(4, 4) * 100_000).save(wide)
    with pytest.raises(
        ImageReadError, match=rf"cannot read image {wide}: mode I image \(32-bit integers\) has no known value range"
    ):
        load_folder(str(tmp_path / "i"), image_size=4, channels=1)
    (tmp_path / "f").mkdir()
    hot = tmp_path / "f" / "hot.tif"
    Image.fromarray(np.full((4, 4), 3.5, dtype=np.float32)).save(hot)
    ds = load_folder(str(tmp_path / "f"), image_size=4, channels=1)
    with pytest.raises(
        ImageReadError, match=rf"cannot read image {hot}: mode F image holds values in \[3.5, 3.5\], outside \[0, 1\]"
    ):
        ds[0]


# --- CelebA and torchvision roots ---------------------------------------------------------------


@pytest.mark.parametrize("nested", [True, False])
def test_celeba_layout_folder(tmp_path, nested):
    folder = tmp_path / "celeba" / "img_align_celeba" if nested else tmp_path / "img_align_celeba"
    for i in range(3):
        _save(folder / f"{i + 1:06d}.jpg", "RGB", (178, 218), i)
    ds = load_celeba(str(tmp_path), image_size=64, channels=3)
    assert len(ds) == 3 and ds[0].shape == (3, 64, 64)
    assert ds.crop == 178


def test_celeba_crop_keeps_the_centre():
    # 178x218 with a white band in the top and bottom 20 rows: the 178 centre crop drops both
    arr = np.zeros((218, 178, 3), np.uint8)
    arr[:20] = arr[-20:] = 255
    x = pil_to_model_range(Image.fromarray(arr), 32, 3, crop=178)
    assert x.max() == -1


@pytest.mark.parametrize(
    "loader,name,layout,cls",
    [
        (load_mnist, "MNIST", "MNIST/raw/train-images-idx3-ubyte", "MNIST"),
        (load_cifar10, "CIFAR-10", "cifar-10-batches-py", "CIFAR10"),
        (load_celeba, "CelebA", "img_align_celeba", "CelebA"),
    ],
)
def test_torchvision_root_missing(tmp_path, loader, name, layout, cls):
    for root in (tmp_path, tmp_path / "absent"):
        with pytest.raises(FileNotFoundError) as info:
            loader(str(root), image_size=32, channels=1)
        message = str(info.value)
        assert f"{name} not found under {root}" in message
        assert layout in message and f"torchvision.datasets.{cls}(" in message and "download=True" in message
    assert not any(tmp_path.iterdir())  # nothing was downloaded or created


def test_torchvision_needs_root():
    with pytest.raises(ValueError, match="mnist:ROOT"):
        load_mnist(None, image_size=32, channels=1)


def test_mnist_root_with_files(tmp_path):
    # a tiny MNIST in the idx format, the way torchvision stores it, proves the wrapper end to end
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    for prefix in ("train", "t10k"):
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(
            np.array([2051, 5, 28, 28], ">i4").tobytes() + images.tobytes()
        )
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(np.array([2049, 5], ">i4").tobytes() + bytes(range(5)))
    ds = load_mnist(str(tmp_path), image_size=32, channels=3)
    assert len(ds) == 5
    x = ds[0]
    assert isinstance(x, torch.Tensor) and x.shape == (3, 32, 32)
    expected = to_model_range(images[:1], 28, 1)[0, 0]
    assert torch.allclose(load_mnist(str(tmp_path), image_size=28, channels=1)[0][0], expected, atol=1e-5)


def test_a_spec_without_its_argument_says_what_the_argument_is():
    from ganzoo.data import parse_spec

    for spec, usage in (
        ("hf", "hf:ORG/NAME[@REVISION][:SPLIT]"),
        ("folder", "folder:PATH"),
        ("cifar10", "cifar10:ROOT"),
    ):
        with pytest.raises(ValueError, match=re.escape(f"needs an argument: --data {usage}")):
            parse_spec(spec)


def test_cifar10_root_is_decoded_once_into_memory_with_labels(tmp_path, monkeypatch):
    import pickle  # the format torchvision's CIFAR-10 files come in; written here only to make one

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (6, 3 * 32 * 32), dtype=np.uint8)  # CIFAR rows: R plane, G plane, B plane
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(folder / name, "wb") as f:
            pickle.dump({"data": pixels, "labels": [3, 1, 4, 1, 5, 9]}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)]}, f)
    import torchvision.datasets.cifar

    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *a, **k: True)  # not the published files
    ds = load_cifar10(str(tmp_path), image_size=32, channels=3)
    assert len(ds) == 30 and ds.tensor.shape == (30, 3, 32, 32)  # five training batches, held in memory
    assert ds.labels.tolist()[:6] == [3, 1, 4, 1, 5, 9] and ds.classes[9] == "class9"
    first = Image.fromarray(pixels[0].reshape(3, 32, 32).transpose(1, 2, 0))
    assert torch.equal(ds[0], pil_to_model_range(first, 32, 3))  # the same values as decoding the image
    assert load_cifar10(str(tmp_path), image_size=16, channels=1)[0].shape == (1, 16, 16)
