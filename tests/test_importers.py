"""Importers: other libraries' checkpoints, in their exact layouts, served over loopback, verified, converted, cached.

Each upstream generator is also written here as plain torch ops on the raw state dict, from the
upstream source (mmagic's DCGANGenerator with mmcv ConvModules; StudioGAN's resnet Generator with
its ConditionalBatchNorm2d and its deep_conv DCGAN Generator), so that a conversion is checked
against the function it must compute.
"""

import re
import shutil
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from huggingface_hub import HfApi
from huggingface_hub import constants as hf_constants

import ganzoo
from ganzoo.importers import WeightsError, cache_root, convert, recorded_pins
from ganzoo.networks import count_parameters

from .conftest import register_entry, sha256_of

STUDIOGAN_REPO = "Mingguksky/PyTorch-StudioGAN"
STUDIOGAN_FILE = "studiogan_official_ckpt/CIFAR10_tailored/CIFAR10-TINY-train/model=G-best-weights-step=8.pth"


# ---- checkpoints in the upstream layouts ----------------------------------------------------------


def _bn(sd, prefix, c, affine=True):
    if affine:
        sd[f"{prefix}.weight"], sd[f"{prefix}.bias"] = 1 + 0.1 * torch.randn(c), 0.1 * torch.randn(c)
    sd[f"{prefix}.running_mean"], sd[f"{prefix}.running_var"] = 0.1 * torch.randn(c), 0.5 + torch.rand(c)
    sd[f"{prefix}.num_batches_tracked"] = torch.tensor(1000)


