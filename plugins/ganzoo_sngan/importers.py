"""PyTorch-StudioGAN's SNGAN checkpoints (its "resnet" backbone) as ganzoo SNGAN generators.

The layout, from StudioGAN's src/models/resnet.py and src/utils/ops.py, saved by its worker as
``{"state_dict": Gen.state_dict(), "optimizer": ...}`` in "model=G-best-weights-step=N.pth":

    linear0.{weight, bias}                 (4*4*C0, nz), (4*4*C0,)   then a view to (B, C0, 4, 4)
    blocks.{i}.0.bn1, .bn2                 cBN: bn.{running_mean, running_var, num_batches_tracked}
                                           (BatchNorm2d, eps 1e-4, no affine), gain.weight and
                                           bias.weight (C, K): Linear(one_hot(y)) without bias, the
                                           gain applied as 1 + gain; unconditional: a BatchNorm2d
    blocks.{i}.0.conv2d1, .conv2d2         3x3 convs; conv2d0 the 1x1 shortcut after the upsampling
    bn4.*                                  BatchNorm2d (eps 1e-4), then ReLU
    conv2d5.{weight, bias}                 3x3 conv to the image, then tanh

A block is BN-ReLU-upsample-conv-BN-ReLU-conv plus the shortcut: ganzoo's GBlock. Its Linear on a
one-hot label picks one column, so ganzoo's per-class embedding rows are those columns (plus one
for the gain). Images are RGB in [-1, 1], as ganzoo's.

Runs saved by StudioGAN before its resnet.py change of 2022-03-06 (e.g. its Efficient-CIFAR10
releases) feed the cBN Linears a learned class embedding instead of the one-hot label:

    shared.weight                          (K, nz)  nn.Embedding, shared by every cBN
    blocks.{i}.0.bn{1,2}.{gain,bias}.weight (C, nz)  so gain(y) = W_gain @ shared[y]

W @ shared.T is then the (C, K) matrix of per-class columns, folded here (in float64) into the
one-hot layout above: the same function, one row per class.
"""

from __future__ import annotations

from ganzoo.importers import Converted, WeightsError, need, remap, state_dict_of

NAME = "studiogan-sngan"
BN_STATS = ("running_mean", "running_var", "num_batches_tracked")
SIZES = {3: 32, 4: 64}  # StudioGAN's resnet G: up-sampling blocks -> image side (both start at 4x4)


def convert_studiogan_sngan(checkpoint: dict) -> Converted:
    """A StudioGAN SNGAN generator checkpoint (the whole saved dict) as a ganzoo SNGAN config and G tensors."""
    state = fold_shared_embedding(state_dict_of(checkpoint, "state_dict", NAME))
    linear = need(state, "linear0.weight", NAME, 2)  # (16 * C0, nz)
    out = need(state, "conv2d5.weight", NAME, 4)  # (C, g_ch, 3, 3)
    n_blocks = len({k.split(".")[1] for k in state if k.startswith("blocks.")})
    if n_blocks not in SIZES:
        raise_layout(f"{n_blocks} generator blocks; StudioGAN's resnet has 3 (32x32) or 4 (64x64)")
    conditional = "blocks.0.0.bn1.gain.weight" in state
    num_classes = int(need(state, "blocks.0.0.bn1.gain.weight", NAME, 2).shape[1]) if conditional else 0
    config = {
        "image_size": SIZES[n_blocks],
        "channels": int(out.shape[0]),
        "nz": int(linear.shape[1]),
        "g_ch": int(out.shape[1]),
        "num_classes": num_classes,
        "bn_eps": 1e-4,
    }
    mapping: dict = {"linear0.weight": ("G.linear.weight", None), "linear0.bias": ("G.linear.bias", None)}
    for i in range(n_blocks):
        up, ours = f"blocks.{i}.0", f"G.blocks.{i}"
        for conv, name in (("conv2d0", "c_sc"), ("conv2d1", "c1"), ("conv2d2", "c2")):
            mapping.update({f"{up}.{conv}.{k}": (f"{ours}.{name}.{k}", None) for k in ("weight", "bias")})
        for bn, name in (("bn1", "b1"), ("bn2", "b2")):
            if conditional:
                mapping.update({f"{up}.{bn}.bn.{k}": (f"{ours}.{name}.bn.{k}", None) for k in BN_STATS})
                # (C, K) -> (K, C)
                mapping[f"{up}.{bn}.gain.weight"] = (f"{ours}.{name}.gain.weight", lambda w: 1 + w.t())
                mapping[f"{up}.{bn}.bias.weight"] = (f"{ours}.{name}.bias.weight", lambda w: w.t().contiguous())
            else:
                mapping.update({f"{up}.{bn}.{k}": (f"{ours}.{name}.{k}", None) for k in ("weight", "bias", *BN_STATS)})
    mapping.update({f"bn4.{k}": (f"G.bn.{k}", None) for k in ("weight", "bias", *BN_STATS)})
    mapping.update({f"conv2d5.{k}": (f"G.conv.{k}", None) for k in ("weight", "bias")})
    tensors, origin = remap(state, mapping, importer=NAME)
    return Converted(config, tensors, origin)


def fold_shared_embedding(state: dict) -> dict:
    """The older layout (a class embedding ``shared`` read by every cBN) as the one-hot layout; others unchanged."""
    if "shared.weight" not in state:
        return state
    shared = need(state, "shared.weight", NAME, 2).double()  # (K, nz)
    folded = {k: v for k, v in state.items() if k != "shared.weight"}
    n_blocks = len({k.split(".")[1] for k in state if k.startswith("blocks.")})
    keys = (f"blocks.{i}.0.{bn}.{p}.weight" for i in range(n_blocks) for bn in ("bn1", "bn2") for p in ("gain", "bias"))
    for key in keys:
        w = need(state, key, NAME, 2)  # (C, nz)
        if w.shape[1] != shared.shape[1]:
            raise_layout(
                f"tensor {key!r} of shape {tuple(w.shape)}, which cannot read 'shared.weight' of shape "
                f"{tuple(shared.shape)}"
            )
        folded[key] = (w.double() @ shared.t()).to(w.dtype)  # (C, K): one column per class
    return folded


def raise_layout(what: str) -> None:
    raise WeightsError(f"{NAME}: the checkpoint has {what}: it is not the layout this importer reads")
