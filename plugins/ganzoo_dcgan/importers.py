"""Other libraries' DCGAN checkpoints as ganzoo DCGAN generators: mmagic's and PyTorch-StudioGAN's.

mmagic (formerly MMGeneration). The layout, from mmagic's ``DCGANGenerator``
(mmagic/models/editors/dcgan/dcgan_generator.py) built of mmcv ``ConvModule``s (conv, then a norm
named "bn", then the activation; the conv has a bias exactly when no norm follows it), saved by the
runner as ``{"meta": ..., "state_dict": ...}`` with the generator's tensors under "generator." and
the discriminator's under "discriminator.":

    generator.noise2feat.conv.weight     (nz, W, 4, 4)     ConvTranspose2d 4x4 from 1x1, no bias
    generator.noise2feat.bn.*            (W,)              BatchNorm2d, eps 1e-5, then ReLU
    generator.upsampling.{i}.conv.weight (W/2^i, W/2^(i+1), 4, 4)  stride 2, no bias; then bn, ReLU
    generator.output_layer.conv.{weight, bias}  (ngf, C, 4, 4), (C,)  stride 2, with bias; then Tanh

This is ganzoo's ConvGenerator with ``out_bias=True`` and ``ngf`` = the last hidden width. mmagic
trains on images read by OpenCV, in BGR order, scaled to [-1, 1]; the output layer's channels are
reversed here so that the imported generator draws RGB, as every ganzoo model does. Only the
generator is imported: "discriminator." tensors are recognised and left out.

StudioGAN: see convert_studiogan_dcgan.
"""

from __future__ import annotations

from ganzoo.importers import Converted, WeightsError, need, remap, state_dict_of

NAME = "mmagic-dcgan"
BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def convert_mmagic_dcgan(checkpoint: dict) -> Converted:
    """An mmagic DCGAN checkpoint (the whole saved dict) as a ganzoo DCGAN config and G tensors."""
    state = state_dict_of(checkpoint, "state_dict", NAME)
    first = need(state, "generator.noise2feat.conv.weight", NAME, 4)  # (nz, W, 4, 4)
    last = need(state, "generator.output_layer.conv.weight", NAME, 4)  # (ngf, C, 4, 4)
    n_mid = sum(1 for k in state if k.startswith("generator.upsampling.") and k.endswith(".conv.weight"))
    nz, width = first.shape[:2]
    ngf, channels = last.shape[:2]
    config = {
        "image_size": 4 * 2 ** (n_mid + 1),
        "channels": int(channels),
        "nz": int(nz),
        "ngf": int(ngf),
        "out_bias": True,
    }
    mapping: dict = {}
    blocks = ["generator.noise2feat"] + [f"generator.upsampling.{i}" for i in range(n_mid)]
    for i, block in enumerate(blocks):  # ganzoo: main = [convT, bn, relu] * len(blocks) + [convT, tanh]
        mapping[f"{block}.conv.weight"] = (f"G.main.{3 * i}.weight", None)
        mapping.update({f"{block}.bn.{k}": (f"G.main.{3 * i + 1}.{k}", None) for k in BN})
    out = 3 * len(blocks)
    rgb = channels == 3  # BGR -> RGB: reverse the output channels, dim 1 of a (in, C, 4, 4) transposed-conv weight
    mapping["generator.output_layer.conv.weight"] = (f"G.main.{out}.weight", (lambda w: w.flip(1)) if rgb else None)
    mapping["generator.output_layer.conv.bias"] = (f"G.main.{out}.bias", (lambda b: b.flip(0)) if rgb else None)
    tensors, origin = remap(state, mapping, importer=NAME, ignore=("discriminator.",))
    if width != ngf * 2**n_mid:
        raise WeightsError(
            f"{NAME}: widths {int(width)} -> {int(ngf)} over {n_mid} up-sampling layers do not halve "
            f"each layer, as DCGAN's generator does"
        )
    return Converted(config, tensors, origin)


STUDIOGAN = "studiogan-dcgan"


