"""mmagic's (formerly MMGeneration's) DCGAN checkpoints as ganzoo DCGAN generators.

The layout, from mmagic's ``DCGANGenerator`` (mmagic/models/editors/dcgan/dcgan_generator.py) built
of mmcv ``ConvModule``s (conv, then a norm named "bn", then the activation; the conv has a bias
exactly when no norm follows it), saved by the runner as ``{"meta": ..., "state_dict": ...}`` with
the generator's tensors under "generator." and the discriminator's under "discriminator.":

    generator.noise2feat.conv.weight     (nz, W, 4, 4)     ConvTranspose2d 4x4 from 1x1, no bias
    generator.noise2feat.bn.*            (W,)              BatchNorm2d, eps 1e-5, then ReLU
    generator.upsampling.{i}.conv.weight (W/2^i, W/2^(i+1), 4, 4)  stride 2, no bias; then bn, ReLU
    generator.output_layer.conv.{weight, bias}  (ngf, C, 4, 4), (C,)  stride 2, with bias; then Tanh

This is ganzoo's ConvGenerator with ``out_bias=True`` and ``ngf`` = the last hidden width. mmagic
trains on images read by OpenCV, in BGR order, scaled to [-1, 1]; the output layer's channels are
reversed here so that the imported generator draws RGB, as every ganzoo model does. Only the
generator is imported: "discriminator." tensors are recognised and left out.
"""

from __future__ import annotations

from ganzoo.hub import WeightsError
from ganzoo.importers import Converted, need, remap, state_dict_of

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
    config = {"image_size": 4 * 2 ** (n_mid + 1), "channels": int(channels), "nz": int(nz), "ngf": int(ngf),
              "out_bias": True}
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
    if width != ngf * 2 ** n_mid:
        raise WeightsError(f"{NAME}: widths {int(width)} -> {int(ngf)} over {n_mid} up-sampling layers do not halve each "
                         f"layer, as DCGAN's generator does")
    return Converted(config, tensors, origin)
