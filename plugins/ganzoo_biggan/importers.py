"""huggingface/pytorch-pretrained-BigGAN's BigGAN-deep generators as ganzoo BigGAN-deep generators.

The layout, from its model.py (a state dict saved by torch.save, "biggan-deep-N-pytorch_model.bin";
every conv and linear wrapped by torch.nn.utils.spectral_norm: weight_orig, weight_u, weight_v):

    embeddings.weight                      (128, 1000)  Linear(one_hot(y)) without bias: the class embedding
    generator.gen_z.*                      (16 * 16ch, 256) SN linear of [z, embedding], its output laid out
                                           (4, 4, C) as TensorFlow's, then permuted to (C, 4, 4)
    generator.layers.{i}.bn_{0..3}         running_means, running_vars (51, C): statistics per truncation
                                           0, 0.02, ..., 1; scale, offset: SN linears (C, 256) without bias,
                                           gain 1 + scale(c), bias offset(c), eps 1e-4
    generator.layers.{i}.conv_{0..3}       1x1, 3x3, 3x3, 1x1 SN convs with biases (cin/4 channels inside)
    generator.layers.{a}.snconv1x1_{theta,phi,g,o_conv}, gamma   the self-attention block (bias-free convs)
    generator.bn                           running_means, running_vars (51, C), weight, bias
    generator.conv_to_rgb                  3x3 SN conv, C -> C outputs of which the first 3 are the image (tanh)

Blocks come two per resolution from 4x4, the second upsampling; the attention block sits in the
layer list before block ``a``. ganzoo's DeepGBlock computes the same function with the same
tensors; only gen_z's rows (and its u vector) are reordered to channel-first.
"""

from __future__ import annotations

import torch

from ganzoo.importers import Converted, need, remap, state_dict_of

NAME = "pretrained-biggan-deep"
SN = {
    "weight_orig": "parametrizations.weight.original",
    "weight_u": "parametrizations.weight.0._u",
    "weight_v": "parametrizations.weight.0._v",
}
ATTENTION = {"snconv1x1_theta": "theta", "snconv1x1_phi": "phi", "snconv1x1_g": "g", "snconv1x1_o_conv": "o"}


