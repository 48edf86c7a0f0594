"""The pretrained catalog: availability shown by `ganzoo list`, recipe-only entries that really run."""

import shlex

import pytest
from PIL import Image

import ganzoo

from .conftest import run_ganzoo


def test_list_shows_where_weights_are():
    out = run_ganzoo("list")
    row = next(line for line in out.stdout.splitlines() if line.startswith("dcgan-celeba"))
    assert row.split()[:3] == ["dcgan-celeba", "dcgan", "recipe"]
    assert ganzoo.info("dcgan-celeba").availability == "recipe only"


def test_loading_a_recipe_entry_prints_the_command():
    with pytest.raises(FileNotFoundError, match=r"'dcgan-celeba' is a recipe: its weights are not published yet. Train them with:\n  ganzoo train dcgan --data celeba:ROOT"):
        ganzoo.load("dcgan-celeba")
    out = run_ganzoo("sample", "dcgan-celeba", "-o", "never.png")
    assert out.returncode != 0 and "ganzoo train dcgan --data celeba:ROOT" in out.stderr


def test_the_celeba_recipe_runs_on_a_celeba_layout_folder(tmp_path):
    faces = tmp_path / "celeba_root" / "celeba" / "img_align_celeba"
    faces.mkdir(parents=True)
    for i in range(8):  # CelebA's aligned JPEGs are 178x218
        Image.new("RGB", (178, 218), (20 * i, 100, 200 - 20 * i)).save(faces / f"{i + 1:06d}.jpg")
    train, push = ganzoo.info("dcgan-celeba").recipe.split(" && ")
    args = shlex.split(train.replace("celeba:ROOT", f"celeba:{tmp_path / 'celeba_root'}"))
    args = _override(args, {"--steps": "2", "--batch-size": "4", "--out": str(tmp_path / "run")})
    assert args[:3] == ["ganzoo", "train", "dcgan"]
    done = run_ganzoo(*args[1:], "-c", "ngf=8", "-c", "ndf=8", "--progress", "off", env_extra={"OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    model = ganzoo.load(str(tmp_path / "run"))
    assert model.sample(2, seed=0).shape == (2, 3, 64, 64)
    assert shlex.split(push)[:3] == ["ganzoo", "push", "runs/dcgan-celeba"]


def _override(args: list[str], values: dict[str, str]) -> list[str]:
    out = list(args)
    for flag, value in values.items():
        out[out.index(flag) + 1] = value
    return out
