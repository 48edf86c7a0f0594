"""junyanz/pytorch-CycleGAN-and-pix2pix's released pix2pix generators as ganzoo pix2pix U-Nets.

The layout, from its models/networks.py (UnetGenerator "unet_256", norm "batch", so no conv biases
except the last), saved as a bare state dict ("NAME.pth"); each UnetSkipConnectionBlock is a
Sequential under ``.model``, its inner block at index 1 (outermost) or 3 (the others):

    model.model.0                  outermost 4x4 stride-2 conv, C -> ngf (no norm)
    model.model.3                  outermost 4x4 transposed conv, 2 ngf -> C, with bias, then tanh
    <level>.model.1 / .2           a middle level's LeakyReLU'd conv down and its batch norm
    <level>.model.5 / .6           its ReLU'd transposed conv up and batch norm (dropout after, in training)
    <innermost>.model.1 / .3 / .4  the bottleneck: conv down (no norm), transposed conv up, batch norm

with <level> = model.model.1, then + ".model.3" per level further in: 8 levels at 256px. ganzoo's
UnetGenerator holds the same convs and norms ("main", ".inside" per level, "down"/"up" Sequentials).
Upstream's down path starts with an in-place LeakyReLU(0.2) on the level's input, so the skip it
concatenates is LeakyReLU(x), not x; the function is the same, since every concatenation goes
through a ReLU first and ReLU(LeakyReLU(x)) = ReLU(x).
Files saved before PyTorch 0.4 lack num_batches_tracked; it is then set to 0 (no layer reads it at test).
"""

from __future__ import annotations

import torch

from ganzoo.importers import Converted, WeightsError, need, remap, state_dict_of

NAME = "junyanz-pix2pix"
IMAGE_SIZE = 256  # the authors' crop_size: every released model was trained and is tested at 256x256
BN = ("weight", "bias", "running_mean", "running_var")
MAX_LEVELS = 8  # 256 halves to 1x1 in 8 levels


def convert_junyanz_pix2pix(checkpoint: dict) -> Converted:
    """One released pix2pix U-Net (A -> B) as a ganzoo pix2pix config and G_AB tensors; its batch norms use
    each image's own statistics at test, as the authors' test.py runs it (norm_stats="image")."""
    state = state_dict_of(checkpoint, None, NAME)
    first = need(state, "model.model.0.weight", NAME, 4)  # (ngf, C, 4, 4)
    ngf, channels = int(first.shape[0]), int(first.shape[1])
    theirs, ours = "model.model.1", "G_AB.main.inside"
    levels = []  # (upstream prefix, ganzoo prefix) of each middle level, outermost first
    while f"{theirs}.model.5.weight" in state and len(levels) < MAX_LEVELS:
        levels.append((theirs, ours))
        theirs, ours = f"{theirs}.model.3", f"{ours}.inside"
    n_downs = len(levels) + 2  # the outermost level, the middle ones, the innermost
    if n_downs > MAX_LEVELS or f"{theirs}.model.3.weight" not in state:
        raise WeightsError(
            f"{NAME}: the checkpoint's U-Net has no innermost level where {len(levels)} middle levels end "
            f"(no {theirs}.model.3.weight): it is not a UnetGenerator of at most {MAX_LEVELS} levels"
        )
    mapping: dict = {
        "model.model.0.weight": ("G_AB.main.down.0.weight", None),
        "model.model.3.weight": ("G_AB.main.up.1.weight", None),
        "model.model.3.bias": ("G_AB.main.up.1.bias", None),
    }
    norms = []  # (upstream, ganzoo) batch norms
    for up, gz in levels:
        mapping[f"{up}.model.1.weight"] = (f"{gz}.down.1.weight", None)
        mapping[f"{up}.model.5.weight"] = (f"{gz}.up.1.weight", None)
        norms += [(f"{up}.model.2", f"{gz}.down.2"), (f"{up}.model.6", f"{gz}.up.2")]
    mapping[f"{theirs}.model.1.weight"] = (f"{ours}.down.1.weight", None)
    mapping[f"{theirs}.model.3.weight"] = (f"{ours}.up.1.weight", None)
    norms.append((f"{theirs}.model.4", f"{ours}.up.2"))
    counters = {}  # num_batches_tracked: optional (absent from files saved before PyTorch 0.4)
    for up, gz in norms:
        mapping.update({f"{up}.{p}": (f"{gz}.{p}", None) for p in BN})
        key = f"{up}.num_batches_tracked"
        if key in state:
            mapping[key] = (f"{gz}.num_batches_tracked", None)
        else:
            counters[f"{gz}.num_batches_tracked"] = torch.tensor(0)
    tensors, origin = remap(state, mapping, importer=NAME)
    tensors.update(counters)
    config = {
        "image_size": IMAGE_SIZE,
        "channels": channels,
        "ngf": ngf,
        "n_downs": n_downs,
        "norm_stats": "image",
    }
    return Converted(config, tensors, origin)