def convert_studiogan_dcgan(checkpoint: dict) -> Converted:
    """A PyTorch-StudioGAN DCGAN generator checkpoint (the whole saved dict) as a ganzoo DCGAN config and G tensors.

    The layout, from StudioGAN's src/models/deep_conv.py and src/utils/ops.py (``g_cond_mtd: "W/O"``, no
    spectral norm, as its CIFAR10/DCGAN.yaml), saved by its worker as ``{"state_dict": Gen.state_dict(),
    "optimizer": ...}`` in "model=G-<best|current>-weights-step=N.pth":

        linear0.{weight, bias}                (16 * W, nz), (16 * W,)   then a view to (B, W, 4, 4), no norm
        blocks.{i}.0.deconv0.{weight, bias}   (W/2^i, W/2^(i+1), 4, 4), (W/2^(i+1),)   stride 2, padding 1
        blocks.{i}.0.bn0.*                    BatchNorm2d (eps 1e-4), then ReLU
        conv4.{weight, bias}                  (C, ngf, 3, 3), (C,)   3x3 conv to the image, then tanh

    This is ganzoo's ConvGenerator with ``g_stem="linear"``, ``g_head="conv3x3"``, ``bn_eps=1e-4`` and a
    biased output layer. A transposed conv's bias is constant per channel and a batch norm follows it, so it
    is folded into that norm's running mean (exact in eval mode; in training mode the norm removes it
    anyway). Images are RGB in [-1, 1], as ganzoo's.
    """
    state = state_dict_of(checkpoint, "state_dict", STUDIOGAN)
    if any(".bn0.gain." in k or k.startswith("info_") for k in state):
        raise WeightsError(
            f"{STUDIOGAN}: the checkpoint is a class- or code-conditional StudioGAN DCGAN (cBN): ganzoo converts "
            'StudioGAN\'s unconditional DCGAN (g_cond_mtd "W/O") only'
        )
    linear = need(state, "linear0.weight", STUDIOGAN, 2)  # (16 * W, nz)
    out = need(state, "conv4.weight", STUDIOGAN, 4)  # (C, ngf, 3, 3)
    n_mid = len({k.split(".")[1] for k in state if k.startswith("blocks.")})  # up-sampling blocks
    channels, ngf = out.shape[:2]
    if linear.shape[0] != 16 * ngf * 2**n_mid:
        raise WeightsError(
            f"{STUDIOGAN}: tensor 'linear0.weight' has shape {tuple(linear.shape)}: its rows are not "
            f"4x4 maps of {ngf} * 2^{n_mid} channels, halved over {n_mid} up-sampling blocks as "
            f"StudioGAN's DCGAN does"
        )
    config = {
        "image_size": 4 * 2**n_mid,
        "channels": int(channels),
        "nz": int(linear.shape[1]),
        "ngf": int(ngf),
        "out_bias": True,
        "g_stem": "linear",
        "g_head": "conv3x3",
        "bn_eps": 1e-4,
    }
    folded = dict(state)
    for i in range(n_mid):  # (deconv + b) then BN  ==  deconv then BN with running_mean - b
        block = f"blocks.{i}.0"
        bias = need(state, f"{block}.deconv0.bias", STUDIOGAN, 1)
        mean = need(state, f"{block}.bn0.running_mean", STUDIOGAN, 1)
        if bias.shape != mean.shape:
            raise WeightsError(
                f"{STUDIOGAN}: tensor '{block}.deconv0.bias' has shape {tuple(bias.shape)}, but its "
                f"batch norm has {tuple(mean.shape)}: the checkpoint is from another architecture"
            )
        folded[f"{block}.bn0.running_mean"] = mean - bias
        del folded[f"{block}.deconv0.bias"]
    mapping: dict = {"linear0.weight": ("G.main.1.weight", None), "linear0.bias": ("G.main.1.bias", None)}
    for i in range(n_mid):  # ganzoo: main = [flatten, linear, unflatten] + [convT, bn, relu] * n_mid + [conv, tanh]
        mapping[f"blocks.{i}.0.deconv0.weight"] = (f"G.main.{3 + 3 * i}.weight", None)
        mapping.update({f"blocks.{i}.0.bn0.{k}": (f"G.main.{4 + 3 * i}.{k}", None) for k in BN})
    mapping.update({f"conv4.{k}": (f"G.main.{3 + 3 * n_mid}.{k}", None) for k in ("weight", "bias")})
    tensors, origin = remap(folded, mapping, importer=STUDIOGAN)
    return Converted(config, tensors, origin)