def mmagic_state(nz=8, base=32, n_mid=1, channels=3):
    """mmagic DCGAN at 4 * 2**(n_mid+1) pixels: ConvModule keys (conv, bn), generator and discriminator."""
    sd = OrderedDict()
    sd["generator.noise2feat.conv.weight"] = 0.2 * torch.randn(nz, base, 4, 4)  # no bias: a BN follows
    _bn(sd, "generator.noise2feat.bn", base)
    width = base
    for i in range(n_mid):
        sd[f"generator.upsampling.{i}.conv.weight"] = 0.2 * torch.randn(width, width // 2, 4, 4)
        _bn(sd, f"generator.upsampling.{i}.bn", width // 2)
        width //= 2
    sd["generator.output_layer.conv.weight"] = 0.2 * torch.randn(width, channels, 4, 4)
    sd["generator.output_layer.conv.bias"] = 0.1 * torch.randn(channels)  # no norm after it: a bias
    sd["discriminator.downsamples.0.conv.weight"] = torch.randn(16, channels, 4, 4)
    sd["discriminator.downsamples.0.conv.bias"] = torch.randn(16)
    sd["discriminator.output_layer.conv.weight"] = torch.randn(1, 16, 4, 4)
    sd["discriminator.output_layer.conv.bias"] = torch.randn(1)
    return sd


def mmagic_checkpoint(sd):
    """What mmcv's runner saves and OpenMMLab's publish script keeps: meta and state_dict (optimizer removed)."""
    return {
        "meta": {"mmgen_version": "0.2.0", "iter": 300000, "config": "model = dict(type='StaticUnconditionalGAN')"},
        "state_dict": sd,
    }


def mmagic_forward(sd, z):
    """DCGANGenerator.forward in eval mode: ConvModule = conv, bn (eps 1e-5), ReLU; output conv + Tanh. BGR out."""
    x = z[:, :, None, None]  # (B, nz, 1, 1)
    names = ["generator.noise2feat"] + sorted(
        {k.rsplit(".", 2)[0] for k in sd if k.startswith("generator.upsampling.")}
    )
    for i, name in enumerate(names):
        x = F.conv_transpose2d(
            x, sd[f"{name}.conv.weight"], None, stride=1 if i == 0 else 2, padding=0 if i == 0 else 1
        )
        x = F.batch_norm(
            x,
            sd[f"{name}.bn.running_mean"],
            sd[f"{name}.bn.running_var"],
            sd[f"{name}.bn.weight"],
            sd[f"{name}.bn.bias"],
            training=False,
            eps=1e-5,
        )
        x = F.relu(x)
    x = F.conv_transpose2d(x, sd["generator.output_layer.conv.weight"], sd["generator.output_layer.conv.bias"], 2, 1)
    return torch.tanh(x)  # (B, C, S, S), channels B, G, R


def studiogan_state(nz=16, ch=8, classes=3, n_blocks=3):
    """StudioGAN resnet Generator (SNGAN: g_cond_mtd cBN) at 32x32: linear0, blocks.i.0.*, bn4, conv2d5."""
    sd = OrderedDict()
    sd["linear0.weight"], sd["linear0.bias"] = 0.2 * torch.randn(ch * 16, nz), 0.1 * torch.randn(ch * 16)
    for i in range(n_blocks):
        p = f"blocks.{i}.0"
        for bn in ("bn1", "bn2"):  # ops.ConditionalBatchNorm2d: bn (affine=False, eps 1e-4), gain, bias Linear
            _bn(sd, f"{p}.{bn}.bn", ch, affine=False)
            sd[f"{p}.{bn}.gain.weight"] = 0.2 * torch.randn(ch, classes)
            sd[f"{p}.{bn}.bias.weight"] = 0.2 * torch.randn(ch, classes)
        for conv, k in (("conv2d0", 1), ("conv2d1", 3), ("conv2d2", 3)):
            sd[f"{p}.{conv}.weight"], sd[f"{p}.{conv}.bias"] = 0.2 * torch.randn(ch, ch, k, k), 0.1 * torch.randn(ch)
    _bn(sd, "bn4", ch)
    sd["conv2d5.weight"], sd["conv2d5.bias"] = 0.2 * torch.randn(3, ch, 3, 3), 0.1 * torch.randn(3)
    return sd


def studiogan_shared_state(nz=16, ch=8, classes=3, n_blocks=3):
    """The same Generator as saved before StudioGAN's 2022-03-06 resnet.py: a class embedding ``shared`` (K, nz)
    feeds every cBN, whose gain and bias Linears read nz features instead of a one-hot label."""
    sd = studiogan_state(nz, ch, classes, n_blocks)
    sd["shared.weight"] = torch.randn(classes, nz)  # nn.Embedding(num_classes, z_dim)
    for key in [k for k in sd if k.endswith((".gain.weight", ".bias.weight"))]:
        sd[key] = 0.2 * torch.randn(ch, nz) / nz**0.5  # (C, nz)
    return sd


def studiogan_checkpoint(sd):
    """What StudioGAN's worker saves for G: its state dict and the optimizer's."""
    return {
        "state_dict": sd,
        "optimizer": {
            "state": {0: {"step": torch.tensor(8.0), "exp_avg": torch.zeros(2)}},
            "param_groups": [{"lr": 2e-4, "betas": (0.0, 0.9), "params": [0]}],
        },
    }


def studiogan_forward(sd, z, y, classes):
    """StudioGAN's resnet Generator.forward in eval mode, from models/resnet.py and utils/ops.py (before
    2022-03-06 the cBN Linears read the class embedding shared(y), since then one_hot(y))."""
    affine = sd["shared.weight"][y] if "shared.weight" in sd else F.one_hot(y, classes).float()  # (B, nz) or (B, K)

    def cbn(x, p):  # out * (1 + gain(y)) + bias(y), the batch norm without affine, eps 1e-4
        h = F.batch_norm(x, sd[f"{p}.bn.running_mean"], sd[f"{p}.bn.running_var"], training=False, eps=1e-4)
        gain = 1 + F.linear(affine, sd[f"{p}.gain.weight"])
        return h * gain[:, :, None, None] + F.linear(affine, sd[f"{p}.bias.weight"])[:, :, None, None]

    x = F.linear(z, sd["linear0.weight"], sd["linear0.bias"]).view(z.shape[0], -1, 4, 4)
    for i in range(len({k.split(".")[1] for k in sd if k.startswith("blocks.")})):
        p = f"blocks.{i}.0"
        h = F.interpolate(F.relu(cbn(x, f"{p}.bn1")), scale_factor=2, mode="nearest")
        h = F.conv2d(h, sd[f"{p}.conv2d1.weight"], sd[f"{p}.conv2d1.bias"], padding=1)
        h = F.conv2d(F.relu(cbn(h, f"{p}.bn2")), sd[f"{p}.conv2d2.weight"], sd[f"{p}.conv2d2.bias"], padding=1)
        x = h + F.conv2d(
            F.interpolate(x, scale_factor=2, mode="nearest"), sd[f"{p}.conv2d0.weight"], sd[f"{p}.conv2d0.bias"]
        )
    x = F.relu(
        F.batch_norm(
            x, sd["bn4.running_mean"], sd["bn4.running_var"], sd["bn4.weight"], sd["bn4.bias"], training=False, eps=1e-4
        )
    )
    return torch.tanh(F.conv2d(x, sd["conv2d5.weight"], sd["conv2d5.bias"], padding=1))


def studiogan_dcgan_state(nz=16, ngf=8, n_blocks=3, channels=3):
    """StudioGAN deep_conv Generator (DCGAN, g_cond_mtd "W/O"): linear0, blocks.i.0.{deconv0, bn0}, conv4."""
    sd = OrderedDict()
    width = ngf * 2**n_blocks  # 512 at ngf 64, as models/deep_conv.py's in_dims[0]
    sd["linear0.weight"], sd["linear0.bias"] = torch.randn(width * 16, nz) / nz**0.5, 0.1 * torch.randn(width * 16)
    x = F.linear(torch.randn(32, nz), sd["linear0.weight"], sd["linear0.bias"]).view(32, width, 4, 4)
    for i in range(n_blocks):
        p = f"blocks.{i}.0"
        sd[f"{p}.deconv0.weight"] = 0.03 * torch.randn(width, width // 2, 4, 4) / width**0.5
        sd[f"{p}.deconv0.bias"] = 0.3 * torch.randn(width // 2)  # ops.deconv2d: bias=True, a BN follows
        _bn(sd, f"{p}.bn0", width // 2)
        x = F.conv_transpose2d(x, sd[f"{p}.deconv0.weight"], sd[f"{p}.deconv0.bias"], stride=2, padding=1)
        # running statistics near the batch's, as training leaves them (small variances: the eps 1e-4 shows)
        sd[f"{p}.bn0.running_mean"] = x.mean((0, 2, 3)) + 0.01 * torch.randn(width // 2)
        sd[f"{p}.bn0.running_var"] = x.var((0, 2, 3)) * (0.5 + torch.rand(width // 2))
        x = F.relu(
            F.batch_norm(
                x,
                sd[f"{p}.bn0.running_mean"],
                sd[f"{p}.bn0.running_var"],
                sd[f"{p}.bn0.weight"],
                sd[f"{p}.bn0.bias"],
                training=False,
                eps=1e-4,
            )
        )
        width //= 2
    sd["conv4.weight"], sd["conv4.bias"] = (
        0.5 * torch.randn(channels, ngf, 3, 3) / ngf**0.5,
        0.1 * torch.randn(channels),
    )
    return sd


def studiogan_dcgan_forward(sd, z):
    """StudioGAN's deep_conv Generator.forward in eval mode, from models/deep_conv.py and utils/ops.py."""
    x = F.linear(z, sd["linear0.weight"], sd["linear0.bias"])
    x = x.view(z.shape[0], -1, 4, 4)  # act.view(-1, in_dims[0], 4, 4): no norm, no activation
    for i in range(len({k.split(".")[1] for k in sd if k.startswith("blocks.")})):
        p = f"blocks.{i}.0"  # GenBlock: deconv0 (4, stride 2, padding 1), bn0 (eps 1e-4), ReLU
        x = F.conv_transpose2d(x, sd[f"{p}.deconv0.weight"], sd[f"{p}.deconv0.bias"], stride=2, padding=1)
        x = F.relu(
            F.batch_norm(
                x,
                sd[f"{p}.bn0.running_mean"],
                sd[f"{p}.bn0.running_var"],
                sd[f"{p}.bn0.weight"],
                sd[f"{p}.bn0.bias"],
                training=False,
                eps=1e-4,
            )
        )
    return torch.tanh(F.conv2d(x, sd["conv4.weight"], sd["conv4.bias"], padding=1))  # conv4: 3x3, stride 1, padding 1


def _catalog(plugin_name, **card):
    """Register a catalog entry in-process, as a third-party plugin would (data set: CelebA unless named)."""
    register_entry(plugin_name, **{"dataset": "celeba:ROOT", **card})


# ---- mmagic DCGAN over a plain URL ------------------------------------------------------------------


def test_mmagic_dcgan_downloads_verifies_converts_caches_and_computes_the_upstream_function(
    tmp_path, http_files, load_spy
):
    folder, base = http_files
    sd = mmagic_state()
    torch.save(mmagic_checkpoint(sd), folder / "dcgan.pth")
    sha = sha256_of(folder / "dcgan.pth")
    _catalog(
        "tiny-mmagic",
        name="dcgan-tiny-mmagic",
        variant="dcgan",
        license="Apache-2.0",
        config={"image_size": 16, "ngf": 16, "out_bias": True},
        metrics={"swd": {"value": 1.5, "protocol": "reported by upstream, not re-measured"}},
        source={"importer": "mmagic-dcgan", "url": f"{base}/dcgan.pth", "sha256_prefix": sha[:8]},
    )

    with pytest.warns(UserWarning, match=rf"publishes no sha256 for .*dcgan.pth; this first download's, {sha}, is now"):
        model = ganzoo.load("dcgan-tiny-mmagic")
    assert load_spy == [True]  # read once, with weights_only=True
    assert recorded_pins()[f"{base}/dcgan.pth"]["sha256"] == sha  # shown, recorded, enforced from now on
    z = torch.randn(5, 8)
    with torch.no_grad():
        ours = model.nets["G"](z[:, :, None, None])
    bgr = mmagic_forward(sd, z)
    assert torch.allclose(ours, bgr[:, [2, 1, 0]], atol=1e-6)  # the same function, channels made RGB
    assert not torch.allclose(ours, bgr, atol=1e-3)

    cached = cache_root() / "dcgan-tiny-mmagic-recorded"
    assert sorted(p.name for p in cached.iterdir()) == ["README.md", "config.json", "model.safetensors", "samples.png"]
    card = (cached / "README.md").read_text()
    assert "license: apache-2.0" in card and "**swd**: 1.5 — protocol: reported by upstream, not re-measured" in card
    assert f"sha256 {sha}" in card and "ganzoo import mmagic-dcgan:" in card
    assert not any((cache_root() / "downloads").iterdir())  # the pickle is not kept

    load_spy.clear()
    (folder / "dcgan.pth").unlink()  # later loads need neither the network nor the pickle
    again = ganzoo.load("dcgan-tiny-mmagic")
    assert load_spy == []
    assert torch.equal(again.sample(3, seed=4), model.sample(3, seed=4))


def test_a_tampered_download_is_refused_before_it_is_unpickled(tmp_path, http_files, load_spy):
    folder, base = http_files
    torch.save(mmagic_checkpoint(mmagic_state()), folder / "dcgan.pth")
    sha = sha256_of(folder / "dcgan.pth")
    torch.save(mmagic_checkpoint(mmagic_state()), folder / "dcgan.pth")  # other weights behind the same URL
    _catalog(
        "tiny-mmagic",
        name="dcgan-tiny-mmagic",
        variant="dcgan",
        source={"importer": "mmagic-dcgan", "url": f"{base}/dcgan.pth", "sha256_prefix": sha[:8]},
    )
    with pytest.raises(
        WeightsError,
        match=rf"dcgan.pth has sha256 [0-9a-f]{{16}}\.\.\., not the published prefix {sha[:8]}: it is not "
        r"the published file \(tampered or corrupt\), so it was not opened",
    ):
        ganzoo.load("dcgan-tiny-mmagic")
    assert load_spy == []  # never unpickled
    assert not (cache_root() / "dcgan-tiny-mmagic-recorded").exists() and recorded_pins() == {}
    assert not any((cache_root() / "downloads").iterdir())


def test_a_first_download_hash_is_recorded_and_enforced_afterwards(tmp_path, http_files, load_spy):
    """Where the upstream publishes no hash, the first download's sha256 is recorded (and shown); a later download
    of other bytes behind the same URL is refused before it is unpickled."""
    folder, base = http_files
    torch.save(mmagic_checkpoint(mmagic_state()), folder / "dcgan.pth")
    first = sha256_of(folder / "dcgan.pth")
    _catalog(
        "tiny-mmagic",
        name="dcgan-tiny-mmagic",
        variant="dcgan",
        source={"importer": "mmagic-dcgan", "url": f"{base}/dcgan.pth"},
    )
    assert ganzoo.info("dcgan-tiny-mmagic").availability == "import (hash recorded at first download)"
    with pytest.warns(UserWarning, match=first):
        ganzoo.load("dcgan-tiny-mmagic")
    shutil.rmtree(cache_root() / "dcgan-tiny-mmagic-recorded")  # the cache is gone: the next load downloads again
    torch.save(mmagic_checkpoint(mmagic_state()), folder / "dcgan.pth")  # and the upstream file has changed
    load_spy.clear()
    with pytest.raises(WeightsError, match=rf"has sha256 [0-9a-f]{{64}}\.\.\., not the pinned {first}"):
        ganzoo.load("dcgan-tiny-mmagic")
    assert load_spy == [] and not (cache_root() / "dcgan-tiny-mmagic-recorded").exists()
    (cache_root() / "pins.json").write_text("{not json")
    with pytest.raises(WeightsError, match=r"pins.json is damaged .* restore it from a copy, or delete it"):
        ganzoo.load("dcgan-tiny-mmagic")


# ---- StudioGAN SNGAN from the Hub -----------------------------------------------------------------------


def _reload_offline(name: str, hub, monkeypatch, load_spy) -> "ganzoo.GanModel":
    """Load catalog entry ``name`` again with the Hub gone and offline: from the cached folder, unpickling nothing."""
    load_spy.clear()
    hub.stop()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    model = ganzoo.load(name)
    assert load_spy == []
    return model


STUDIOGAN_EFFICIENT_FILE = (
    "studiogan_official_ckpt/Efficient-CIFAR10-100%/CIFAR10-SNGAN-DiffAug-train-TINY/"
    "model=G-best-weights-step=8.pth"
)  # a '%' and '=' in the path, as the Hub's release


@pytest.mark.parametrize("layout", ["current", "class-embedding"])  # since 2022-03 / the older 'shared.weight' files
def test_studiogan_sngan_from_the_hub_computes_the_upstream_function_and_loads_offline(
    tmp_path, hub, monkeypatch, load_spy, layout
):
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    torch.manual_seed(0)  # the same random weights whatever ran before in this worker
    sd, file = (
        (studiogan_state(), STUDIOGAN_FILE)
        if layout == "current"
        else (studiogan_shared_state(), STUDIOGAN_EFFICIENT_FILE)
    )
    path = tmp_path / "g.pth"
    torch.save(studiogan_checkpoint(sd), path)
    api = HfApi(endpoint=hub.endpoint, token=False)
    api.create_repo(STUDIOGAN_REPO)
    api.upload_file(path_or_fileobj=str(path), path_in_repo=file, repo_id=STUDIOGAN_REPO)
    _catalog(
        "tiny-studiogan",
        name="sngan-tiny-studiogan",
        variant="sngan",
        dataset="cifar10:ROOT",
        config={"num_classes": 3, "bn_eps": 1e-4},
        source={
            "importer": "studiogan-sngan",
            "hub": STUDIOGAN_REPO,
            "file": file,
            "sha256": sha256_of(path),
            "classes": ["a", "b", "c"],
        },
    )

    model = ganzoo.load("sngan-tiny-studiogan")
    assert load_spy == [True] and model.classes == ["a", "b", "c"] and model.num_classes == 3
    z, y = torch.randn(6, 16), torch.tensor([0, 1, 2, 2, 1, 0])
    with torch.no_grad():
        ours = model.nets["G"](z, y)
    # the current layout computes the same operations (measured: equal bits); the older one's class embedding
    # is folded into the cBN Linears, a product in another order (measured over 200 random draws: at most 1.8e-5)
    assert torch.allclose(ours, studiogan_forward(sd, z, y, 3), atol=1e-5 if layout == "current" else 1e-4)

    again = _reload_offline("sngan-tiny-studiogan", hub, monkeypatch, load_spy)
    assert torch.equal(again.sample(4, seed=2, labels=1), model.sample(4, seed=2, labels=1))


# ---- StudioGAN DCGAN from the Hub -----------------------------------------------------------------------

STUDIOGAN_DCGAN_FILE = (
    "studiogan_official_ckpt/CIFAR10_tailored/CIFAR10-DCGAN-train-TINY/model=G-best-weights-step=8.pth"
)


def test_studiogan_dcgan_from_the_hub_is_verified_computes_the_upstream_function_and_loads_offline(
    tmp_path, hub, monkeypatch, load_spy
):
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    sd = studiogan_dcgan_state()
    path, other = tmp_path / "g.pth", tmp_path / "other.pth"
    torch.save(studiogan_checkpoint(sd), path)
    torch.save(studiogan_checkpoint(studiogan_dcgan_state()), other)
    api = HfApi(endpoint=hub.endpoint, token=False)
    api.create_repo(STUDIOGAN_REPO)
    api.upload_file(path_or_fileobj=str(other), path_in_repo=STUDIOGAN_DCGAN_FILE, repo_id=STUDIOGAN_REPO)
    source = {
        "importer": "studiogan-dcgan",
        "hub": STUDIOGAN_REPO,
        "file": STUDIOGAN_DCGAN_FILE,
        "sha256": sha256_of(path),
    }
    _catalog(
        "tiny-studiogan-dcgan",
        name="dcgan-tiny-studiogan",
        variant="dcgan",
        dataset="cifar10:ROOT",
        config={"image_size": 32, "nz": 16, "ngf": 8, "g_stem": "linear", "g_head": "conv3x3"},
        source=source,
    )

    with pytest.raises(
        WeightsError,
        match=rf"has sha256 [0-9a-f]{{64}}\.\.\., not the pinned {sha256_of(path)}: it is not the "
        r"published file \(tampered or corrupt\), so it was not opened",
    ):
        ganzoo.load("dcgan-tiny-studiogan")  # the Hub serves other weights than the pinned file
    assert load_spy == [] and not (cache_root() / f"dcgan-tiny-studiogan-{sha256_of(path)[:16]}").exists()

    api.upload_file(path_or_fileobj=str(path), path_in_repo=STUDIOGAN_DCGAN_FILE, repo_id=STUDIOGAN_REPO)
    model = ganzoo.load("dcgan-tiny-studiogan")
    assert load_spy == [True] and model.num_classes == 0
    assert (model.config.g_stem, model.config.g_head, model.config.bn_eps, model.config.out_bias) == (
        "linear",
        "conv3x3",
        1e-4,
        True,
    )
    z = torch.randn(6, 16)
    with torch.no_grad():
        ours = model.nets["G"](z[:, :, None, None])  # (6, 3, 32, 32)
    assert ours.shape == (6, 3, 32, 32)
    assert torch.allclose(ours, studiogan_dcgan_forward(sd, z), atol=1e-5)

    again = _reload_offline("dcgan-tiny-studiogan", hub, monkeypatch, load_spy)
    assert torch.equal(again.sample(4, seed=2), model.sample(4, seed=2))


# ---- strict conversion ------------------------------------------------------------------------------------


def _drop(sd, key):
    del sd[key]


def _add(sd, key):
    sd[key] = torch.zeros(3)


def _reshape(sd, key):
    sd[key] = torch.zeros(sd[key].shape[0] + 1, *sd[key].shape[1:])


def _widen(sd, key):
    sd[key] = torch.zeros(sd[key].shape[0], sd[key].shape[1] + 1)


@pytest.mark.parametrize(
    "importer, make, wrap, edit, key, message",
    [
        (
            "mmagic-dcgan",
            mmagic_state,
            mmagic_checkpoint,
            _drop,
            "generator.upsampling.0.bn.running_var",
            "lacks tensor",
        ),
        ("mmagic-dcgan", mmagic_state, mmagic_checkpoint, _add, "generator.to_rgb.weight", "has unexpected tensor"),
        (
            "mmagic-dcgan",
            mmagic_state,
            mmagic_checkpoint,
            _reshape,
            "generator.upsampling.0.bn.weight",
            "gives G.main.4.weight of shape",
        ),
        ("mmagic-dcgan", mmagic_state, mmagic_checkpoint, _drop, "generator.output_layer.conv.bias", "lacks tensor"),
        ("studiogan-sngan", studiogan_state, studiogan_checkpoint, _drop, "blocks.1.0.bn2.gain.weight", "lacks tensor"),
        (
            "studiogan-sngan",
            studiogan_state,
            studiogan_checkpoint,
            _add,
            "blocks.0.0.attention.sigma",
            "has unexpected tensor",
        ),
        (
            "studiogan-sngan",
            studiogan_state,
            studiogan_checkpoint,
            _reshape,
            "blocks.2.0.conv2d1.bias",
            "gives G.blocks.2.c1.bias of shape",
        ),
        (
            "studiogan-sngan",
            studiogan_shared_state,
            studiogan_checkpoint,
            _drop,
            "blocks.1.0.bn2.bias.weight",
            "lacks tensor",
        ),
        (
            "studiogan-sngan",
            studiogan_shared_state,
            studiogan_checkpoint,
            _widen,
            "blocks.0.0.bn1.gain.weight",
            "has tensor",
        ),
        ("studiogan-sngan", studiogan_shared_state, studiogan_checkpoint, _add, "shared.bias", "has unexpected tensor"),
        (
            "studiogan-sngan",
            studiogan_shared_state,
            studiogan_checkpoint,
            _reshape,
            "blocks.2.0.bn2.gain.weight",
            "gives G.blocks.2.b2.gain.weight of shape",
        ),
        (
            "studiogan-dcgan",
            studiogan_dcgan_state,
            studiogan_checkpoint,
            _drop,
            "blocks.1.0.bn0.running_var",
            "lacks tensor",
        ),
        (
            "studiogan-dcgan",
            studiogan_dcgan_state,
            studiogan_checkpoint,
            _drop,
            "blocks.2.0.deconv0.bias",
            "lacks tensor",
        ),
        (
            "studiogan-dcgan",
            studiogan_dcgan_state,
            studiogan_checkpoint,
            _add,
            "blocks.1.0.attention.sigma",
            "has unexpected tensor",
        ),
        (
            "studiogan-dcgan",
            studiogan_dcgan_state,
            studiogan_checkpoint,
            _reshape,
            "blocks.2.0.deconv0.weight",
            "gives G.main.9.weight of shape",
        ),
        ("studiogan-dcgan", studiogan_dcgan_state, studiogan_checkpoint, _reshape, "blocks.0.0.deconv0.bias", "tensor"),
        ("studiogan-dcgan", studiogan_dcgan_state, studiogan_checkpoint, _reshape, "linear0.weight", "tensor"),
    ],
)
def test_conversion_is_strict_and_names_the_upstream_tensor(importer, make, wrap, edit, key, message):
    sd = make()
    edit(sd, key)
    with pytest.raises(WeightsError, match=rf"{message}.*" if "gives" in message else rf"{message} '{key}'") as info:
        convert(importer, wrap(sd))
    assert key in str(info.value) and "\n" not in str(info.value)


def test_a_checkpoint_in_another_layout_is_refused():
    with pytest.raises(
        WeightsError, match=r"mmagic-dcgan: the checkpoint has no 'state_dict' entry \(found \['generator'\]\)"
    ):
        convert("mmagic-dcgan", {"generator": mmagic_state()})
    with pytest.raises(WeightsError, match=r"studiogan-sngan: the checkpoint lacks tensor 'linear0.weight'"):
        convert("studiogan-sngan", mmagic_checkpoint(mmagic_state()))
    with pytest.raises(WeightsError, match=r"studiogan-dcgan: the checkpoint lacks tensor 'conv4.weight'"):
        convert("studiogan-dcgan", studiogan_checkpoint(studiogan_state()))  # an SNGAN generator
    conditional = studiogan_dcgan_state()  # g_cond_mtd "cBN": each bn0 an ops.ConditionalBatchNorm2d
    for i in range(3):
        for k in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
            conditional[f"blocks.{i}.0.bn0.bn.{k}"] = conditional.pop(f"blocks.{i}.0.bn0.{k}")
        conditional[f"blocks.{i}.0.bn0.gain.weight"] = conditional[f"blocks.{i}.0.bn0.bias.weight"] = torch.zeros(4, 10)
    with pytest.raises(
        WeightsError,
        match=r"studiogan-dcgan: the checkpoint is a class- or code-conditional StudioGAN "
        r"DCGAN \(cBN\): ganzoo converts StudioGAN's unconditional DCGAN \(g_cond_mtd \"W/O\"\) only",
    ):
        convert("studiogan-dcgan", studiogan_checkpoint(conditional))


# ---- weights_only, the command, the real catalog entries -----------------------------------------------------


RAN = []


class Payload:
    """An object whose unpickling would run code: weights_only must refuse it without running it."""

    def __reduce__(self):
        return (RAN.append, ("unpickled",))


def test_a_checkpoint_that_needs_code_is_refused_by_weights_only(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"meta": Payload(), "state_dict": mmagic_state()}, path)
    with pytest.raises(
        WeightsError,
        match=r"evil.pth needs more than tensors and plain containers to be read \(.*\); ganzoo "
        r"reads checkpoints with torch.load\(weights_only=True\) only, which runs no code",
    ):
        ganzoo.importers.import_checkpoint("mmagic-dcgan", str(path), tmp_path / "out")
    assert RAN == [] and not (tmp_path / "out").exists()


def test_import_command_converts_a_local_file_and_refuses_a_foreign_folder(tmp_path):
    path = tmp_path / "dcgan.pth"
    sd = mmagic_state(channels=1)
    torch.save(mmagic_checkpoint(sd), path)
    done = _ganzoo("import", f"mmagic-dcgan:{path}", "--out", str(tmp_path / "out"), "--sha256", sha256_of(path))
    assert done.exit_code == 0, done.output
    assert f"(sha256 {sha256_of(path)}) into {tmp_path / 'out'}" in done.output
    z = torch.randn(2, 8)
    with torch.no_grad():  # one channel: nothing to reorder
        assert torch.allclose(
            ganzoo.load(str(tmp_path / "out")).nets["G"](z[:, :, None, None]), mmagic_forward(sd, z), atol=1e-6
        )

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    refused = _ganzoo("import", f"mmagic-dcgan:{path}", "--out", str(mine))
    assert refused.exit_code == 1 and "is not empty and is not a ganzoo model folder" in refused.output
    assert (mine / "notes.txt").read_text() == "keep" and len(list(mine.iterdir())) == 1
    wrong = _ganzoo("import", f"mmagic-dcgan:{path}", "--out", str(tmp_path / "o2"), "--sha256", "0" * 64)
    assert wrong.exit_code == 1 and f"not the pinned {'0' * 64}" in wrong.output and not (tmp_path / "o2").exists()
    prefix = _ganzoo("import", f"mmagic-dcgan:{path}", "--out", str(tmp_path / "o2"), "--sha256", "00000000")
    assert prefix.exit_code == 1 and "full hash, 64 hex digits; got '00000000' (a published prefix" in prefix.output
    unknown = _ganzoo("import", f"mmagic-dcgn:{path}", "--out", str(tmp_path / "o3"))
    assert unknown.exit_code == 1 and "unknown importer 'mmagic-dcgn'; did you mean 'mmagic-dcgan'?" in unknown.output
    listed = _ganzoo("list", "--importers")
    assert [line.split()[:2] for line in listed.output.splitlines()[1:]] == [
        ["junyanz-cyclegan", "cyclegan"],
        ["junyanz-pix2pix", "pix2pix"],
        ["mmagic-dcgan", "dcgan"],
        ["nvlabs-stylegan2-ada", "stylegan2"],
        ["pretrained-biggan-deep", "biggan"],
        ["studiogan-biggan", "biggan"],
        ["studiogan-dcgan", "dcgan"],
        ["studiogan-sngan", "sngan"],
    ]


def _ganzoo(*args):
    from click.testing import CliRunner

    from ganzoo.cli import cli

    return CliRunner().invoke(cli, list(args))


def test_the_catalog_entries_fit_the_upstream_layouts_at_full_size():
    card = ganzoo.info("dcgan-celeba")
    assert card.availability == "import (hash recorded at first download)" and card.source["importer"] == "mmagic-dcgan"
    assert "sha256" not in card.source  # a published prefix is checked, but it is no pin
    assert card.source["url"].endswith(f"-{card.source['sha256_prefix']}.pth")  # OpenMMLab's names carry it
    full = mmagic_state(nz=100, base=1024, n_mid=3)  # mmagic's base_dcgan_64x64: noise 100, base_channels 1024
    model, _ = convert("mmagic-dcgan", mmagic_checkpoint(full), expect=card.config)
    assert model.config.image_size == 64 and model.config.ngf == 128
    with pytest.raises(
        WeightsError,
        match=r"the checkpoint: mmagic-dcgan reads image_size=16 from it, but the catalog entry "
        r"expects 64: it is another release than the entry names",
    ):
        convert("mmagic-dcgan", mmagic_checkpoint(mmagic_state()), expect=card.config)

    dcgan = ganzoo.info("dcgan-cifar10-studiogan")
    assert dcgan.availability == "import" and re.fullmatch(r"[0-9a-f]{64}", dcgan.source["sha256"])
    assert re.fullmatch(
        r"studiogan_official_ckpt/CIFAR10_tailored/CIFAR10-DCGAN-train-\d{4}(_\d\d){5}/"
        r"model=G-best-weights-step=\d+\.pth",
        dcgan.source["file"],
    )  # the path StudioGAN's worker saves
    full = studiogan_dcgan_state(nz=128, ngf=64)  # configs/CIFAR10/DCGAN.yaml: z_dim 128, deep_conv's 512 -> 64 widths
    model, _ = convert("studiogan-dcgan", studiogan_checkpoint(full), expect=dcgan.config)
    # StudioGAN's G has 3,812,355 parameters (x 3 with Adam's moments: the Hub's 45.8 MB files); ganzoo's lacks the
    # 256 + 128 + 64 deconv biases, folded into the batch norms' running means
    assert model.config.image_size == 32 and count_parameters(model.nets["G"]) == 3_812_355 - 448
    sngan = ganzoo.info("sngan-cifar10-studiogan")
    assert sngan.availability == "import (hash recorded at first download)"
    model, _ = convert(
        "studiogan-sngan", studiogan_checkpoint(studiogan_state(nz=128, ch=256, classes=10)), expect=sngan.config
    )
    assert model.num_classes == 10
    asked = []  # without a published hash, the first download is fetched unpinned (then recorded): no network here

    def no_network(location, **kwargs):
        asked.append((location, kwargs.get("sha256")))
        raise FileNotFoundError("no network in the test")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("ganzoo.importers.fetch", no_network)
        with pytest.raises(FileNotFoundError, match="no network"):
            ganzoo.load("sngan-cifar10-studiogan")
    assert asked == [(f"hf-hub:Mingguksky/PyTorch-StudioGAN/{sngan.source['file']}", None)]
    diffaug = ganzoo.info("sngan-diffaug-cifar10-studiogan")
    assert diffaug.availability == "import" and re.fullmatch(r"[0-9a-f]{64}", diffaug.source["sha256"])
    assert re.fullmatch(
        r"studiogan_official_ckpt/Efficient-CIFAR10-100%/CIFAR10-SNGAN-DiffAug-train-\d{4}(_\d\d){5}/"
        r"model=G-best-weights-step=\d+\.pth",
        diffaug.source["file"],
    )
    full = studiogan_shared_state(nz=128, ch=256, classes=10)  # saved in February 2022: the class-embedding layout
    model, _ = convert("studiogan-sngan", studiogan_checkpoint(full), expect=diffaug.config)
    # 4,668,163 upstream parameters (x 3 with Adam's moments: the Hub's 56.1 MB files); folded into per-class rows,
    # 4,304,387, as many as the one-hot layout of StudioGAN's March 2022 runs (its 51.7 MB files)
    buffers = ("running_mean", "running_var", "num_batches_tracked")
    assert sum(v.numel() for k, v in full.items() if not k.endswith(buffers)) == 4_668_163
    assert model.num_classes == 10 and count_parameters(model.nets["G"]) == 4_304_387
