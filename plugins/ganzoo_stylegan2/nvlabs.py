"""NVlabs/stylegan2-ada-pytorch's network pickles as ganzoo StyleGAN2 generators.

The pickle (read as data by ``nvlabs_pickle``) holds ``G_ema`` (the generator upstream samples from),
``G`` and ``D`` as persistence records of training/networks.py's classes. G_ema's tensors, under
upstream's state-dict names, map one to one onto ganzoo's:

    mapping.embed.{weight,bias}           (w_dim, c_dim)  conditional nets: the one-hot class embedding
    mapping.fc{i}.{weight,bias}           mapping layers (lr multiplier: the layer's bias_gain)
    mapping.w_avg                         (w_dim,)  the tracked mean w that truncation pulls towards
    synthesis.b{R}.const                  (C, 4, 4) at R = 4
    synthesis.b{R}.conv{0,1}.*            affine.{weight,bias}, weight (O, I, 3, 3), noise_const (R, R),
                                          noise_strength, bias; conv0 upsamples
    synthesis.b{R}.torgb.*                affine.{weight,bias}, weight (C, I, 1, 1), bias
    *.resample_filter                     the [1, 3, 3, 1] filter: checked, not stored (ganzoo's is fixed)

Upstream's upsampling conv0 runs as a stride-2 transposed convolution, then the blur; ganzoo's default
blurs first, which differs on the border pixels, so converted nets take ``up_conv="transposed"`` and every
tensor is copied unchanged. Hyperparameters come from the records' own attributes (what upstream's code ran
with), not from guesses: mapping layers and lr multiplier, w_avg decay, conv_clamp, class count, widths.
Generators of all three architectures (skip: every released net's; orig; resnet, whose ``b{R}.skip`` 1x1
shortcuts map too) are read. D (``b{R}.fromrgb/conv0/conv1/skip``, ``b4.conv/fc/out``, a conditional D's
``mapping``) maps onto ganzoo's D where that computes its function (see discriminator_mapping).
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

from ganzoo.importers import Converted, remap, state_dict_of
from ganzoo.pretrained.weights import WeightsError

from .nvlabs_pickle import Record

NAME = "nvlabs-stylegan2-ada"
FILTER = torch.outer(torch.tensor([1.0, 3.0, 3.0, 1.0]), torch.tensor([1.0, 3.0, 3.0, 1.0])) / 64
UPSTREAM_DEFAULTS = {"channel_base": 32768, "channel_max": 512}  # SynthesisNetwork's defaults in networks.py


def _refuse(what: str) -> None:
    raise WeightsError(f"{NAME}: {what}: it is not the NVlabs StyleGAN2-ADA layout this importer reads")


def flatten(record: Record, prefix: str = "") -> dict[str, torch.Tensor]:
    """A record's parameters and persistent buffers, and its submodules', under upstream's state-dict names."""
    if not isinstance(record, Record):
        _refuse(f"{prefix.rstrip('.') or 'the network'} is a {type(record).__name__}, not a persistent network")
    out: dict[str, torch.Tensor] = {}
    transient = record.state.get("_non_persistent_buffers_set") or set()
    for kind in ("_parameters", "_buffers"):
        for name, value in dict(record.state.get(kind) or {}).items():
            if value is None or (kind == "_buffers" and name in transient):
                continue
            if not isinstance(value, torch.Tensor):
                _refuse(f"{prefix}{name} is a {type(value).__name__}, not a tensor")
            out[prefix + name] = value
    for name, child in record.children.items():
        if child is not None:
            out.update(flatten(child, f"{prefix}{name}."))
    return out


def _child(record: Record, name: str, class_name: str, where: str) -> Record:
    child = record.children.get(name)
    if not isinstance(child, Record) or child.class_name != class_name:
        found = child.class_name if isinstance(child, Record) else type(child).__name__
        _refuse(f"{where}.{name} is {found}, not upstream's {class_name}")
    return child


def _int(record: Record, name: str, where: str) -> int:
    value = record.attr(name)
    if type(value) is not int or value < 0:
        _refuse(f"{where}.{name} is {value!r}, not a whole number")
    return value


