"""Paired data specs: mnist-5k tasks with their true targets, folders paired by file name, side-by-side A|B images."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ganzoo
from ganzoo.data import load_dataset, parse_spec
from ganzoo.data.mnist_tasks import holdout_pairs, rot90, thicken
from ganzoo.data.paired import PairedTensorDataset
from ganzoo.data.unpaired import UnpairedTensorDataset
from ganzoo.engine.batches import Batches

from .test_engine import QUIET

# ---- mnist-5k tasks ---------------------------------------------------------------------------


@pytest.mark.parametrize("task,forward", [("thick", thicken), ("rot90", rot90)])
def test_mnist_task_batches_pair_each_digit_with_its_true_target(task, forward):
    ds, entry = load_dataset(f"mnist-5k-{task}-paired", image_size=32, channels=1)
    assert entry.kind == "paired" and isinstance(ds, PairedTensorDataset) and isinstance(ds, UnpairedTensorDataset)
    assert len(ds) == 4500  # the training digits; the 500 held out stay out
    a, b = next(Batches(ds, 16, 0, torch.device("cpu")))  # the engine's batch path
    assert a.shape == b.shape == (16, 1, 32, 32)
    assert torch.equal(b, forward(a)) and not torch.equal(a, b)
    a1, b1 = ds[7]
    assert torch.equal(b1, forward(a1[None])[0])


def test_paired_training_digits_exclude_the_held_out_ones():
    ds, _ = load_dataset("mnist-5k-thick-paired", image_size=32, channels=1)
    held, _, _ = holdout_pairs("thick")
    train = {row.numpy().tobytes() for row in ds.a.flatten(1)}
    assert not any(row.numpy().tobytes() in train for row in held.flatten(1))


def test_paired_specs_are_registered_as_paired_and_refused_by_unpaired_variants(tmp_path):
    for spec in (
        "paired:a,b",
        "aligned:d",
        "aligned-btoa:d",
        "mnist-5k-inverted-paired",
        "mnist-5k-thick-paired",
        "mnist-5k-rot90-paired",
    ):
        assert parse_spec(spec)[0].kind == "paired", spec
    with pytest.raises(ganzoo.ConfigError, match="'cyclegan' trains on unpaired data, but the data spec gives paired"):
        ganzoo.train("cyclegan", "mnist-5k-thick-paired", steps=1, out=tmp_path / "c", **QUIET)
    with pytest.raises(ganzoo.ConfigError, match="'pix2pix' trains on paired data, but the data spec gives unpaired"):
        ganzoo.train("pix2pix", "mnist-5k-thick", steps=1, out=tmp_path / "p", **QUIET)
    assert not (tmp_path / "c").exists() and not (tmp_path / "p").exists()


# ---- paired:A_DIR,B_DIR -----------------------------------------------------------------------


def _gray(path: Path, value: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(value.astype(np.uint8), "L").save(path)


def _pattern(i: int, size: int = 8) -> np.ndarray:
    """A distinct 8x8 picture per i, so a mismatched pair cannot look right by chance."""
    return (np.arange(size * size).reshape(size, size) * (i + 3) * 7) % 256


def _pixels(x: torch.Tensor) -> np.ndarray:
    """An image in [-1, 1] back on the 8-bit scale, as uint8."""
    return ((x + 1) * 127.5).round().to(torch.uint8).numpy()


def _pair_folders(root: Path, names: list[str]) -> tuple[Path, Path]:
    """A/NAME.png holds picture i, B/NAME.bmp its negative (lossless, another extension)."""
    for i, name in enumerate(names):
        _gray(root / "A" / f"{name}.png", _pattern(i))
        _gray(root / "B" / f"{name}.bmp", 255 - _pattern(i))
    return root / "A", root / "B"


def test_folders_pair_by_file_name_whatever_the_extension_and_order(tmp_path):
    names = ["a", "a.c", "b", "sub/c", "10", "9"]  # A/a.c.png sorts before A/a.png, but B/a.bmp before B/a.c.bmp
    dir_a, dir_b = _pair_folders(tmp_path, names)
    ds, entry = load_dataset(f"paired:{dir_a},{dir_b}", image_size=8, channels=1)
    assert entry.kind == "paired" and isinstance(ds, PairedTensorDataset) and len(ds) == len(names)
    a, b = ds.batch(torch.arange(len(ds)))
    assert torch.allclose(b, -a, atol=1e-6)  # 255 - x in [0, 255] is -x in [-1, 1]: every B is its own A's partner
    assert {_pixels(x).tobytes() for x in a} == {_pattern(i).astype(np.uint8).tobytes() for i in range(len(names))}


def test_large_folders_pair_through_the_prepared_cache(tmp_path):
    names = [f"img{i:03d}{tail}" for i in range(60) for tail in ("", ".c")]  # sorted otherwise in A and in B
    dir_a, dir_b = _pair_folders(tmp_path, names)  # >= 100 images: read back from the prepared uint8 cache
    ds, _ = load_dataset(f"paired:{dir_a},{dir_b}", image_size=8, channels=1)
    a, b = ds.batch(torch.arange(len(ds)))
    assert len(ds) == 120 and torch.allclose(b, -a, atol=1e-6)
    assert len({x.numpy().tobytes() for x in a}) == 120


def test_a_name_on_one_side_only_is_refused_naming_it_and_the_matches(tmp_path):
    dir_a, dir_b = _pair_folders(tmp_path, ["x", "y", "z"])
    _gray(dir_a / "lonely.png", _pattern(9))
    message = (
        f"paired data: 1 image(s) of {dir_a} have no partner of the same name in {dir_b} (first: 'lonely'); "
        f"3 name(s) matched"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        load_dataset(f"paired:{dir_a},{dir_b}", image_size=8, channels=1)
    (dir_a / "lonely.png").unlink()
    _gray(dir_b / "extra.png", _pattern(9))
    with pytest.raises(
        ValueError, match=re.escape(f"of {dir_b} have no partner of the same name in {dir_a} (first: 'extra')")
    ):
        load_dataset(f"paired:{dir_a},{dir_b}", image_size=8, channels=1)


def test_two_files_of_one_name_and_a_missing_folder_are_refused(tmp_path):
    dir_a, dir_b = _pair_folders(tmp_path, ["x", "y"])
    _gray(dir_a / "x.jpg", _pattern(1))
    with pytest.raises(ValueError, match="have the same name 'x'; keep one file per name"):
        load_dataset(f"paired:{dir_a},{dir_b}", image_size=8, channels=1)
    with pytest.raises(ValueError, match="paired data needs two folders: paired:A_DIR,B_DIR"):
        load_dataset(f"paired:{dir_a}", image_size=8, channels=1)


# ---- aligned:DIR ------------------------------------------------------------------------------


def test_side_by_side_images_split_into_a_left_and_b_right(tmp_path):
    for i in range(3):
        left, right = _pattern(i), 255 - _pattern(i + 5)
        _gray(tmp_path / "train" / f"{i}.png", np.concatenate([left, right], axis=1))  # 16 wide, 8 high
    ds, entry = load_dataset(f"aligned:{tmp_path / 'train'}", image_size=8, channels=1)
    assert entry.kind == "paired" and len(ds) == 3
    a, b = ds.batch(torch.arange(3))
    for i in range(3):
        assert np.array_equal(_pixels(a[i, 0]), _pattern(i)) and np.array_equal(_pixels(b[i, 0]), 255 - _pattern(i + 5))
    swapped, _ = load_dataset(f"aligned-btoa:{tmp_path / 'train'}", image_size=8, channels=1)
    assert torch.equal(swapped.a, ds.b) and torch.equal(swapped.b, ds.a)


def test_an_odd_width_side_by_side_image_is_refused_naming_it(tmp_path):
    _gray(tmp_path / "0.png", np.zeros((8, 16)))
    _gray(tmp_path / "1.png", np.zeros((8, 15)))
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"{tmp_path / '1.png'} is 15x8: an aligned image holds A and B side by side, so its width must be even"
        ),
    ):
        load_dataset(f"aligned:{tmp_path}", image_size=8, channels=1)
