"""timm models as feature extractors: names checked against timm, weights found only locally, never downloaded.

ganzoo.metrics.features wraps the network this module builds; weights come from a local file or the
Hugging Face (or torch.hub) cache, and a file that leaves any of the model's tensors unset is refused.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["WeightsNotCachedError", "cached_weights", "check_timm_name", "timm_network"]

HUB_FILENAMES = ("model.safetensors", "pytorch_model.bin")  # what timm looks for in a Hub repo


class WeightsNotCachedError(FileNotFoundError):
    """A feature extractor's weights are neither a local file nor in a download cache."""


def check_timm_name(name: str) -> str:
    """A known timm model name, with the default pretrained tag added when it has none."""
    import timm
    from timm.models import get_pretrained_cfg, split_model_name_tag

    arch, tag = split_model_name_tag(name)
    if not timm.is_model(arch):
        close = difflib.get_close_matches(arch, timm.list_models(), n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"timm has no model {arch!r}{hint}")
    try:
        cfg = get_pretrained_cfg(name)
    except RuntimeError:  # timm's "Invalid pretrained tag"
        cfg = None
    if cfg is None:
        raise ValueError(
            f"timm model {arch!r} has no pretrained tag {tag!r}; timm.list_pretrained('{arch}*') lists them"
        )
    return f"{arch}.{cfg.tag}" if not tag and cfg.tag else name


def timm_network(name: str, file: str) -> tuple[nn.Module, Callable[[torch.Tensor], torch.Tensor]]:
    """timm model ``name`` with pooled features (num_classes=0) and weights from ``file``, and its input
    preparation: (B, 3, H, W) in [-1, 1] -> its input size, normalised."""
    import timm

    net = timm.create_model(name, pretrained=True, num_classes=0, pretrained_cfg_overlay=dict(file=file))
    _check_all_loaded(net, file, name)
    cfg = net.pretrained_cfg
    size = tuple(cfg["input_size"][-2:])  # (H, W)
    mean = torch.tensor(cfg["mean"], dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(cfg["std"], dtype=torch.float32).view(1, 3, 1, 1)

    def prepare(x: torch.Tensor) -> torch.Tensor:  # (B, 3, H, W) in [-1, 1] -> (B, 3, *size) normalised
        if tuple(x.shape[-2:]) != size:
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
        return ((x + 1) / 2 - mean.to(x.device)) / std.to(x.device)

    return net, prepare


def cached_weights(name: str) -> str:
    """The cached weights file of a timm model, or WeightsNotCachedError saying how to get it."""
    from huggingface_hub import try_to_load_from_cache
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(name)
    cache = _hub_cache_dir()
    if cfg.hf_hub_id:
        for filename in [cfg.hf_hub_filename] if cfg.hf_hub_filename else HUB_FILENAMES:
            found = try_to_load_from_cache(cfg.hf_hub_id, filename, cache_dir=cache)
            if isinstance(found, str):
                return found
    if cfg.url:  # older weights that timm fetches through torch.hub
        local = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(cfg.url.split("?")[0])
        if local.is_file():
            return str(local)
    raise WeightsNotCachedError(
        f"the weights of timm model {name!r} are not cached (looked in {cache}"
        + (f" for {cfg.hf_hub_id}" if cfg.hf_hub_id else "")
        + "), and ganzoo never downloads feature "
        f"weights silently. Either fetch them once while online:\n"
        f"  python -c \"import timm; timm.create_model('{name}', pretrained=True)\"\n"
        f"or pass a local file: --features timm:{name}@/path/to/model.safetensors"
    )


def _hub_cache_dir() -> str:
    """The Hugging Face Hub cache, read from the environment now (not at import time)."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.path.expanduser(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")
    return os.path.join(os.path.expanduser(home), "hub")


def _check_all_loaded(net: nn.Module, file: str, name: str) -> None:
    """timm loads with strict=False when it drops the classifier; refuse weights that leave holes."""
    if file.endswith(".safetensors"):
        from safetensors import safe_open

        with safe_open(file, framework="pt") as f:
            keys = set(f.keys())
    else:
        from timm.models import load_state_dict

        keys = set(load_state_dict(file))
    missing = [k for k in net.state_dict() if k not in keys and not k.endswith("num_batches_tracked")]
    if missing:
        raise ValueError(
            f"{file} lacks {len(missing)} tensors of timm model {name!r} (first: {missing[0]!r}); "
            f"it holds weights of another model"
        )