def _same(values: list, what: str) -> Any:
    """The one value a setting has in every layer (ganzoo has one per network)."""
    if len({repr(v) for v in values}) != 1:
        _refuse(f"its layers differ in {what} ({sorted({repr(v) for v in values})})")
    return values[0]


def generator_config(G: Record) -> tuple[dict, list[int]]:
    """The ganzoo StyleGAN2 config of an upstream Generator record, and its block resolutions."""
    if not isinstance(G, Record) or G.class_name != "Generator":
        _refuse(f"G_ema is {getattr(G, 'class_name', type(G).__name__)}, not upstream's Generator")
    dims = {k: _int(G, k, "G_ema") for k in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")}
    mapping = _child(G, "mapping", "MappingNetwork", "G_ema")
    synthesis = _child(G, "synthesis", "SynthesisNetwork", "G_ema")
    layers = _int(mapping, "num_layers", "G_ema.mapping")
    fcs = [_child(mapping, f"fc{i}", "FullyConnectedLayer", "G_ema.mapping") for i in range(layers)]
    _same([fc.attr("activation") for fc in fcs] + ["lrelu"], "the mapping's activation")
    lr_mul = float(_same([fc.attr("bias_gain") for fc in fcs], "the mapping's lr multiplier"))
    if dims["c_dim"] and _child(mapping, "embed", "FullyConnectedLayer", "G_ema.mapping").attr("activation") != (
        "linear"
    ):
        _refuse("the class embedding has an activation")
    resolutions = synthesis.attr("block_resolutions")
    if not isinstance(resolutions, list) or resolutions != [2**i for i in range(2, len(resolutions) + 2)]:
        _refuse(f"the synthesis blocks are at {resolutions!r}, not 4, 8, ... pixels")
    blocks = [_child(synthesis, f"b{r}", "SynthesisBlock", "G_ema.synthesis") for r in resolutions]
    architecture = _same([b.attr("architecture") for b in blocks], "generator architecture")
    if architecture not in ("skip", "orig", "resnet"):
        _refuse(f"the generator architecture is {architecture!r}, not 'skip', 'orig' or 'resnet'")
    convs = [c for b in blocks for n, c in b.children.items() if n != "skip" and isinstance(c, Record)]  # clamped
    _same([c.attr("conv_clamp") for c in convs], "conv_clamp")
    _same([c.attr("activation", "lrelu") for c in convs if c.class_name == "SynthesisLayer"] + ["lrelu"], "activation")
    _same([c.attr("use_noise", True) for c in convs if c.class_name == "SynthesisLayer"] + [True], "use of noise")
    kwargs = synthesis.attr("_init_kwargs") or {}
    clamp = convs[0].attr("conv_clamp")
    config = {
        "image_size": dims["img_resolution"],
        "channels": dims["img_channels"],
        "z_dim": dims["z_dim"],
        "w_dim": dims["w_dim"],
        "mapping_layers": layers,
        "mapping_lr_mul": lr_mul,
        "w_avg_beta": float(mapping.attr("w_avg_beta")),
        "channel_base": int(kwargs.get("channel_base", UPSTREAM_DEFAULTS["channel_base"])),
        "channel_max": int(kwargs.get("channel_max", UPSTREAM_DEFAULTS["channel_max"])),
        "num_classes": dims["c_dim"],
        "conv_clamp": float(clamp) if clamp is not None else 0.0,
        "output": "linear",
        "up_conv": "transposed",
        "g_architecture": architecture,
    }
    return config, resolutions


def generator_mapping(config: dict, resolutions: list[int]) -> dict[str, tuple[str, Any]]:
    """Upstream G tensor name -> (ganzoo name, transform) for every tensor of a generator."""
    out: dict[str, tuple[str, Any]] = {"mapping.w_avg": ("G.mapping.w_avg", None)}
    for p in ("weight", "bias"):
        out.update({f"mapping.fc{i}.{p}": (f"G.mapping.net.{i}.{p}", None) for i in range(config["mapping_layers"])})
        if config["num_classes"]:
            out[f"mapping.embed.{p}"] = (f"G.mapping.embed.{p}", None)
    for k, r in enumerate(resolutions):
        up, ours = f"synthesis.b{r}", f"G.synthesis.blocks.{k}"
        convs = ["conv1"] if r == 4 else ["conv0", "conv1"]
        if r == 4:
            out[f"{up}.const"] = (f"{ours}.const", None)
        for conv in convs:
            for name in ("affine.weight", "affine.bias", "weight", "noise_const", "noise_strength", "bias"):
                out[f"{up}.{conv}.{name}"] = (f"{ours}.{conv}.{name}", None)
        if config["g_architecture"] == "skip" or r == resolutions[-1]:
            for name in ("affine.weight", "affine.bias", "weight", "bias"):
                out[f"{up}.torgb.{name}"] = (f"{ours}.torgb.{name}", None)
        if config["g_architecture"] == "resnet" and r > 4:
            out[f"{up}.skip.weight"] = (f"{ours}.skip.weight", None)
    return out


def discriminator_mapping(D: Record, config: dict) -> tuple[dict, dict[str, tuple[str, Any]]] | str:
    """An upstream Discriminator's config values and "D."-prefixed tensor mapping onto ganzoo's D, or why ganzoo's D
    cannot compute its function ("skip" architecture, whole-batch minibatch std, another clamp or class mapping)."""
    if not isinstance(D, Record) or D.class_name != "Discriminator":
        _refuse(f"D is {getattr(D, 'class_name', type(D).__name__)}, not upstream's Discriminator")
    if _int(D, "c_dim", "D") != config["num_classes"]:
        _refuse(f"D has {D.attr('c_dim')} classes, G_ema {config['num_classes']}")
    resolutions = D.attr("block_resolutions")
    if resolutions != [2**i for i in range(config["image_size"].bit_length() - 1, 2, -1)]:
        _refuse(f"D's blocks are at {resolutions!r}, not {config['image_size']} down to 8 pixels")
    blocks = [_child(D, f"b{r}", "DiscriminatorBlock", "D") for r in resolutions]
    epilogue = _child(D, "b4", "DiscriminatorEpilogue", "D")
    architecture = _same([b.attr("architecture") for b in blocks], "D architecture")
    if architecture not in ("resnet", "orig", "skip"):
        return f"its architecture is {architecture!r} (ganzoo's D is 'resnet', 'orig' or 'skip')"
    mbstd = epilogue.children.get("mbstd")
    group, features = (mbstd.attr("group_size"), mbstd.attr("num_channels")) if mbstd is not None else (0, 0)
    if type(group) is not int or type(features) is not int:
        return f"its minibatch std has group {group!r} and {features!r} features (ganzoo's: whole numbers)"
    convs = [(n, c) for b in blocks for n, c in b.children.items() if n in ("fromrgb", "conv0", "conv1")]
    convs.append(("conv", _child(epilogue, "conv", "Conv2dLayer", "D.b4")))  # (the epilogue's fromRGB: unclamped)
    clamps = {c.attr("conv_clamp") for _, c in convs}
    if clamps != {config["conv_clamp"] or None}:
        return f"its conv_clamp {sorted(map(repr, clamps))} is not G's {config['conv_clamp'] or None!r}"
    _same(
        [c.attr("activation") for _, c in convs] + [epilogue.children["fc"].attr("activation"), "lrelu"], "activation"
    )
    out: dict[str, tuple[str, Any]] = {}
    for k, r in enumerate(resolutions):
        names = (["fromrgb"] if k == 0 or architecture == "skip" else []) + ["conv0", "conv1"]
        for name in names:
            out.update({f"D.b{r}.{name}.{p}": (f"D.blocks.{k}.{name}.{p}", None) for p in ("weight", "bias")})
        if architecture == "resnet":
            out[f"D.b{r}.skip.weight"] = (f"D.blocks.{k}.skip.weight", None)
    for name in ("conv", "fc", "out") + (("fromrgb",) if architecture == "skip" else ()):
        out.update({f"D.b4.{name}.{p}": (f"D.{name}.{p}", None) for p in ("weight", "bias")})
    values = {"d_architecture": architecture, "mbstd": group, "mbstd_channels": features}
    if config["num_classes"]:  # the projection: D.mapping embeds the class (z-less MappingNetwork)
        mapping = _child(D, "mapping", "MappingNetwork", "D")
        layers = _int(mapping, "num_layers", "D.mapping")
        fcs = [_child(mapping, f"fc{i}", "FullyConnectedLayer", "D.mapping") for i in range(layers)]
        if {fc.attr("activation") for fc in fcs} != {"lrelu"}:
            return "its class mapping's layers are not leaky ReLU layers"
        if {float(fc.attr("bias_gain")) for fc in fcs} != {config["mapping_lr_mul"]}:
            return f"its class mapping's lr multiplier is not G's mapping's {config['mapping_lr_mul']}"
        values["d_mapping_layers"] = layers
        for p in ("weight", "bias"):
            out[f"D.mapping.embed.{p}"] = (f"D.cmap.embed.{p}", None)
            out.update({f"D.mapping.fc{i}.{p}": (f"D.cmap.net.{i}.{p}", None) for i in range(layers)})
    return values, out


def _drop_filters(state: dict[str, torch.Tensor], where: str) -> dict[str, torch.Tensor]:
    """The state without its resample filters, each checked to be the [1, 3, 3, 1] one ganzoo's code fixes."""
    for name, f in state.items():
        if name.endswith("resample_filter") and (f.shape != FILTER.shape or not torch.allclose(f.float(), FILTER)):
            _refuse(f"{where} tensor {name!r} is a resample filter other than [1, 3, 3, 1]")
    return {k: v for k, v in state.items() if not k.endswith("resample_filter")}


def _same_tensors(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], what: str) -> None:
    """G has exactly G_ema's tensor names and shapes (the same network, not yet averaged)."""
    for name in sorted(set(a) ^ set(b)):
        _refuse(f"{what} has tensor {name!r} that G_ema {'lacks' if name in a else 'has and G lacks'}")
    for name in a:
        if a[name].shape != b[name].shape:
            _refuse(f"{what} tensor {name!r} has shape {tuple(a[name].shape)}, G_ema's {tuple(b[name].shape)}")


