"""NVlabs StyleGAN2-ADA network pickles: read as data (no pickled code run), converted strictly, the same function.

Tiny networks are pickled here in upstream's layout: every network a ``torch_utils.persistence`` record whose
``module_src`` writes a marker file when executed (and stand-ins for ``torch_utils.persistence`` and
``dnnlib.util`` sit in sys.modules while files are read, so any default resolution of a global would run it),
tensors pickled as torch pickles them (storages as ``torch.storage._load_from_bytes`` of torch.save bytes),
numpy gains as numpy scalars. The generator is also written here as plain torch ops on upstream's state dict,
after training/networks.py, torch_utils/ops/conv2d_resample.py, upfirdn2d.py (reference paths) and bias_act.py,
so the conversion is checked against the function upstream computes.
"""

from __future__ import annotations

import io
import math
import os
import pickle
import subprocess
import sys
import types
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from ganzoo_stylegan2 import nvlabs_pickle
from ganzoo_stylegan2.nvlabs_pickle import Record, UnsafePickleError, loads, read_network_pickle

import ganzoo
from ganzoo import plugins
from ganzoo.importers import WeightsError, cache_root, convert

from .conftest import register_entry, sha256_of

FILTER = torch.outer(torch.tensor([1.0, 3, 3, 1]), torch.tensor([1.0, 3, 3, 1])) / 64  # setup_filter([1,3,3,1])
SQRT2 = math.sqrt(2)


# ---- stand-ins for upstream's modules, present while pickles are written and read --------------------------


@pytest.fixture
def marker(tmp_path, monkeypatch):
    """Upstream's module names in sys.modules; executing any pickled module source writes the marker file."""
    path = tmp_path / "EXECUTED"
    persistence = types.ModuleType("torch_utils.persistence")

    def _reconstruct_persistent_obj(meta):  # what upstream does: exec the module source, then rebuild
        exec(meta["module_src"], {})
        obj = P.__new__(P)
        obj.class_name, obj.state = meta["class_name"], meta["state"]
        return obj

    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    persistence._reconstruct_persistent_obj = _reconstruct_persistent_obj
    util = types.ModuleType("dnnlib.util")
    util.EasyDict = type("EasyDict", (dict,), {"__module__": "dnnlib.util"})
    for name, module in {
        "torch_utils": types.ModuleType("torch_utils"),
        "torch_utils.persistence": persistence,
        "dnnlib": types.ModuleType("dnnlib"),
        "dnnlib.util": util,
    }.items():
        monkeypatch.setitem(sys.modules, name, module)
    MARKER[0] = path
    return path


class P:
    """A persistent network as upstream pickles it: _reconstruct_persistent_obj(meta) with its module source."""

    def __init__(self, class_name, params=None, buffers=None, children=None, **attrs):
        self.class_name = class_name
        self.state = {
            "training": False,
            "_parameters": OrderedDict(
                (k, torch.nn.Parameter(v, requires_grad=False)) for k, v in (params or {}).items()
            ),
            "_buffers": OrderedDict(buffers or {}),
            "_non_persistent_buffers_set": set(),
            "_backward_hooks": OrderedDict(),
            "_forward_hooks": OrderedDict(),
            "_modules": OrderedDict(children or {}),
            **attrs,
        }

    def __reduce__(self):
        src = f"open({str(MARKER[0])!r}, 'w').write('executed')\nclass {self.class_name}: pass\n"
        meta = {"type": "class", "version": 6, "module_src": src, "class_name": self.class_name, "state": self.state}
        return (sys.modules["torch_utils.persistence"]._reconstruct_persistent_obj, (meta,))

    def at(self, path):
        node = self
        for part in path.split(".") if path else []:
            node = node.state["_modules"][part]
        return node


MARKER = [None]


def easy(**kwargs):
    return sys.modules["dnnlib.util"].EasyDict(kwargs)


def fc(cin, cout, lr_mul=1, act="linear", bias_init=0.0):
    return P(
        "FullyConnectedLayer",
        {"weight": torch.randn(cout, cin) / lr_mul, "bias": torch.randn(cout) * 0.2 + bias_init / lr_mul},
        activation=act,
        weight_gain=np.float64(lr_mul / np.sqrt(cin)),
        bias_gain=lr_mul,
    )


def layer(cin, cout, w_dim, res, up, clamp):
    return P(
        "SynthesisLayer",
        {"weight": torch.randn(cout, cin, 3, 3), "noise_strength": torch.tensor(0.3), "bias": torch.randn(cout) * 0.2},
        {"resample_filter": FILTER.clone(), "noise_const": torch.randn(res, res)},
        {"affine": fc(w_dim, cin, bias_init=1.0)},
        resolution=res,
        up=up,
        use_noise=True,
        activation="lrelu",
        conv_clamp=clamp,
        padding=1,
        act_gain=np.float64(np.sqrt(2)),
    )


