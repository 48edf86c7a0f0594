"""Published folders: round trips for every variant, strict loading, clear refusals."""

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import ganzoo
from ganzoo.pretrained.folder import load_folder
from ganzoo.pretrained.weights import WeightsError

from .conftest import run_ganzoo

SMALL = {
    "vanilla": dict(g_hidden=[16, 16], d_hidden=[16, 16], image_size=8),
    "dcgan": dict(image_size=16, channels=1, ngf=8, ndf=8),
    "wgan-gp": dict(image_size=16, channels=3, ngf=8, ndf=8),
    "cyclegan": dict(image_size=32, channels=1, ngf=4, ndf=4),
}


def _perturbed(variant: str) -> "ganzoo.GanModel":
    torch.manual_seed(1)
    model = ganzoo.create(variant, **SMALL[variant])
    with torch.no_grad():
        for p in model.nets.parameters():
            p.add_(torch.randn_like(p) * 0.1)  # not the init: a round trip must carry trained weights
        for m in model.nets.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
    return model


@pytest.mark.parametrize("variant", list(SMALL))
def test_round_trip_for_every_variant(tmp_path, variant):
    model = _perturbed(variant)
    folder = model.save_pretrained(tmp_path / "m", data={"spec": "mnist-5k", "kind": "image"})
    assert {p.name for p in folder.iterdir()} >= {"config.json", "model.safetensors", "README.md"}
    loaded = ganzoo.load(str(folder))
    assert loaded.variant.name == variant and loaded.config == model.config
    saved = json.loads((folder / "config.json").read_text())["networks"]
    assert saved == (["G_AB", "G_BA"] if variant == "cyclegan" else ["G"])
    for net in saved:
        a, b = model.nets[net].state_dict(), loaded.nets[net].state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a)
    if variant == "cyclegan":
        x = torch.rand(2, 1, 32, 32) * 2 - 1
        assert torch.equal(model.translate(x), loaded.translate(x))
    else:
        assert torch.equal(model.sample(5, seed=4), loaded.sample(5, seed=4))
        assert (folder / "samples.png").exists()


def test_with_discriminator_and_card(tmp_path):
    model = _perturbed("dcgan")
    folder = model.save_pretrained(
        tmp_path / "m",
        with_discriminator=True,
        name="my-dcgan",
        metrics={"recognisable": {"value": 0.9, "protocol": "1,000 samples, seed 0"}},
        recipe="ganzoo train dcgan --data mnist-5k --steps 10 --out runs/x",
    )
    assert set(load_file(folder / "model.safetensors")) >= {"G.main.0.weight", "D.main.0.weight"}
    assert torch.equal(ganzoo.load(str(folder)).nets["D"].main[0].weight, model.nets["D"].main[0].weight)
    card = (folder / "README.md").read_text()
    front = card.split("---")[1]
    for line in ("library_name: ganzoo", "license: mit", "pipeline_tag: unconditional-image-generation", "- dcgan"):
        assert line in front
    assert "**recognisable**: 0.9 — protocol: 1,000 samples, seed 0" in card
    assert "ganzoo train dcgan --data mnist-5k --steps 10 --out runs/x" in card


@pytest.fixture
def published(tmp_path):
    return _perturbed("dcgan").save_pretrained(tmp_path / "pub", samples=False)


def test_truncated_weights_are_refused(published):
    data = (published / "model.safetensors").read_bytes()
    (published / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="model.safetensors is corrupt or truncated"):
        load_folder(published)


def test_weights_from_another_architecture_are_refused(published, tmp_path):
    other = ganzoo.create("dcgan", image_size=16, channels=1, ngf=16, ndf=8)  # wider generator
    shutil.copy(
        other.save_pretrained(tmp_path / "other", samples=False) / "model.safetensors", published / "model.safetensors"
    )
    with pytest.raises(
        WeightsError,
        match=r"tensor 'G.main.0.weight' .* has shape \(100, 32, 4, 4\) "
        r"but 'dcgan' with this config expects \(100, 16, 4, 4\)",
    ):
        load_folder(published)


def test_missing_and_unexpected_tensors_are_named(published):
    tensors = load_file(published / "model.safetensors")
    dropped = dict(tensors)
    dropped.pop("G.main.1.running_var")
    save_file(dropped, published / "model.safetensors")
    with pytest.raises(WeightsError, match="lacks tensor 'G.main.1.running_var'"):
        load_folder(published)
    save_file({**tensors, "G.extra.weight": torch.zeros(1)}, published / "model.safetensors")
    with pytest.raises(WeightsError, match="unexpected tensor 'G.extra.weight'"):
        load_folder(published)


def test_nothing_is_loaded_when_a_later_tensor_is_wrong(published):
    model = ganzoo.create("dcgan", image_size=16, channels=1, ngf=8, ndf=8)
    before = model.nets["G"].main[0].weight.clone()
    from ganzoo.pretrained.weights import assign_strict

    tensors = {f"G.{k}": v for k, v in _perturbed("dcgan").nets["G"].state_dict().items()}
    last = sorted(tensors)[-1]
    tensors[last] = torch.zeros(3, 3)
    with pytest.raises(WeightsError):
        assign_strict(model, tensors, ["G"], "test")
    assert torch.equal(model.nets["G"].main[0].weight, before)  # not half-loaded


def test_config_naming_an_unknown_variant_says_which_plugin_to_install(published):
    record = json.loads((published / "config.json").read_text())
    record["variant"] = "stylegan9"
    (published / "config.json").write_text(json.dumps(record))
    with pytest.raises(
        ganzoo.UnknownNameError,
        match="names variant 'stylegan9', which no installed plugin provides: "
        "install the plugin that provides 'stylegan9'",
    ):
        load_folder(published)


