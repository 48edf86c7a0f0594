"""Prepared image folders: made once, hit after, invalidated by a changed folder, refused when corrupt."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganzoo.data import prepared
from ganzoo.data.folder import FolderImageDataset, load_folder
from ganzoo.data.prepared import PreparedFolderDataset, cache_root


def _folder(root: Path, n: int = 100) -> Path:
    rng = np.random.default_rng(0)
    for i in range(n):
        arr = rng.integers(0, 256, (20 + i % 7, 18, 3), dtype=np.uint8)  # sizes vary: resize and crop run
        path = root / f"c{i % 2}" / f"{i:03d}.{'jpg' if i % 3 else 'png'}"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(arr).save(path)
    return root


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    calls = []
    original = prepared._prepare

    def counting(*args, **kwargs):
        calls.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(prepared, "_prepare", counting)
    return calls


def _assert_same_as_decoding(ds: FolderImageDataset, folder: Path) -> None:
    plain = load_folder(str(folder), image_size=12, channels=3, prepare=False)
    assert type(plain) is FolderImageDataset and len(plain) == len(ds)
    expected = torch.stack([plain[i] for i in range(len(plain))])  # (N, 3, 12, 12)
    assert torch.equal(torch.stack([ds[i] for i in range(len(ds))]), expected)
    idx = torch.tensor([5, 0, 99, 5])
    assert torch.equal(ds.batch(idx), expected[idx])  # what the engine reads
    assert torch.equal(ds.labels, plain.labels) and ds.classes == plain.classes == ["c0", "c1"]


def test_a_folder_is_prepared_once_then_read_from_the_cache_with_the_decoded_values(tmp_path, cache):
    folder = _folder(tmp_path / "imgs")
    first = load_folder(str(folder), image_size=12, channels=3)
    assert isinstance(first, PreparedFolderDataset) and len(cache) == 1
    (made,) = [p for p in cache_root().iterdir()]
    assert made == cache[0] and sorted(p.name for p in made.iterdir()) == ["header.json", "images.npy"]
    assert cache_root() == tmp_path / "cache" / "prepared"
    stamp = (made / "images.npy").stat().st_mtime_ns
    second = load_folder(str(folder), image_size=12, channels=3)
    assert isinstance(second, PreparedFolderDataset) and len(cache) == 1  # hit: nothing decoded again
    assert (made / "images.npy").stat().st_mtime_ns == stamp
    _assert_same_as_decoding(second, folder)
    load_folder(str(folder), image_size=16, channels=3)  # another size is another cache
    assert len(cache) == 2 and len(list(cache_root().iterdir())) == 2


def test_a_changed_folder_is_prepared_again(tmp_path, cache):
    folder = _folder(tmp_path / "imgs")
    load_folder(str(folder), image_size=12, channels=3)
    changed = folder / "c1" / "001.jpg"
    Image.new("RGB", (18, 20), (255, 0, 0)).save(changed)
    os.utime(changed, ns=(1, 1))  # even an mtime set back counts
    ds = load_folder(str(folder), image_size=12, channels=3)
    assert len(cache) == 2
    _assert_same_as_decoding(ds, folder)
    assert ds[ds.files.index(changed)][0].min() > 0.9  # the red image, not the cached one
    Image.new("RGB", (18, 20)).save(folder / "c0" / "new.png")  # one more file
    ds = load_folder(str(folder), image_size=12, channels=3)
    assert len(cache) == 3 and len(ds) == 101


@pytest.mark.parametrize("damage", ["pixels", "header"])
def test_a_corrupt_cache_is_refused_and_prepared_again(tmp_path, cache, damage):
    folder = _folder(tmp_path / "imgs")
    load_folder(str(folder), image_size=12, channels=3)
    made = cache[0]
    if damage == "pixels":
        data = bytearray((made / "images.npy").read_bytes())
        data[-7] ^= 0xFF  # one pixel of the last image
        (made / "images.npy").write_bytes(bytes(data))
        why = "images.npy does not match the SHA-256 in header.json"
    else:
        (made / "header.json").write_text("{not json")
        why = "Expecting property name"
    with pytest.warns(RuntimeWarning, match=f"prepared images in .* refused \\(.*{why}.*\\); preparing them again"):
        ds = load_folder(str(folder), image_size=12, channels=3)
    assert len(cache) == 2 and cache[1] == made
    _assert_same_as_decoding(ds, folder)


def test_images_without_an_exact_8bit_form_keep_the_decoding_path(tmp_path, cache):
    folder = _folder(tmp_path / "imgs")
    Image.fromarray(np.full((8, 8), 0.3, dtype=np.float32)).save(folder / "c0" / "float.tif")  # 0.3 * 255: not whole
    ds = load_folder(str(folder), image_size=12, channels=3)
    assert type(ds) is FolderImageDataset and len(cache) == 1
    assert not any(p.is_file() for p in cache[0].iterdir())  # no half-made cache left behind
    assert len(load_folder(str(tmp_path / "imgs" / "c1"), image_size=12, channels=3)) == 50  # under 100: not prepared
    assert len(cache) == 1


def test_training_reads_a_prepared_folder(tmp_path, cache):
    import ganzoo

    folder = _folder(tmp_path / "imgs")
    run = ganzoo.train(
        "dcgan",
        str(folder),
        steps=2,
        out=tmp_path / "run",
        batch_size=8,
        image_size=16,
        channels=3,
        ngf=8,
        ndf=8,
        progress="off",
        sample_every=0,
    )
    assert len(cache) == 1 and (run / "metrics.jsonl").exists()


@pytest.mark.parametrize("layout", ["celeba/img_align_celeba", "img_align_celeba"])
def test_a_celeba_root_is_prepared_once_with_its_centre_crop(tmp_path, cache, layout):
    from ganzoo.data.torchvision_sets import CELEBA_CROP, load_celeba

    faces = tmp_path / "root" / layout
    faces.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for i in range(100):
        Image.fromarray(rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)).save(faces / f"{i + 1:06d}.jpg")
    if layout.startswith("celeba/"):  # torchvision's annotation files do not change which images are read
        (tmp_path / "root" / "celeba" / "list_eval_partition.txt").write_text("000001.jpg 0\n")
    ds = load_celeba(str(tmp_path / "root"), image_size=32, channels=3)
    assert isinstance(ds, PreparedFolderDataset) and len(ds) == 100 and len(cache) == 1
    decoded = FolderImageDataset(sorted(faces.iterdir()), image_size=32, channels=3, crop=CELEBA_CROP)
    assert torch.equal(ds.batch(torch.tensor([0, 57])), torch.stack([decoded[0], decoded[57]]))
    again = load_celeba(str(tmp_path / "root"), image_size=32, channels=3)
    assert len(cache) == 1 and torch.equal(again[99], decoded[99])  # the second run reads the cache only