def upstream_generator(
    res=16, z_dim=6, w_dim=8, c_dim=0, base=64, cmax=16, layers=2, clamp=None, channels=3, architecture="skip"
):
    """A Generator as networks.py builds it, random weights, as a persistent record tree."""
    resolutions = [2**i for i in range(2, int(math.log2(res)) + 1)]
    width = {r: min(base // r, cmax) for r in resolutions}
    mapping = {
        f"fc{i}": fc(z_dim + (w_dim if c_dim else 0) if i == 0 else w_dim, w_dim, 0.01, "lrelu") for i in range(layers)
    }
    if c_dim:
        mapping = {"embed": fc(c_dim, w_dim), **mapping}
    blocks = {}
    for r in resolutions:
        cin, cout = (width[r // 2] if r > 4 else 0), width[r]
        kids = {"conv1": layer(cout, cout, w_dim, r, 1, clamp)}
        if cin:
            kids = {"conv0": layer(cin, cout, w_dim, r, 2, clamp), **kids}
        if architecture == "skip" or r == res:
            kids["torgb"] = P(
                "ToRGBLayer",
                {"weight": torch.randn(channels, cout, 1, 1), "bias": torch.randn(channels) * 0.2},
                children={"affine": fc(w_dim, cout, bias_init=1.0)},
                conv_clamp=clamp,
                weight_gain=np.float64(1 / np.sqrt(cout)),
            )
        if architecture == "resnet" and cin:
            kids["skip"] = conv2d_layer(cin, cout, 1, "linear", bias=False)
        blocks[f"b{r}"] = P(
            "SynthesisBlock",
            {"const": torch.randn(cout, 4, 4)} if not cin else {},
            {"resample_filter": FILTER.clone()},
            kids,
            in_channels=cin,
            architecture=architecture,
            use_fp16=r >= 8,
            num_conv=2 if cin else 1,
            num_torgb=1,
        )
    num_ws = 2 * len(resolutions)
    synth_kwargs = {"channel_base": base, "channel_max": cmax, "conv_clamp": clamp, "num_fp16_res": 2}
    return P(
        "Generator",
        children={
            "mapping": P(
                "MappingNetwork",
                buffers={"w_avg": torch.randn(w_dim) * 0.5},
                children=mapping,
                z_dim=z_dim,
                c_dim=c_dim,
                w_dim=w_dim,
                num_ws=num_ws,
                num_layers=layers,
                w_avg_beta=0.995,
            ),
            "synthesis": P(
                "SynthesisNetwork",
                children=blocks,
                block_resolutions=resolutions,
                num_ws=num_ws,
                _init_kwargs={"w_dim": w_dim, "img_resolution": res, "img_channels": channels, **synth_kwargs},
            ),
        },
        z_dim=z_dim,
        c_dim=c_dim,
        w_dim=w_dim,
        img_resolution=res,
        img_channels=channels,
        num_ws=num_ws,
        _init_args=(),
        _init_kwargs={
            "z_dim": z_dim,
            "mapping_kwargs": easy(num_layers=layers),
            "synthesis_kwargs": easy(**synth_kwargs),
        },
    )


def conv2d_layer(cin, cout, k, act="lrelu", down=1, clamp=None, bias=True):
    return P(
        "Conv2dLayer",
        {"weight": torch.randn(cout, cin, k, k), **({"bias": torch.randn(cout) * 0.2} if bias else {})},
        {"resample_filter": FILTER.clone()},
        activation=act,
        up=1,
        down=down,
        conv_clamp=clamp,
        padding=k // 2,
        weight_gain=np.float64(1 / np.sqrt(cin * k * k)),
        act_gain=np.float64(np.sqrt(2) if act == "lrelu" else 1.0),
    )


def upstream_discriminator(res=16, base=64, cmax=16, channels=3, architecture="resnet", clamp=None, group=2, c_dim=0):
    """A Discriminator as networks.py builds it; a conditional one with its z-less mapping network (3 layers)."""
    resolutions = [2**i for i in range(int(math.log2(res)), 2, -1)]
    width = {r: min(base // r, cmax) for r in resolutions + [4]}
    blocks = {}
    for r in resolutions:
        tmp, out = width[r], width[r // 2]
        kids = {"fromrgb": conv2d_layer(channels, tmp, 1, clamp=clamp)} if r == res or architecture == "skip" else {}
        kids.update(conv0=conv2d_layer(tmp, tmp, 3, clamp=clamp), conv1=conv2d_layer(tmp, out, 3, down=2, clamp=clamp))
        if architecture == "resnet":
            kids["skip"] = conv2d_layer(tmp, out, 1, "linear", down=2, bias=False)
        blocks[f"b{r}"] = P(
            "DiscriminatorBlock", buffers={"resample_filter": FILTER.clone()}, children=kids, architecture=architecture
        )
    top = width[4]
    blocks["b4"] = P(
        "DiscriminatorEpilogue",
        children={
            "mbstd": P("MinibatchStdLayer", group_size=group, num_channels=1),
            "conv": conv2d_layer(top + 1, top, 3, clamp=clamp),
            "fc": fc(top * 16, top, act="lrelu"),
            "out": fc(top, top if c_dim else 1),
            **({"fromrgb": conv2d_layer(channels, top, 1)} if architecture == "skip" else {}),
        },
        architecture=architecture,
        cmap_dim=top if c_dim else 0,
    )
    if c_dim:
        layers = {"embed": fc(c_dim, top), **{f"fc{i}": fc(top, top, 0.01, "lrelu") for i in range(3)}}
        blocks["mapping"] = P("MappingNetwork", children=layers, z_dim=0, c_dim=c_dim, num_layers=3, w_avg_beta=None)
    return P("Discriminator", children=blocks, c_dim=c_dim, img_resolution=res, block_resolutions=resolutions)


def network_pickle(G, marker, D=None, with_d=True) -> bytes:
    """The dict upstream's training loop pickles (protocol 3, Python 3.7's default), G_ema a copy of G."""
    G_ema = pickle.loads(pickle.dumps(G))  # a deep copy with its own tensors (run by the stand-in: which writes
    marker.unlink()  # the marker, removed)
    data = {"G": G, "G_ema": G_ema, "training_set_kwargs": {"class_name": "training.dataset.ImageFolderDataset"}}
    if with_d:
        clamp = G.at("synthesis.b4.conv1").state["conv_clamp"]
        data["D"] = D or upstream_discriminator(G.state["img_resolution"], clamp=clamp, c_dim=G.state["c_dim"])
        data["augment_pipe"] = P("AugmentPipe", buffers={"p": torch.zeros([])}, xflip=np.float64(1.0))
    return pickle.dumps(data, protocol=3)


def state_of(node, prefix=""):
    """Upstream's state-dict names of a record tree (what G.state_dict() gives)."""
    out = {prefix + k: v.detach() for kind in ("_parameters", "_buffers") for k, v in node.state[kind].items()}
    for name, child in node.state["_modules"].items():
        out.update(state_of(child, f"{prefix}{name}."))
    return out


# ---- upstream's generator as plain torch ops on its state dict ------------------------------------------------


def upfirdn2d(x, f, up=1, pad=(0, 0, 0, 0), gain=1.0, down=1):
    """upfirdn2d's reference path: zero-insert, pad, convolve with the (flipped) filter, keep every down-th pixel."""
    B, C, H, W = x.shape
    if up > 1:
        x = F.pad(x.reshape(B, C, H, 1, W, 1), [0, up - 1, 0, 0, 0, up - 1]).reshape(B, C, H * up, W * up)
    x = F.pad(x, [pad[0], pad[1], pad[2], pad[3]])
    weight = (f * gain).flip([0, 1])[None, None].repeat(C, 1, 1, 1)
    return F.conv2d(x, weight, groups=C)[:, :, ::down, ::down]


def modulated_conv2d(x, weight, styles, noise=None, up=1, demodulate=True, padding=0, f=None):
    """The fused (grouped) path that eval-mode fp32 takes; up=2 through conv2d_resample's transposed conv."""
    B = x.shape[0]
    n_out, n_in, kh, kw = weight.shape
    w = weight[None] * styles.reshape(B, 1, -1, 1, 1)  # (B, O, I, k, k)
    if demodulate:
        w = w * (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt().reshape(B, -1, 1, 1, 1)
    x = x.reshape(1, -1, *x.shape[2:])
    if up == 1:
        x = F.conv2d(x, w.reshape(-1, n_in, kh, kw), padding=padding, groups=B)
    else:
        p0 = padding + (4 + up - 1) // 2 - (kw - 1)  # filter of 4 taps
        p1 = padding + (4 - up) // 2 - (kw - up)
        pt = max(min(-p0, -p1), 0)
        wt = w.transpose(1, 2).reshape(B * n_in, n_out, kh, kw)
        x = F.conv_transpose2d(x, wt, stride=up, padding=pt, groups=B)
        x = upfirdn2d(x, f, pad=(p0 + pt, p1 + pt, p0 + pt, p1 + pt), gain=up**2)
    x = x.reshape(B, -1, *x.shape[2:])
    return x + noise if noise is not None else x


def bias_act(x, b, act, gain=1.0, clamp=None):
    x = x + b.reshape([1, -1] + [1] * (x.dim() - 2))
    if act == "lrelu":
        x = F.leaky_relu(x, 0.2) * SQRT2
    x = x * gain
    return x.clamp(-clamp, clamp) if clamp is not None else x


def dense(sd, name, x, lr_mul=1.0, act="linear"):
    w = sd[f"{name}.weight"] * (lr_mul / math.sqrt(x.shape[1]))
    return bias_act(x @ w.t(), sd[f"{name}.bias"] * lr_mul, act)


def normalize(x):
    return x * (x.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()


def upstream_forward(sd, z, c, psi, res, layers, num_ws, clamp, architecture="skip"):
    """G_ema(z, c, truncation_psi=psi, noise_mode='const'): mapping, then the synthesis network (skip, orig or
    resnet: SynthesisBlock.forward)."""
    x = normalize(z)
    if c is not None:
        x = torch.cat([x, normalize(dense(sd, "mapping.embed", c))], dim=1)
    for i in range(layers):
        x = dense(sd, f"mapping.fc{i}", x, 0.01, "lrelu")
    ws = x[:, None].repeat(1, num_ws, 1)
    if psi != 1:
        ws = sd["mapping.w_avg"].lerp(ws, psi)
    x = img = None
    i = 0
    for r in [2**k for k in range(2, int(math.log2(res)) + 1)]:
        b = f"synthesis.b{r}"
        convs = ["conv1"] if r == 4 else ["conv0", "conv1"]
        if r == 4:
            x = sd[f"{b}.const"][None].repeat(z.shape[0], 1, 1, 1)
        shortcut = None
        if architecture == "resnet" and r > 4:  # Conv2dLayer 1x1, up=2: convolve, then upfirdn2d (up 2, pad 2, 1)
            w = sd[f"{b}.skip.weight"] / math.sqrt(x.shape[1])
            shortcut = upfirdn2d(F.conv2d(x, w), FILTER, up=2, pad=(2, 1, 2, 1), gain=4) * math.sqrt(0.5)
        for conv in convs:
            L = f"{b}.{conv}"
            styles = dense(sd, f"{L}.affine", ws[:, i])
            noise = sd[f"{L}.noise_const"] * sd[f"{L}.noise_strength"]
            up = 2 if conv == "conv0" else 1
            gain = math.sqrt(0.5) if shortcut is not None and conv == "conv1" else 1.0
            x = modulated_conv2d(x, sd[f"{L}.weight"], styles, noise, up, True, 1, sd[f"{L}.resample_filter"])
            x = bias_act(x, sd[f"{L}.bias"], "lrelu", gain, clamp * gain if clamp is not None else None)
            i += 1
        if shortcut is not None:
            x = shortcut + x
        if img is not None:
            img = upfirdn2d(img, sd[f"{b}.resample_filter"], up=2, pad=(2, 1, 2, 1), gain=4)
        if f"{b}.torgb.weight" not in sd:
            continue
        styles = dense(sd, f"{b}.torgb.affine", ws[:, i]) / math.sqrt(x.shape[1])
        y = bias_act(
            modulated_conv2d(x, sd[f"{b}.torgb.weight"], styles, demodulate=False),
            sd[f"{b}.torgb.bias"],
            "linear",
            clamp=clamp,
        )
        img = y if img is None else img + y
    return img


def conv_layer(sd, name, x, act, down=1, gain=1.0, clamp=None):
    """Conv2dLayer.forward: conv2d_resample (downsampling: filter, then a strided conv), then bias_act."""
    w = sd[f"{name}.weight"]
    k = w.shape[-1]
    w = w * (1 / math.sqrt(w.shape[1] * k * k))
    if down > 1 and k == 1:
        x = F.conv2d(upfirdn2d(x, sd[f"{name}.resample_filter"], pad=(1, 1, 1, 1), down=2), w)
    elif down > 1:
        x = F.conv2d(upfirdn2d(x, sd[f"{name}.resample_filter"], pad=(2, 2, 2, 2)), w, stride=2)
    else:
        x = F.conv2d(x, w, padding=k // 2)
    b = sd.get(f"{name}.bias", torch.zeros(w.shape[0]))
    return bias_act(x, b, act, gain, clamp * gain if clamp is not None else None)


def upstream_d_forward(sd, img, res, clamp, group, c=None, architecture="resnet"):
    """Discriminator(img, c): blocks (resnet, orig or skip), minibatch std, conv, fc, out, and a conditional D's
    projection onto its mapping of c."""
    x = None
    for r in [2**i for i in range(int(math.log2(res)), 2, -1)]:
        b = f"b{r}"
        if r == res or architecture == "skip":
            y = conv_layer(sd, f"{b}.fromrgb", img, "lrelu", clamp=clamp)
            x = y if x is None else x + y
            img = upfirdn2d(img, sd[f"{b}.resample_filter"], pad=(1, 1, 1, 1), down=2)  # downsample2d
        if architecture == "resnet":
            y = conv_layer(sd, f"{b}.skip", x, "linear", down=2, gain=math.sqrt(0.5))
            x = conv_layer(sd, f"{b}.conv0", x, "lrelu", clamp=clamp)
            x = y + conv_layer(sd, f"{b}.conv1", x, "lrelu", down=2, gain=math.sqrt(0.5), clamp=clamp)
        else:
            x = conv_layer(
                sd, f"{b}.conv1", conv_layer(sd, f"{b}.conv0", x, "lrelu", clamp=clamp), "lrelu", 2, 1.0, clamp
            )
    if architecture == "skip":
        x = x + conv_layer(sd, "b4.fromrgb", img, "lrelu")
    N, C, H, W = x.shape
    g = min(group, N)
    s = x.reshape(g, -1, 1, C, H, W)
    s = ((s - s.mean(dim=0)).square().mean(dim=0) + 1e-8).sqrt().mean(dim=[2, 3, 4]).reshape(-1, 1, 1, 1)
    x = torch.cat([x, s.repeat(g, 1, H, W)], dim=1)
    x = conv_layer(sd, "b4.conv", x, "lrelu", clamp=clamp)
    x = dense(sd, "b4.out", dense(sd, "b4.fc", x.flatten(1), 1.0, "lrelu"))
    if c is None:
        return x
    cmap = normalize(dense(sd, "mapping.embed", c))
    for i in range(3):
        cmap = dense(sd, f"mapping.fc{i}", cmap, 0.01, "lrelu")
    return (x * cmap).sum(dim=1, keepdim=True) * (1 / math.sqrt(cmap.shape[1]))


# ---- reading and converting ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "c_dim, clamp, architecture, d_architecture",
    [(0, 0.5, "skip", "resnet"), (3, None, "skip", "resnet"), (0, 0.5, "resnet", "skip"), (0, None, "orig", "orig")],
    ids=["unconditional-with-conv-clamp", "conditional", "resnet-g-skip-d", "orig-g-orig-d"],
)
def test_a_network_pickle_is_read_without_running_it_and_converts_to_upstreams_function(
    tmp_path, marker, c_dim, clamp, architecture, d_architecture
):
    torch.manual_seed(0)
    G = upstream_generator(c_dim=c_dim, clamp=clamp, architecture=architecture)
    D = upstream_discriminator(clamp=clamp, c_dim=c_dim, architecture=d_architecture)
    data = network_pickle(G, marker, D)
    pickle.loads(data)  # the official way runs the pickled module sources: the file is a live one
    assert marker.read_text() == "executed"
    marker.unlink()

    path = tmp_path / "network.pkl"
    path.write_bytes(data)
    checkpoint = read_network_pickle(path)
    assert not marker.exists()  # nothing executed
    assert isinstance(checkpoint["G_ema"], Record) and checkpoint["G_ema"].class_name == "Generator"
    assert checkpoint["augment_pipe"].attr("xflip") == 1.0 and type(checkpoint["augment_pipe"].attr("xflip")) is float
    assert checkpoint["G_ema"].attr("_init_kwargs")["mapping_kwargs"] == {"num_layers": 2}  # an EasyDict, as a dict
    assert type(checkpoint["G_ema"].attr("_init_kwargs")["mapping_kwargs"]) is dict
    sd = state_of(G)
    read = nvlabs_pickle_state(checkpoint["G_ema"])
    assert sorted(read) == sorted(sd) and all(torch.equal(read[k], sd[k]) for k in sd)

    model, _ = convert("nvlabs-stylegan2-ada", checkpoint)
    c = model.config
    assert (c.image_size, c.z_dim, c.w_dim, c.mapping_layers, c.num_classes) == (16, 6, 8, 2, c_dim)
    assert (c.channel_base, c.channel_max, c.conv_clamp, c.mapping_lr_mul) == (64, 16, clamp or 0.0, 0.01)
    assert c.g_architecture == architecture
    Gz = model.nets["G"].eval()
    z = torch.randn(4, 6)
    y = torch.tensor([0, 1, 2, 1]) if c_dim else None
    onehot = F.one_hot(y, c_dim).float() if c_dim else None
    for psi in (1.0, 0.7):
        ref = upstream_forward(sd, z, onehot, psi, 16, 2, 8, clamp, architecture)
        with torch.no_grad():
            ours = Gz.synthesis(Gz.mapping(z, psi, y=y))
            sampled = Gz(z, y, truncation=psi)
        assert ours.shape == (4, 3, 16, 16) and ref.std() > 0.05
        assert torch.allclose(ours, ref, atol=2e-5), (ours - ref).abs().max()
        assert torch.allclose(sampled, ref.clamp(-1, 1), atol=2e-5)
        if clamp:  # the clamp acted (else the option is untested)
            assert not torch.allclose(
                ours, upstream_forward(sd, z, onehot, psi, 16, 2, 8, None, architecture), atol=1e-3
            )
    from ganzoo_stylegan2.models import Discriminator  # D too: the same function on a batch of images

    assert (c.d_architecture, c.mbstd, c.mbstd_channels, c.d_mapping_layers) == (
        d_architecture,
        2,
        1,
        3 if c_dim else 8,
    )
    ours_d = Discriminator(c)  # without the training-time input tricks (DiffAugment) the model's D carries
    ours_d.load_state_dict(model.nets["D"].state_dict())
    img = torch.randn(4, 3, 16, 16)
    with torch.no_grad():
        ref = upstream_d_forward(state_of(D), img, 16, clamp, 2, onehot, d_architecture)[:, 0]
        assert torch.allclose(ours_d(img, y), ref, atol=2e-5) and ref.std() > 1e-3


def nvlabs_pickle_state(record):
    from ganzoo_stylegan2.nvlabs import flatten

    return flatten(record)


# ---- refusals ------------------------------------------------------------------------------------------------


class Reduce:
    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


def _storage_bytes(obj):
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=False)
    return buf.getvalue()


@pytest.mark.parametrize(
    "make, named",
    [
        (lambda m: pickle.dumps(Reduce(os.system, f"touch {m}")), "posix.system"),
        (lambda m: b"cos\nsystem\n(S'touch " + str(m).encode() + b"'\ntR.", "os.system"),
        (lambda m: pickle.dumps({"G_ema": Reduce(eval, f"open({str(m)!r}, 'w')")}), "builtins.eval"),
        (lambda m: pickle.dumps([Reduce(subprocess.Popen, ["touch", str(m)])]), "subprocess.Popen"),
        (lambda m: pickle.dumps(Reduce(torch.load, str(m))), "torch.serialization.load"),
        (
            lambda m: pickle.dumps(
                Reduce(torch.storage._load_from_bytes, _storage_bytes(Reduce(os.system, f"touch {m}")))
            ),
            "posix.system",
        ),
        (lambda m: pickle.dumps(Reduce(torch.storage._load_from_bytes, _storage_bytes({"x": 1}))), "holds a dict"),
        (
            lambda m: pickle.dumps(
                Reduce(
                    sys.modules["torch_utils.persistence"]._reconstruct_persistent_obj,
                    {
                        "type": "class",
                        "module_src": f"open({str(m)!r}, 'w')",
                        "class_name": "G",
                        "state": {"x": Reduce(os.system, f"touch {m}")},
                    },
                )
            ),
            "posix.system",
        ),
        (lambda m: pickle.dumps({"G_ema": Reduce(OrderedDict.fromkeys, ["a"])}), "builtins.getattr"),
        (lambda m: pickle.dumps(Reduce(np.load, str(m))), r"numpy\.[\w.]*load"),
        (lambda m: b"ctorch._utils\n_rebuild_parameter\n(dS'__defaults__'\nI1\nsb.", "state of a function"),
        (lambda m: pickle.dumps(torch.ones(2), protocol=3)[:-1] + b"}X\x01\x00\x00\x00xK\x01sb.", "state of a Tensor"),
    ],
    ids=[
        "os.system",
        "os.system-protocol-0",
        "eval",
        "popen",
        "torch.load",
        "storage-bytes-with-code",
        "storage-bytes-not-a-storage",
        "record-state-with-code",
        "classmethod",
        "numpy.load",
        "build-on-a-function",
        "build-on-a-tensor",
    ],
)
def test_a_pickle_asking_for_any_other_global_is_refused_naming_it_and_runs_nothing(tmp_path, marker, make, named):
    data = make(marker)
    path = tmp_path / "evil.pkl"
    path.write_bytes(data)
    with pytest.raises(UnsafePickleError, match=named) as caught:
        read_network_pickle(path)
    assert "refused" in str(caught.value) or "not one tensor storage" in str(caught.value)
    assert not marker.exists()


def test_a_refusal_says_nothing_was_executed(marker):
    with pytest.raises(
        UnsafePickleError,
        match=r"global posix.system, .* refused before it was imported \(nothing in the file was executed\)",
    ):
        loads(pickle.dumps(Reduce(os.system, f"touch {marker}")))
    with pytest.raises(UnsafePickleError, match=r"corrupt or truncated .* nothing in it was executed"):
        loads(network_pickle(upstream_generator(), marker)[:-40])
    assert not marker.exists()


# ---- strict conversion ---------------------------------------------------------------------------------------


def _drop(G):
    del G.at("synthesis.b8.conv0").state["_buffers"]["noise_const"]


def _extra(G):
    G.at("synthesis.b8.conv1").state["_parameters"]["extra"] = torch.nn.Parameter(torch.zeros(2))


def _reshape(G):
    G.at("synthesis.b16.torgb").state["_parameters"]["weight"] = torch.nn.Parameter(torch.randn(3, 5, 1, 1))


def _filter(G):
    G.at("synthesis.b8").state["_buffers"]["resample_filter"] = torch.ones(4, 4) / 16


def _architecture(G):
    G.at("synthesis.b16").state["architecture"] = "resnet"


@pytest.mark.parametrize(
    "edit, message",
    [
        (_drop, r"lacks tensor 'synthesis.b8.conv0.noise_const'"),
        (_extra, r"unexpected tensor 'synthesis.b8.conv1.extra'"),
        (
            _reshape,
            r"tensor 'synthesis.b16.torgb.weight' gives G.synthesis.blocks.2.torgb.weight of shape \(3, 5, 1, 1\)",
        ),
        (_filter, r"G_ema tensor 'synthesis.b8.resample_filter' is a resample filter other than \[1, 3, 3, 1\]"),
        (_architecture, r"generator architecture .*'resnet'"),
    ],
    ids=["missing", "extra", "mis-shaped", "filter", "architecture"],
)
def test_conversion_is_strict_and_names_the_upstream_tensor(marker, edit, message):
    torch.manual_seed(1)
    G = upstream_generator()
    G_ema = pickle.loads(pickle.dumps(G))
    marker.unlink()
    edit(G_ema)
    checkpoint = loads(pickle.dumps({"G_ema": G_ema}, protocol=3))
    with pytest.raises(WeightsError, match=message):
        convert("nvlabs-stylegan2-ada", checkpoint)
    assert not marker.exists()


def test_a_discriminator_is_converted_strictly_too(marker):
    torch.manual_seed(3)
    G = upstream_generator()
    D = upstream_discriminator()
    del D.at("b8.conv0").state["_parameters"]["bias"]
    with pytest.raises(WeightsError, match=r"lacks tensor 'D.b8.conv0.bias'"):
        convert("nvlabs-stylegan2-ada", loads(network_pickle(G, marker, D)))
    D = upstream_discriminator(group=None)  # upstream: the whole batch is one group
    with pytest.warns(UserWarning, match=r"D is not converted: its minibatch std has group None"):
        model, _ = convert("nvlabs-stylegan2-ada", loads(network_pickle(G, marker, D)))
    assert model.config.d_architecture == "resnet"  # ganzoo's default: that D was not read
    assert not marker.exists()


def test_g_must_be_g_emas_network(marker):
    G = upstream_generator()
    G_ema = pickle.loads(pickle.dumps(G))
    marker.unlink()
    _drop(G)
    with pytest.raises(WeightsError, match=r"G has tensor 'synthesis.b8.conv0.noise_const' that G_ema has and G lacks"):
        convert("nvlabs-stylegan2-ada", loads(pickle.dumps({"G": G, "G_ema": G_ema}, protocol=3)))
    with pytest.raises(WeightsError, match=r"no 'G_ema' network \(found \['G'\]\)"):
        convert("nvlabs-stylegan2-ada", loads(pickle.dumps({"G": G}, protocol=3)))


# ---- the import path: loopback download, hash, safetensors folder ----------------------------------------------


def _entry(name, url, sha256, classes):
    register_entry(
        f"tiny-{name}",
        name=name,
        variant="stylegan2",
        dataset="folder:tiny",
        license="NVIDIA Source Code License-NC",
        config={"image_size": 16, "num_classes": len(classes)},
        source={"importer": "nvlabs-stylegan2-ada", "url": url, "sha256": sha256, "classes": classes},
    )


def test_the_catalog_import_writes_a_safetensors_folder_that_loads_and_samples(
    tmp_path, marker, http_files, monkeypatch
):
    folder, base = http_files
    torch.manual_seed(2)
    G = upstream_generator(c_dim=3)
    (folder / "tiny.pkl").write_bytes(network_pickle(G, marker))
    sha = sha256_of(folder / "tiny.pkl")
    reads = []
    monkeypatch.setattr(nvlabs_pickle, "read_network_pickle", lambda p: reads.append(p) or read_network_pickle(p))

    _entry("sg2ada-bad", f"{base}/tiny.pkl", "0" * 64, ["a", "b", "c"])
    with pytest.raises(WeightsError, match=rf"has sha256 [0-9a-f]{{64}}\.\.\., not the pinned {'0' * 64}"):
        ganzoo.load("sg2ada-bad")
    assert reads == [] and not marker.exists()  # refused before it was unpickled

    _entry("sg2ada-tiny", f"{base}/tiny.pkl", sha, ["a", "b", "c"])
    model = ganzoo.load("sg2ada-tiny")
    assert len(reads) == 1 and not marker.exists()
    cached = cache_root() / f"sg2ada-tiny-{sha[:16]}"
    assert sorted(p.name for p in cached.iterdir()) == ["README.md", "config.json", "model.safetensors", "samples.png"]
    assert "license: nvidia source code license-nc" in (cached / "README.md").read_text()
    again = ganzoo.load(str(cached))  # an ordinary folder: config.json and safetensors, no pickle
    assert again.classes == ["a", "b", "c"] and again.num_classes == 3
    images = again.sample(4, seed=0, labels="b")
    assert images.shape == (4, 3, 16, 16) and torch.isfinite(images).all()
    assert torch.equal(images, model.sample(4, seed=0, labels="b"))
    z = torch.randn(2, 6)
    ref = upstream_forward(state_of(G), z, F.one_hot(torch.tensor([2, 0]), 3).float(), 0.7, 16, 2, 8, None)
    with torch.no_grad():
        assert torch.allclose(
            again.nets["G"].eval()(z, torch.tensor([2, 0]), truncation=0.7), ref.clamp(-1, 1), atol=2e-5
        )


def test_the_catalog_entries_print_licence_and_policy_without_a_download():
    from click.testing import CliRunner

    from ganzoo.cli import cli

    names = [
        f"stylegan2-ada-{n}" for n in ("ffhq", "cifar10", "afhqcat", "afhqdog", "afhqwild", "metfaces", "brecahad")
    ]
    for name in names:
        card = ganzoo.info(name)
        assert card.license.startswith("NVIDIA Source Code License-NC") and card.source["sha256"] == ""
        assert card.availability == "import (hash recorded at first download)"
    out = CliRunner().invoke(cli, ["info", "stylegan2-ada-cifar10"]).output
    assert "license       NVIDIA Source Code License-NC (non-commercial use only)" in out
    assert "num_classes = 10" in out and "fid = {'value': 2.42" in out and "fid50k_full" in out
    assert "pretrained/cifar10.pkl" in out and "recorded and enforced" in out
    assert not cache_root().exists() or not any(cache_root().glob("stylegan2-ada-*"))  # nothing downloaded


def _as_record(node):
    """A stand-in network tree as the reader gives it (no pickling: for shape checks on the meta device)."""
    state = dict(node.state)
    state["_modules"] = OrderedDict((k, _as_record(v)) for k, v in node.state["_modules"].items())
    return Record(node.class_name, state)


@pytest.mark.parametrize("name", ["ffhq", "metfaces", "afhqcat", "afhqdog", "afhqwild", "cifar10", "brecahad"])
def test_each_catalog_entry_fits_upstreams_layout_at_full_size(marker, name):
    """Upstream's Generator at the entry's size with its released configs' widths (channel_base 32768, channel_max
    512, 512-long z and w, 8 mapping layers or the cifar config's 2), shapes only: every tensor lands on a ganzoo
    tensor of the same shape and the entry's config is what the file gives."""
    from ganzoo_stylegan2.config import StyleGAN2Config
    from ganzoo_stylegan2.nvlabs import convert_nvlabs_stylegan2_ada

    from ganzoo.building import meta_networks
    from ganzoo.config import make_config

    card = ganzoo.info(f"stylegan2-ada-{name}")
    size, classes = card.config["image_size"], card.config["num_classes"]
    with torch.device("meta"):
        G = upstream_generator(size, 512, 512, classes, 32768, 512, 2 if classes else 8, 256.0)
    converted = convert_nvlabs_stylegan2_ada({"G_ema": _as_record(G)})
    assert {k: v for k, v in converted.config.items() if k in card.config} == card.config
    config = make_config(StyleGAN2Config, converted.config)
    ours = meta_networks(plugins.get_state().variants.get("stylegan2"), config)["G"]
    want = {f"G.{k}": tuple(v.shape) for k, v in ours.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in converted.tensors.items()}
    assert got == want and len(got) == len(state_of(G)) - sum(k.endswith("resample_filter") for k in state_of(G))


def test_a_conditional_stylegan2_passes_the_kit_and_the_defaults_are_unchanged(tmp_path):
    """The conditional nets (G's class embedding, D's projection) train, sample by class, save and resume; export
    refuses a conditional style-based G (the shared export has no contract for its labels yet)."""
    from ganzoo_stylegan2.config import StyleGAN2Config

    from ganzoo import testing
    from ganzoo.config import ConfigError

    tiny = {"image_size": 16, "channels": 1, "z_dim": 32, "w_dim": 32, "mapping_layers": 2, "d_mapping_layers": 1}
    tiny.update(channel_base=256, channel_max=16, r1_interval=2, pl_interval=2, num_classes=10)
    testing.check_networks("stylegan2", sizes=((16, 1),), **tiny)
    testing.check_sampling("stylegan2", **tiny)  # labels 0 and 1 give other samples
    testing.check_training("stylegan2", tmp_path, steps=4, batch_size=8, **tiny)  # both lazy penalties run
    testing.check_save_load("stylegan2", tmp_path, **tiny)
    testing.check_resume("stylegan2", tmp_path, steps=4, batch_size=8, **tiny)
    testing.check_export("stylegan2", **tiny)  # labels enter the exported mapping as they do model.sample's
    c = StyleGAN2Config()
    assert (c.num_classes, c.conv_clamp, c.up_conv, c.g_architecture) == (0, 0.0, "upsample_first", "skip")
    with pytest.raises(ConfigError, match="up_conv"):
        StyleGAN2Config(up_conv="nearest")