def convert_nvlabs_stylegan2_ada(checkpoint: Any) -> Converted:
    """An NVlabs network pickle (read by nvlabs_pickle) as a ganzoo StyleGAN2 config, G_ema's tensors as G and,
    where ganzoo's D computes its function, D's as D."""
    if not isinstance(checkpoint, dict) or "G_ema" not in checkpoint:
        found = sorted(map(str, checkpoint))[:5] if isinstance(checkpoint, dict) else type(checkpoint).__name__
        _refuse(f"the pickle has no 'G_ema' network (found {found})")
    config, resolutions = generator_config(checkpoint["G_ema"])
    state = _drop_filters(state_dict_of(flatten(checkpoint["G_ema"]), None, NAME), "G_ema")
    if checkpoint.get("G") is not None:
        _same_tensors(_drop_filters(state_dict_of(flatten(checkpoint["G"]), None, NAME), "G"), state, "G")
    mapping = generator_mapping(config, resolutions)
    if checkpoint.get("D") is not None:
        d_state = state_dict_of(flatten(checkpoint["D"]), None, NAME)  # whole tensors of real dtypes, like G's
        found = discriminator_mapping(checkpoint["D"], config)
        if isinstance(found, str):
            warnings.warn(f"{NAME}: D is not converted: {found}; G_ema is", UserWarning, stacklevel=2)
        else:
            config.update(found[0])
            mapping.update(found[1])
            state.update({f"D.{k}": v for k, v in _drop_filters(d_state, "D").items()})
    tensors, origin = remap(state, mapping, importer=NAME)
    return Converted(config, tensors, origin)  # class names: the catalog entry's (the pickle has none)