def convert_pretrained_biggan_deep(checkpoint: dict) -> Converted:
    """A pytorch-pretrained-BigGAN state dict as a ganzoo BigGAN-deep config and G tensors."""
    state = state_dict_of(checkpoint, None, NAME)
    embed = need(state, "embeddings.weight", NAME, 2)  # (shared_dim, num_classes)
    gen_z = need(state, "generator.gen_z.weight_orig", NAME, 2)  # (16 * C0, nz + shared_dim)
    to_rgb = need(state, "generator.conv_to_rgb.weight_orig", NAME, 4)  # (rgb_ch, g_ch, 3, 3)
    stats = need(state, "generator.bn.running_means", NAME, 2)  # (n_stats, g_ch)
    layers = sorted({int(k.split(".")[2]) for k in state if k.startswith("generator.layers.")})
    attention = [i for i in layers if f"generator.layers.{i}.gamma" in state]
    n_blocks = len(layers) - len(attention)
    if layers != list(range(len(layers))) or len(attention) != 1 or n_blocks % 2 or n_blocks // 2 not in (5, 6, 7):
        raise_layout(
            f"layers {layers} with attention at {attention}: BigGAN-deep has 10, 12 or 14 blocks "
            f"(128, 256, 512 pixels) and one attention layer"
        )
    config = {
        "arch": "deep",
        "image_size": 4 * 2 ** (n_blocks // 2),
        "channels": 3,
        "nz": int(gen_z.shape[1] - embed.shape[0]),
        "g_ch": int(to_rgb.shape[1]),
        "num_classes": int(embed.shape[1]),
        "shared_dim": int(embed.shape[0]),
        "attn": 4 * 2 ** (attention[0] // 2),
        "rgb_ch": int(to_rgb.shape[0]),
        "n_stats": int(stats.shape[0]),
        "bn_eps": 1e-4,
        "sn_eps": 1e-4,
    }
    channel_first = _channel_first_rows(gen_z.shape[0] // 16)
    mapping: dict = {
        "embeddings.weight": ("G.shared.weight", lambda w: w.t().contiguous()),
        "generator.gen_z.bias": ("G.linear.bias", lambda b: b[channel_first]),
        "generator.gen_z.weight_orig": (f"G.linear.{SN['weight_orig']}", lambda w: w[channel_first]),
        "generator.gen_z.weight_u": (f"G.linear.{SN['weight_u']}", lambda u: u[channel_first]),
        "generator.gen_z.weight_v": (f"G.linear.{SN['weight_v']}", None),
    }
    norms = ["G.bn"]
    for i in layers:
        up, ours = f"generator.layers.{i}", f"G.blocks.{i}"
        if i in attention:
            mapping[f"{up}.gamma"] = (f"{ours}.gamma", None)
            for theirs, name in ATTENTION.items():
                mapping.update(_sn(f"{up}.{theirs}", f"{ours}.{name}"))
            continue
        for k in range(4):
            mapping.update(_sn(f"{up}.conv_{k}", f"{ours}.c{k + 1}", bias=True))
            mapping.update(_sn(f"{up}.bn_{k}.scale", f"{ours}.b{k + 1}.gain"))
            mapping.update(_sn(f"{up}.bn_{k}.offset", f"{ours}.b{k + 1}.bias"))
            mapping.update(_stats(f"{up}.bn_{k}", f"{ours}.b{k + 1}.bn"))
            norms.append(f"{ours}.b{k + 1}.bn")
    mapping.update(_stats("generator.bn", "G.bn"))
    mapping.update({f"generator.bn.{k}": (f"G.bn.{k}", None) for k in ("weight", "bias")})
    mapping.update(_sn("generator.conv_to_rgb", "G.conv", bias=True))
    tensors, origin = remap(state, mapping, importer=NAME)
    for norm in norms:  # the ordinary running statistics: those recorded for truncation 1 (z untruncated)
        tensors[f"{norm}.running_mean"] = tensors[f"{norm}.means_by_truncation"][-1].clone()
        tensors[f"{norm}.running_var"] = tensors[f"{norm}.vars_by_truncation"][-1].clone()
        tensors[f"{norm}.num_batches_tracked"] = torch.tensor(0)
    data = {"classes": _imagenet_classes()} if config["num_classes"] == 1000 else {}
    return Converted(config, tensors, origin, data)


def _sn(theirs: str, ours: str, bias: bool = False) -> dict:
    """The tensors of one spectrally normalised layer: torch.nn.utils.spectral_norm's -> the parametrization's."""
    out = {f"{theirs}.{k}": (f"{ours}.{v}", None) for k, v in SN.items()}
    return {**out, f"{theirs}.bias": (f"{ours}.bias", None)} if bias else out


def _stats(theirs: str, ours: str) -> dict:
    return {
        f"{theirs}.running_means": (f"{ours}.means_by_truncation", None),
        f"{theirs}.running_vars": (f"{ours}.vars_by_truncation", None),
    }


def _channel_first_rows(channels: int) -> torch.Tensor:
    """Row order that turns gen_z's outputs laid out (4, 4, C) into (C, 4, 4): ours[c * 16 + s] = theirs[s * C + c]."""
    return torch.arange(16 * channels).view(16, channels).t().reshape(-1)


def _imagenet_classes() -> list[str]:
    from . import imagenet_classes

    return imagenet_classes()  # upstream's labels are ILSVRC-2012's indices, in this order


def raise_layout(what: str) -> None:
    from ganzoo.hub import WeightsError

    raise WeightsError(f"{NAME}: the checkpoint has {what}: it is not the layout this importer reads")


# ---- PyTorch-StudioGAN's BigGAN ("big_resnet") generators --------------------------------------------------
#
# From StudioGAN's src/models/big_resnet.py and src/utils/ops.py, saved as {"state_dict": G.state_dict(), ...}
# in "model=G-...-weights-step=N.pth" (or G_ema): torch.nn.utils.spectral_norm on every conv and linear.
#
#     linear0.*                 SN linear of the first z chunk, (16 * C0, nz / (blocks + 1)), with bias
#     shared.weight             (K, shared_dim) class embedding
#     blocks.{i}.0.bn{1,2}      bn.{running_mean, running_var, num_batches_tracked} (eps 1e-4, no affine);
#                               gain, bias: SN linears without bias of [shared, z chunk]; gain applied as 1 + gain
#     blocks.{i}.0.conv2d{0,1,2}  1x1 shortcut (after the upsampling), 3x3, 3x3; SN with biases
#     blocks.{a}.0.conv1x1_{theta,phi,g,attn}, sigma   the self-attention block (bias-free SN convs)
#     bn4.*, conv2d5.*          BatchNorm2d (eps 1e-4), then an SN 3x3 conv to RGB and tanh
#
# Its 32x32, 128x128, 256x256 and 512x512 layouts are BigGAN-PyTorch's, so ganzoo's resnet G takes them
# tensor for tensor; its 64x64 layout has other widths and is refused.

STUDIOGAN = "studiogan-biggan"
STUDIOGAN_SIZES = {3: 32, 5: 128, 6: 256, 7: 512}  # up-blocks -> image side
STUDIOGAN_ATTENTION = {"conv1x1_theta": "theta", "conv1x1_phi": "phi", "conv1x1_g": "g", "conv1x1_attn": "o"}
BN_STATS = ("running_mean", "running_var", "num_batches_tracked")


def convert_studiogan_biggan(checkpoint: dict) -> Converted:
    """A StudioGAN BigGAN generator checkpoint (the whole saved dict) as a ganzoo BigGAN config and G tensors."""
    state = state_dict_of(checkpoint, "state_dict", STUDIOGAN)
    linear = need(state, "linear0.weight_orig", STUDIOGAN, 2)  # (16 * C0, chunk)
    shared = need(state, "shared.weight", STUDIOGAN, 2)  # (K, shared_dim)
    to_rgb = need(state, "conv2d5.weight_orig", STUDIOGAN, 4)  # (3, C, 3, 3)
    indices = sorted({int(k.split(".")[1]) for k in state if k.startswith("blocks.")})
    attention = [i for i in indices if f"blocks.{i}.0.sigma" in state]
    n_blocks = len(indices) - len(attention)
    if indices != list(range(len(indices))) or len(attention) > 1 or n_blocks not in STUDIOGAN_SIZES:
        _refuse(
            f"blocks {indices} with attention at {attention}; StudioGAN's big_resnet G has 3, 5, 6 or 7 "
            f"up-blocks (32, 128, 256, 512 pixels; its 64x64 layout has other widths) and one attention block"
        )
    size = STUDIOGAN_SIZES[n_blocks]
    config = {
        "arch": "resnet",
        "image_size": size,
        "channels": int(to_rgb.shape[0]),
        "nz": int(linear.shape[1]) * (n_blocks + 1),
        "g_ch": int(to_rgb.shape[1]) // (4 if size == 32 else 1),
        "num_classes": int(shared.shape[0]),
        "shared_dim": int(shared.shape[1]),
        "hier": True,
        "attn": 4 * 2 ** attention[0] if attention else 0,
        "bn_eps": 1e-4,
        "sn_eps": 1e-6,
    }
    mapping: dict = {"shared.weight": ("G.shared.weight", None), "linear0.bias": ("G.linear.bias", None)}
    mapping.update(_sn("linear0", "G.linear"))
    for i in indices:
        up, ours = f"blocks.{i}.0", f"G.blocks.{i}"
        if i in attention:
            mapping[f"{up}.sigma"] = (f"{ours}.gamma", None)
            for theirs, name in STUDIOGAN_ATTENTION.items():
                mapping.update(_sn(f"{up}.{theirs}", f"{ours}.{name}"))
            continue
        for conv, name in (("conv2d0", "c_sc"), ("conv2d1", "c1"), ("conv2d2", "c2")):
            mapping.update(_sn(f"{up}.{conv}", f"{ours}.{name}", bias=True))
        for bn, name in (("bn1", "b1"), ("bn2", "b2")):
            mapping.update({f"{up}.{bn}.bn.{k}": (f"{ours}.{name}.bn.{k}", None) for k in BN_STATS})
            mapping.update(_sn(f"{up}.{bn}.gain", f"{ours}.{name}.gain"))
            mapping.update(_sn(f"{up}.{bn}.bias", f"{ours}.{name}.bias"))
    mapping.update({f"bn4.{k}": (f"G.bn.{k}", None) for k in ("weight", "bias", *BN_STATS)})
    mapping.update(_sn("conv2d5", "G.conv", bias=True))
    tensors, origin = remap(state, mapping, importer=STUDIOGAN)
    return Converted(config, tensors, origin)


def _refuse(what: str) -> None:
    from ganzoo.hub import WeightsError

    raise WeightsError(f"{STUDIOGAN}: the checkpoint has {what}: it is not the layout this importer reads")