def test_corrupt_config_is_refused(published):
    (published / "config.json").write_text("{not json")
    with pytest.raises(WeightsError, match="config.json is not valid JSON"):
        load_folder(published)


def test_unknown_names_suggest(tmp_path):
    with pytest.raises(ganzoo.UnknownNameError, match="unknown pretrained model 'no-such-model'"):
        ganzoo.load("no-such-model")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        ganzoo.load(str(tmp_path / "missing") + "/")


def test_loading_a_model_never_unpickles(published, monkeypatch):
    import pickle

    def refuse(*args, **kwargs):
        raise AssertionError("pickle used on the load path")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    assert ganzoo.load(str(published)).sample(2, seed=0).shape == (2, 1, 16, 16)


def test_cli_sample_writes_a_grid_and_a_folder(published, tmp_path):
    out = run_ganzoo("sample", str(published), "-n", "9", "-o", str(tmp_path / "grid.png"), "--seed", "3")
    assert out.returncode == 0, out.stderr
    from PIL import Image

    assert Image.open(tmp_path / "grid.png").size == (3 * 16 + 4 * 2, 3 * 16 + 4 * 2)
    out = run_ganzoo("sample", str(published), "-n", "3", "-o", str(tmp_path / "many"))
    assert out.returncode == 0 and sorted(p.name for p in (tmp_path / "many").iterdir()) == [
        "00000.png",
        "00001.png",
        "00002.png",
    ]
    bad = run_ganzoo("sample", "dcgan-mnst", "-o", str(tmp_path / "x.png"))
    assert bad.returncode != 0 and "Traceback" not in bad.stderr


def test_run_folder_loads_its_ema_generator(tmp_path):
    run = ganzoo.train(
        "dcgan",
        "mnist-5k",
        steps=3,
        out=tmp_path / "run",
        batch_size=16,
        ema=0.5,
        progress="off",
        sample_every=0,
        image_size=16,
        channels=1,
        ngf=8,
        ndf=8,
    )
    from ganzoo.engine.checkpoint import list_checkpoints, read_checkpoint

    tensors, _ = read_checkpoint(list_checkpoints(run / "checkpoints")[-1])
    model = ganzoo.load(str(run))
    assert torch.equal(model.nets["G"].main[0].weight, tensors["ema.main.0.weight"])
    assert not torch.equal(tensors["ema.main.0.weight"], tensors["net.G.main.0.weight"])


def test_recipe_of_an_hf_run_pins_the_commit_and_columns():
    from ganzoo.pretrained.card import recipe_command

    commit = "0123456789abcdef0123456789abcdef01234567"
    record = {
        "variant": "dcgan",
        "config": {},
        "engine": {},
        "data": {
            "spec": "hf:org/faces",
            "source": {
                "repo": "org/faces",
                "revision": commit,
                "split": "train",
                "image_column": "img",
                "label_column": None,
            },
        },
    }
    recipe = recipe_command(record)
    assert f"--data hf:org/faces@{commit}:train --image-column img --out" in recipe
    assert "--label-column" not in recipe


@pytest.mark.parametrize("variant", ["vanilla", "wgan-gp"])
def test_a_published_points_model_previews_2500_points(tmp_path, variant):
    from PIL import Image

    from ganzoo.engine.outputs import points_picture

    torch.manual_seed(1)
    model = ganzoo.create(variant, dim=2)
    folder = model.save_pretrained(tmp_path / "points", data={"spec": "ring8", "kind": "points"})
    lit = torch.from_numpy(np.asarray(Image.open(folder / "samples.png").convert("L")) > 127)  # (256, 256)
    expected = points_picture(model.sample(2500, seed=0))[0] > 0  # (256, 256): the 2,500-point preview
    assert torch.equal(lit, expected) and int(lit.sum()) > 64
    card = (folder / "README.md").read_text()
    assert "points = model.sample(2500, seed=0)" in card


def test_from_pretrained_mirrors_save_pretrained_and_the_hub_names_still_import(tmp_path):
    import ganzoo.hub
    from ganzoo.pretrained.names import load

    model = _perturbed("dcgan")
    folder = model.save_pretrained(tmp_path / "m")
    loaded = ganzoo.GanModel.from_pretrained(folder, device="cpu")
    assert torch.equal(loaded.sample(3, seed=2), model.sample(3, seed=2))
    assert ganzoo.load is load and ganzoo.hub.load is load and ganzoo.hub.WeightsError is WeightsError
    assert ganzoo.hub.generator_names(model) == ["G"]


def test_samples_png_of_large_images_or_many_classes_draws_a_bounded_preview(tmp_path, monkeypatch):
    """A published folder's picture stays cheap: fewer images as they grow (PREVIEW_PIXELS), and a model with
    more classes than the picture has images draws one image of each of that many spread-out classes."""
    from PIL import Image

    import ganzoo.pretrained.folder as folder

    many = ganzoo.create("sngan", image_size=32, channels=1, num_classes=100, g_ch=4, d_ch=4)
    preview = many.task.preview(many, seed=0, n=16)
    assert preview.images.shape == (16, 1, 32, 32)  # not 100 rows of a class grid
    few = ganzoo.create("sngan", image_size=32, channels=1, num_classes=10, g_ch=4, d_ch=4)
    assert few.task.preview(few, seed=0, n=16).images.shape == (10, 1, 32, 32)  # a class grid, one per class
    monkeypatch.setattr(folder, "PREVIEW_PIXELS", 4 * 32 * 32)  # as if the images were 4x larger than 128 px
    many.save_pretrained(tmp_path / "m")
    assert Image.open(tmp_path / "m" / "samples.png").size == (2 * 32 + 3 * 2,) * 2  # 4 images, 2 by 2
