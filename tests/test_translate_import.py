"""The CycleGAN/pix2pix authors' released generators: served over loopback in their exact layouts, hash-checked,
converted strictly, equal to an independent forward of the upstream networks, and run by `ganzoo translate`.

The upstream forwards below are written from junyanz/pytorch-CycleGAN-and-pix2pix's models/networks.py with
torch.nn.functional alone: ResnetGenerator (reflection padding, instance norm without affine, convs with biases)
and UnetGenerator (batch norm, convs without biases but the last; each inner block's in-place LeakyReLU rewrites
its input before the skip concatenation reads it), as test.py runs them without --eval: batch norm in train
mode on one image at a time. Dropout is left out of the pix2pix forward: ganzoo translates without it.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from PIL import Image

import ganzoo
from ganzoo import plugins
from ganzoo.cli import cli
from ganzoo.config import ConfigError
from ganzoo.importers import WeightsError, cache_root, convert, recorded_pins

from .conftest import register_entry, sha256_of

# ---- upstream layouts and forwards --------------------------------------------------------------------------


def cyclegan_state(ngf: int = 4, n_blocks: int = 2, channels: int = 3, old: bool = False) -> dict:
    """A ResnetGenerator state dict as the authors save it; ``old``: with the instance-norm buffers of PyTorch < 0.4."""
    g = torch.Generator().manual_seed(0)
    sd: dict = {}
    w = [ngf, 2 * ngf, 4 * ngf]
    for i, cin, cout, k in ((1, channels, w[0], 7), (4, w[0], w[1], 3), (7, w[1], w[2], 3)):
        sd[f"model.{i}.weight"] = torch.randn(cout, cin, k, k, generator=g) * 0.2
        sd[f"model.{i}.bias"] = torch.randn(cout, generator=g) * 0.1
    for b in range(10, 10 + n_blocks):
        for i in (1, 5):
            sd[f"model.{b}.conv_block.{i}.weight"] = torch.randn(w[2], w[2], 3, 3, generator=g) * 0.1
            sd[f"model.{b}.conv_block.{i}.bias"] = torch.randn(w[2], generator=g) * 0.1
    for i, cin, cout in ((10 + n_blocks, w[2], w[1]), (13 + n_blocks, w[1], w[0])):  # ConvTranspose2d: (in, out, k, k)
        sd[f"model.{i}.weight"] = torch.randn(cin, cout, 3, 3, generator=g) * 0.2
        sd[f"model.{i}.bias"] = torch.randn(cout, generator=g) * 0.1
    sd[f"model.{17 + n_blocks}.weight"] = torch.randn(channels, ngf, 7, 7, generator=g) * 0.1
    sd[f"model.{17 + n_blocks}.bias"] = torch.randn(channels, generator=g) * 0.1
    if old:
        for i, width in ((2, w[0]), (5, w[1]), (8, w[2]), (11 + n_blocks, w[1]), (14 + n_blocks, w[0])):
            sd[f"model.{i}.running_mean"], sd[f"model.{i}.running_var"] = torch.zeros(width), torch.ones(width)
    return sd


def cyclegan_forward(sd: dict, x: torch.Tensor, n_blocks: int) -> torch.Tensor:
    """The upstream ResnetGenerator(norm=instance, padding_type=reflect, use_dropout=False) on (B, C, H, W)."""

    def conv(h, i, pad=0, stride=1):
        if pad:
            h = F.pad(h, (pad,) * 4, mode="reflect")
        return F.conv2d(h, sd[f"{i}.weight"], sd[f"{i}.bias"], stride=stride, padding=0 if pad else 1)

    def norm_relu(h):
        return F.relu(F.instance_norm(h, eps=1e-5))

    h = norm_relu(conv(x, "model.1", pad=3))
    h = norm_relu(conv(h, "model.4", stride=2))
    h = norm_relu(conv(h, "model.7", stride=2))
    for b in range(10, 10 + n_blocks):
        y = norm_relu(conv(h, f"model.{b}.conv_block.1", pad=1))
        h = h + F.instance_norm(conv(y, f"model.{b}.conv_block.5", pad=1), eps=1e-5)
    for i in (10 + n_blocks, 13 + n_blocks):
        w, b = sd[f"model.{i}.weight"], sd[f"model.{i}.bias"]
        h = norm_relu(F.conv_transpose2d(h, w, b, stride=2, padding=1, output_padding=1))
    return torch.tanh(conv(h, f"model.{17 + n_blocks}", pad=3))


def unet_state(ngf: int = 2, n_downs: int = 8, channels: int = 3, old: bool = False) -> dict:
    """A UnetGenerator(norm=batch) state dict as the authors save it; ``old``: without num_batches_tracked."""
    g = torch.Generator().manual_seed(1)
    inner = [ngf * min(2**k, 8) for k in range(n_downs)]  # the encoder output of level k

    def bn(name: str, width: int) -> None:
        sd[f"{name}.weight"] = 1 + 0.1 * torch.randn(width, generator=g)
        sd[f"{name}.bias"] = 0.1 * torch.randn(width, generator=g)
        sd[f"{name}.running_mean"] = 0.1 * torch.randn(width, generator=g)
        sd[f"{name}.running_var"] = 1 + torch.rand(width, generator=g)
        if not old:
            sd[f"{name}.num_batches_tracked"] = torch.tensor(200)

    sd: dict = {
        "model.model.0.weight": torch.randn(ngf, channels, 4, 4, generator=g) * 0.2,
        "model.model.3.weight": torch.randn(2 * ngf, channels, 4, 4, generator=g) * 0.2,
        "model.model.3.bias": torch.randn(channels, generator=g) * 0.1,
    }
    prefix = "model.model.1"
    for k in range(1, n_downs):
        outer = inner[k - 1]
        sd[f"{prefix}.model.1.weight"] = torch.randn(inner[k], outer, 4, 4, generator=g) * 0.2
        if k < n_downs - 1:
            bn(f"{prefix}.model.2", inner[k])
            sd[f"{prefix}.model.5.weight"] = torch.randn(2 * inner[k], outer, 4, 4, generator=g) * 0.2
            bn(f"{prefix}.model.6", outer)
            prefix += ".model.3"
        else:  # the innermost block: no norm after its conv, no skip below it
            sd[f"{prefix}.model.3.weight"] = torch.randn(inner[k], outer, 4, 4, generator=g) * 0.2
            bn(f"{prefix}.model.4", outer)
    return sd


def unet_forward(sd: dict, x: torch.Tensor, n_downs: int) -> torch.Tensor:
    """The upstream UnetGenerator as test.py runs it without --eval (train-mode batch norm on a batch of one)."""

    def bn(h, name):
        mean, var = sd[f"{name}.running_mean"].clone(), sd[f"{name}.running_var"].clone()
        return F.batch_norm(h, mean, var, sd[f"{name}.weight"], sd[f"{name}.bias"], training=True, eps=1e-5)

    def block(h, prefix, k):
        h = F.leaky_relu(h, 0.2)  # in place upstream: the skip below concatenates this, not the input
        d = F.conv2d(h, sd[f"{prefix}.model.1.weight"], stride=2, padding=1)
        if k < n_downs - 1:
            d = block(bn(d, f"{prefix}.model.2"), f"{prefix}.model.3", k + 1)
            u = bn(
                F.conv_transpose2d(F.relu(d), sd[f"{prefix}.model.5.weight"], stride=2, padding=1), f"{prefix}.model.6"
            )
        else:
            u = bn(
                F.conv_transpose2d(F.relu(d), sd[f"{prefix}.model.3.weight"], stride=2, padding=1), f"{prefix}.model.4"
            )
        return torch.cat([h, u], 1)

    outs = []
    for one in x.split(1):  # test.py's batch size: 1
        d = block(F.conv2d(one, sd["model.model.0.weight"], stride=2, padding=1), "model.model.1", 1)
        w, b = sd["model.model.3.weight"], sd["model.model.3.bias"]
        outs.append(torch.tanh(F.conv_transpose2d(F.relu(d), w, b, stride=2, padding=1)))
    return torch.cat(outs)


# ---- catalog entries served over loopback --------------------------------------------------------------------


def _entry(plugin: str, name: str, variant: str, importer: str, url: str, config: dict) -> None:
    """A catalog entry like the released ones, but pointing at the loopback server and a tiny network."""
    register_entry(
        plugin,
        name=name,
        variant=variant,
        dataset="unpaired:ROOT",
        config=config,
        license="BSD-2-Clause",
        source={"importer": importer, "url": url},
    )


def test_a_cyclegan_release_imports_one_way_and_computes_the_upstream_function(http_files, load_spy):
    folder, base = http_files
    sd = cyclegan_state(ngf=4, n_blocks=2, old=True)
    torch.save(sd, folder / "horse2zebra.pth")
    sha = sha256_of(folder / "horse2zebra.pth")
    config = {"image_size": 256, "channels": 3, "ngf": 4, "n_blocks": 2, "one_way": True}
    _entry("tiny-cg", "cyclegan-tiny", "cyclegan", "junyanz-cyclegan", f"{base}/horse2zebra.pth", config)
    with pytest.warns(UserWarning, match=f"this first download's, {sha}, is now recorded"):
        model = ganzoo.load("cyclegan-tiny")
    assert load_spy == [True] and recorded_pins()[f"{base}/horse2zebra.pth"]["sha256"] == sha
    assert sorted(model.nets) == ["D_B", "G_AB"] and model.task.directions(model.nets) == ["a2b"]
    x = torch.rand(3, 3, 36, 28) * 2 - 1  # any multiple of 4: the ResNet is fully convolutional
    assert torch.allclose(model.translate(x), cyclegan_forward(sd, x, 2), atol=1e-5)
    with pytest.raises(ValueError, match=r"translates one way only, A to B \('a2b'\): it has no G_BA"):
        model.translate(x, "b2a")
    from ganzoo_cyclegan.step import CycleGANStep

    with pytest.raises(ConfigError, match="one_way cyclegan model .* translates only"):
        CycleGANStep(model.config)  # the cycle loss needs both generators: never trained

    card = (cache_root() / "cyclegan-tiny-recorded" / "README.md").read_text()
    assert "license: bsd-2-clause" in card and f"sha256 {sha}" in card and 'model.translate("photo.jpg")' in card

    load_spy.clear()
    (folder / "horse2zebra.pth").unlink()  # later loads read the converted folder alone
    again = ganzoo.load("cyclegan-tiny")
    assert load_spy == [] and torch.equal(again.translate(x), model.translate(x))


def test_a_pix2pix_release_computes_the_upstream_test_function_per_image(http_files, load_spy):
    folder, base = http_files
    sd = unet_state(ngf=2, n_downs=8, old=True)
    torch.save(sd, folder / "facades_label2photo.pth")
    config = {"image_size": 256, "ngf": 2, "n_downs": 8, "norm_stats": "image"}
    _entry("tiny-p2p", "pix2pix-tiny", "pix2pix", "junyanz-pix2pix", f"{base}/facades_label2photo.pth", config)
    with pytest.warns(UserWarning, match="publishes no sha256"):
        model = ganzoo.load("pix2pix-tiny")
    assert load_spy == [True]
    x = torch.rand(3, 3, 256, 256) * 2 - 1
    ours = model.translate(x, batch_size=3)  # one batch of three: each image still normalised by its own statistics
    assert torch.allclose(ours, unet_forward(sd, x, 8), atol=1e-5)
    assert torch.allclose(model.translate(x[1:2]), ours[1:2], atol=1e-6)  # no image depends on its batch-mates
    running = ganzoo.create("pix2pix", image_size=256, ngf=2, n_downs=8)
    running.nets["G_AB"].load_state_dict(model.nets["G_AB"].state_dict())
    assert not torch.allclose(running.translate(x), ours, atol=1e-2)  # running statistics: another function


def test_a_wrong_hash_is_refused_before_torch_load(http_files, load_spy):
    folder, base = http_files
    torch.save(cyclegan_state(), folder / "g.pth")
    config = {"image_size": 256, "channels": 3, "ngf": 4, "n_blocks": 2, "one_way": True}
    _entry("tiny-cg", "cyclegan-tiny", "cyclegan", "junyanz-cyclegan", f"{base}/g.pth", config)
    with pytest.warns(UserWarning, match="publishes no sha256"):
        ganzoo.load("cyclegan-tiny")
    first = recorded_pins()[f"{base}/g.pth"]["sha256"]
    shutil.rmtree(cache_root() / "cyclegan-tiny-recorded")
    torch.save(cyclegan_state(ngf=8), folder / "g.pth")  # other bytes behind the same URL
    load_spy.clear()
    with pytest.raises(WeightsError, match=rf"has sha256 [0-9a-f]{{64}}\.\.\., not the pinned {first}: .* not opened"):
        ganzoo.load("cyclegan-tiny")
    assert load_spy == [] and not (cache_root() / "cyclegan-tiny-recorded").exists()


def _without(sd: dict, key: str) -> dict:
    return {k: v for k, v in sd.items() if k != key}


@pytest.mark.parametrize(
    "importer, state, message",
    [
        ("junyanz-cyclegan", _without(cyclegan_state(), "model.10.conv_block.5.bias"), "lacks tensor 'model.10.conv"),
        (
            "junyanz-cyclegan",
            {**cyclegan_state(), "model.3.weight": torch.ones(2)},
            "unexpected tensor 'model.3.weight'",
        ),
        (
            "junyanz-cyclegan",
            {**cyclegan_state(), "model.10.conv_block.1.bias": torch.ones(5)},
            "'model.10.conv_block.1.bias'",
        ),
        (
            "junyanz-cyclegan",
            {**cyclegan_state(old=True), "model.5.running_mean": torch.ones(3)},
            "'model.5.running_mean'",
        ),
        (
            "junyanz-pix2pix",
            _without(unet_state(), "model.model.1.model.2.running_var"),
            "lacks tensor 'model.model.1.model.2.running_var'",
        ),
        (
            "junyanz-pix2pix",
            {**unet_state(), "model.model.1.model.9.weight": torch.ones(2)},
            "unexpected tensor 'model.model.1.model.9.weight'",
        ),
        (
            "junyanz-pix2pix",
            {**unet_state(), "model.model.1.model.5.weight": torch.ones(4, 2, 4, 4)},
            "'model.model.1.model.5.weight'",
        ),
    ],
    ids=["cg-missing", "cg-extra", "cg-misshaped", "cg-bad-norm-buffer", "p2p-missing", "p2p-extra", "p2p-misshaped"],
)
def test_conversion_names_the_missing_extra_or_misshaped_upstream_tensor(importer, state, message):
    with pytest.raises(WeightsError, match=message):
        convert(importer, state)


def test_translate_command_on_an_odd_sized_jpeg(tmp_path, http_files):
    folder, base = http_files
    sd = cyclegan_state(ngf=4, n_blocks=2)
    torch.save(sd, folder / "g.pth")
    config = {"image_size": 256, "channels": 3, "ngf": 4, "n_blocks": 2, "one_way": True}
    _entry("tiny-cg", "cyclegan-tiny", "cyclegan", "junyanz-cyclegan", f"{base}/g.pth", config)
    src = tmp_path / "horse.jpg"
    Image.fromarray((torch.rand(53, 37, 3) * 255).byte().numpy()).save(src)  # 37 wide, 53 high
    run = CliRunner().invoke
    done = run(cli, ["translate", "cyclegan-tiny", str(src), "-o", str(tmp_path / "zebra.jpg")])
    assert done.exit_code == 0, done.output
    assert Image.open(tmp_path / "zebra.jpg").size == (256, 256)  # the model's side, as the authors' test.py writes
    done = run(cli, ["translate", "cyclegan-tiny", str(src), "-o", str(tmp_path / "z.png"), "--size", "original"])
    assert done.exit_code == 0 and Image.open(tmp_path / "z.png").size == (37, 53)
    # the pixels are the upstream pipeline's: bicubic resize to 256, [-1, 1], the generator, 8-bit pixels
    done = run(cli, ["translate", "cyclegan-tiny", str(src), "-o", str(tmp_path / "exact.png")])
    assert done.exit_code == 0, done.output
    x = torch.from_numpy(np.asarray(Image.open(src).convert("RGB").resize((256, 256), Image.BICUBIC), "float32"))
    want = cyclegan_forward(sd, x.permute(2, 0, 1)[None] / 127.5 - 1, 2)[0].add(1).mul(127.5)  # (3, 256, 256)
    got = torch.from_numpy(np.asarray(Image.open(tmp_path / "exact.png"), "float32")).permute(2, 0, 1)
    assert (got - want).abs().max() <= 0.5 + 1e-3  # rounded to the nearest 8-bit level

    kept = run(cli, ["translate", "cyclegan-tiny", str(src), "-o", str(src)])  # never over a file unasked
    assert kept.exit_code != 0 and "exists; ganzoo will not replace it: pass --force" in kept.output
    (tmp_path / "notes.png").write_text("my notes")
    forced = run(cli, ["translate", "cyclegan-tiny", str(src), "-o", str(tmp_path / "notes.png"), "--force"])
    assert forced.exit_code != 0 and "is not an image; ganzoo will not overwrite it" in forced.output
    assert (tmp_path / "notes.png").read_text() == "my notes"
    back = run(cli, ["translate", "cyclegan-tiny", str(src), "-o", str(tmp_path / "b.png"), "--direction", "b2a"])
    assert back.exit_code != 0 and "translates one way only" in back.output and not (tmp_path / "b.png").exists()
    (tmp_path / "text.jpg").write_text("not a picture")
    bad = run(cli, ["translate", "cyclegan-tiny", str(tmp_path / "text.jpg"), "-o", str(tmp_path / "c.png")])
    assert bad.exit_code != 0 and f"cannot read image {tmp_path / 'text.jpg'}" in bad.output
    sampler = run(cli, ["translate", "dcgan-mnist", str(src), "-o", str(tmp_path / "d.png")])
    assert sampler.exit_code != 0 and "generates from noise, not a translator" in sampler.output


def test_translate_takes_a_pil_image_or_a_path_of_any_size(tmp_path):
    model = ganzoo.load("cyclegan-mnist-inverted")  # bundled: 32x32 grayscale
    picture = Image.fromarray((torch.rand(45, 23) * 255).byte().numpy())
    out = model.translate(picture)
    assert out.size == (32, 32) and out.mode == "L"
    assert model.translate(picture, "b2a", size="original").size == (23, 45)
    picture.save(tmp_path / "digit.png")
    assert np.array_equal(np.asarray(model.translate(tmp_path / "digit.png")), np.asarray(out))
    with pytest.raises(ValueError, match="size must be 'model'"):
        model.translate(picture, size="big")
    with pytest.raises(TypeError, match="generates from noise"):
        ganzoo.load("dcgan-mnist").translate(picture)


def test_the_released_entries_are_listed_and_need_no_download(load_spy, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("describing a catalog entry downloaded something")

    monkeypatch.setattr("ganzoo.importers.fetch", no_network)
    names = [m.name for m in plugins.get_state().models]
    released = [n for n in names if n.startswith(("cyclegan-", "pix2pix-")) and "mnist" not in n]
    assert len(released) == 23 and {"cyclegan-horse2zebra", "cyclegan-style-monet", "pix2pix-facades"} <= set(released)
    for name in released:
        card = ganzoo.info(name)
        assert card.availability == "import (hash recorded at first download)" and card.license == "BSD-2-Clause"
        assert card.source["url"].startswith("http://efrosgans.eecs.berkeley.edu/") and card.source["url"].endswith(
            ".pth"
        )
        assert "256x256" in card.source["input"] and "sha256" in card.source["hash_policy"]
    full = cyclegan_state(ngf=64, n_blocks=9)  # the authors' resnet_9blocks: 11,378,179 parameters
    model, _ = convert("junyanz-cyclegan", full, expect=ganzoo.info("cyclegan-horse2zebra").config)
    assert sum(p.numel() for p in model.nets["G_AB"].parameters()) == 11_378_179
    full = unet_state(ngf=64, n_downs=8)  # the authors' unet_256: 54,413,955 parameters
    model, _ = convert("junyanz-pix2pix", full, expect=ganzoo.info("pix2pix-facades").config)
    assert sum(p.numel() for p in model.nets["G_AB"].parameters()) == 54_413_955
    result = CliRunner().invoke(cli, ["info", "pix2pix-facades"])
    assert result.exit_code == 0 and "facades_label2photo.pth" in result.output and load_spy == []
    listed = CliRunner().invoke(cli, ["list", "cyclegan-*"])
    assert "cyclegan-horse2zebra             cyclegan  import (hash recorded at first download)" in listed.output
