"""junyanz/pytorch-CycleGAN-and-pix2pix's released CycleGAN generators as one-way ganzoo CycleGAN models.

The layout, from its models/networks.py (ResnetGenerator, norm "instance", padding "reflect", no
dropout at test: `--no_dropout`), saved as a bare state dict of ONE generator ("NAME.pth"):

    model.1                      7x7 conv, C -> ngf, with bias (instance norm without affine keeps conv biases)
    model.4, model.7             3x3 stride-2 convs, ngf -> 2 ngf -> 4 ngf
    model.{10 + i}.conv_block.1  the residual blocks' first 3x3 conv (conv_block.5: the second); i < n_blocks
    model.{10 + n}, model.{13 + n}   3x3 stride-2 transposed convs, 4 ngf -> 2 ngf -> ngf
    model.{17 + n}               7x7 conv, ngf -> C, then tanh

Its indices are ganzoo's ResnetGenerator's ("main.N", blocks' "body.N"): the same modules in the same
order. Files saved by PyTorch before 0.4 also hold running_mean / running_var (and later files may hold
num_batches_tracked) under the instance norms, which the upstream's own loader deletes unread
(models/base_model.py, __patch_instance_norm_state_dict); they are dropped here too, shape-checked,
and nothing else is.
"""

from __future__ import annotations

from ganzoo.importers import Converted, WeightsError, need, remap, state_dict_of

NAME = "junyanz-cyclegan"
IMAGE_SIZE = 256  # the authors' crop_size: every released model was trained and is tested at 256x256
NORM_STATS = ("running_mean", "running_var", "num_batches_tracked")  # unused buffers under instance norms


def convert_junyanz_cyclegan(checkpoint: dict) -> Converted:
    """One released CycleGAN generator (A -> B) as a one-way ganzoo CycleGAN: config and G_AB tensors."""
    state = state_dict_of(checkpoint, None, NAME)
    first = need(state, "model.1.weight", NAME, 4)  # (ngf, C, 7, 7)
    ngf, channels = int(first.shape[0]), int(first.shape[1])
    n_blocks = 0
    while f"model.{10 + n_blocks}.conv_block.1.weight" in state:
        n_blocks += 1
    last = need(state, f"model.{17 + n_blocks}.weight", NAME, 4)  # (C, ngf, 7, 7)
    if tuple(last.shape[:2]) != (channels, ngf):
        raise WeightsError(
            f"{NAME}: tensor 'model.{17 + n_blocks}.weight' has shape {tuple(last.shape)}: the generator maps "
            f"{channels} channels in, so its last conv must be ({channels}, {ngf}, 7, 7)"
        )
    convs = [1, 4, 7, 10 + n_blocks, 13 + n_blocks, 17 + n_blocks]
    mapping = {f"model.{i}.{p}": (f"G_AB.main.{i}.{p}", None) for i in convs for p in ("weight", "bias")}
    norms = {2: ngf, 5: 2 * ngf, 8: 4 * ngf, 11 + n_blocks: 2 * ngf, 14 + n_blocks: ngf}  # index -> channels
    norms = {f"model.{i}": width for i, width in norms.items()}
    for b in range(10, 10 + n_blocks):
        for i in (1, 5):
            mapping.update(
                {f"model.{b}.conv_block.{i}.{p}": (f"G_AB.main.{b}.body.{i}.{p}", None) for p in ("weight", "bias")}
            )
        norms.update({f"model.{b}.conv_block.2": 4 * ngf, f"model.{b}.conv_block.6": 4 * ngf})
    stale = _instance_norm_buffers(state, norms)
    tensors, origin = remap({k: v for k, v in state.items() if k not in stale}, mapping, importer=NAME)
    config = {
        "image_size": IMAGE_SIZE,
        "channels": channels,
        "ngf": ngf,
        "n_blocks": n_blocks,
        "one_way": True,
    }
    return Converted(config, tensors, origin)


def _instance_norm_buffers(state: dict, norms: dict[str, int]) -> set[str]:
    """The statistics old files keep under instance norms (unused: instance norm reads each image's own), each
    checked to be one value per channel of a norm the layout has; the upstream's loader deletes them too."""
    found = set()
    for norm, channels in norms.items():
        for stat in NORM_STATS:
            key = f"{norm}.{stat}"
            if key in state:
                shape = tuple(state[key].shape)
                if shape != (() if stat == "num_batches_tracked" else (channels,)):
                    raise WeightsError(
                        f"{NAME}: tensor {key!r} has shape {shape}, not the per-channel statistics of an "
                        f"instance norm: the checkpoint is from another architecture"
                    )
                found.add(key)
    return found
