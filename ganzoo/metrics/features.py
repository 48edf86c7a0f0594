"""Feature extractors for image metrics, named by one string (``--features``).

    "inception"                      = "timm:inception_v3.tf_in1k": 2048-d pool features, 299x299
    "timm:MODEL"                     any timm model's pooled features (num_classes=0)
    "timm:MODEL@/path/weights.safetensors"   the same, with weights from a local file
    "mnist-classifier"               the bundled MNIST classifier's 128-d features

Weights are never downloaded silently: a timm model's weights come from a local file or from the
Hugging Face cache (or torch.hub's cache), and when they are in neither, loading stops with a
message that says how to get them. Images arrive as (N, C, H, W) in [-1, 1]; grayscale is
repeated to three channels, resized (bilinear, antialiased) to the model's input size, and
mapped to the model's normalisation.

Note: timm's inception_v3.tf_in1k is the TF-slim port, not the 2015-12-05 graph of the original
FID code (Heusel et al. 2017), so its FIDs are comparable with each other, not with papers.

Which extractors a metric used is recorded: inside ``with record_features() as used:`` every
extractor call appends itself to ``used``, which evaluate() writes into each metric's protocol.
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import functools
import hashlib
import os
from pathlib import Path
from typing import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "FeatureExtractor",
    "CachedExtractor",
    "WeightsNotCachedError",
    "canonical_spec",
    "load_extractor",
    "record_features",
]

ALIASES = {"inception": "timm:inception_v3.tf_in1k"}
MNIST_SPEC = "mnist-classifier"
HUB_FILENAMES = ("model.safetensors", "pytorch_model.bin")  # what timm looks for in a Hub repo

_recording: contextvars.ContextVar[list | None] = contextvars.ContextVar("ganzoo_features_used", default=None)


class WeightsNotCachedError(FileNotFoundError):
    """A feature extractor's weights are neither a local file nor in a download cache."""


class FeatureExtractor:
    """A frozen network that maps images (N, C, H, W) in [-1, 1] to features (N, dim)."""

    def __init__(self, spec: str, net: nn.Module, dim: int, prepare: Callable[[torch.Tensor], torch.Tensor],
                 weights_sha256: str | None = None):
        self.spec = spec  # canonical spec, written into every protocol
        self.net = net.eval()
        self.dim = dim
        self.prepare = prepare  # one batch in [-1, 1] -> the network's input
        self.weights_sha256 = weights_sha256  # first 16 hex digits of the weights file's sha256

    def __repr__(self) -> str:
        return f"FeatureExtractor({self.spec!r}, dim={self.dim})"

    @torch.no_grad()
    def __call__(self, images: torch.Tensor, *, batch_size: int = 64,
                 device: str | torch.device | None = None) -> torch.Tensor:
        """(N, C, H, W) in [-1, 1] -> (N, dim) float32 on the CPU."""
        if images.dim() != 4:
            raise ValueError(f"feature extractor {self.spec!r} needs images (N, C, H, W), got {tuple(images.shape)}")
        used = _recording.get()
        if used is not None and self not in used:
            used.append(self)
        if device is not None:
            self.net.to(device)
        device = next(self.net.parameters()).device
        out = [self.net(self.prepare(chunk.to(device, torch.float32))).float().cpu()
               for chunk in images.split(batch_size)]
        return torch.cat(out) if out else torch.empty(0, self.dim)


class CachedExtractor:
    """Loads its extractor on first use and remembers the features of each tensor it has seen.

    evaluate() hands one of these to every metric, so FID, KID and precision/recall share one pass
    over the samples and the reference images, and a metric that needs no features loads nothing.
    """

    def __init__(self, spec: str, *, batch_size: int = 64, device: str | torch.device = "cpu"):
        self.spec = canonical_spec(spec)
        self.batch_size = batch_size
        self.device = device
        self._extractor: FeatureExtractor | None = None
        self._memo: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # id -> (images kept alive, features)

    @property
    def extractor(self) -> FeatureExtractor:
        if self._extractor is None:
            self._extractor = load_extractor(self.spec)
        return self._extractor

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        hit = self._memo.get(id(images))
        if hit is not None and hit[0] is images:
            used = _recording.get()
            if used is not None and self.extractor not in used:
                used.append(self.extractor)
            return hit[1]
        features = self.extractor(images, batch_size=self.batch_size, device=self.device)  # (N, dim)
        self._memo[id(images)] = (images, features)
        return features


@contextlib.contextmanager
def record_features() -> Iterator[list[FeatureExtractor]]:
    """Collect the extractors called inside the block, in order of first use."""
    used: list[FeatureExtractor] = []
    token = _recording.set(used)
    try:
        yield used
    finally:
        _recording.reset(token)


def canonical_spec(spec: str) -> str:
    """"inception" -> "timm:inception_v3.tf_in1k"; "timm:NAME" gains its default pretrained tag."""
    spec = spec.strip()
    base, sep, path = spec.partition("@")
    base = ALIASES.get(base, base)
    if base == MNIST_SPEC:
        if sep:
            raise ValueError("'mnist-classifier' uses its bundled weights and takes no '@file'")
        return base
    if not base.startswith("timm:") or not base[len("timm:"):]:
        raise ValueError(f"unknown feature extractor {spec!r}: use 'inception', 'mnist-classifier', "
                         f"'timm:MODEL' or 'timm:MODEL@/path/to/weights.safetensors'")
    name = _check_timm_name(base[len("timm:"):])
    if sep:
        if not path:
            raise ValueError(f"feature spec {spec!r} has '@' but no file after it")
        return f"timm:{name}@{os.path.abspath(os.path.expanduser(path))}"
    return f"timm:{name}"


def load_extractor(spec: str) -> FeatureExtractor:
    """The extractor that ``spec`` names (see the module docstring); loaded once per weights file."""
    spec = canonical_spec(spec)
    if spec == MNIST_SPEC:
        return _load_cached(spec, None, 0)
    name, _, path = spec[len("timm:"):].partition("@")
    if path and not os.path.isfile(path):
        raise FileNotFoundError(f"feature weights file {path} does not exist (from --features {spec})")
    file = path or _cached_weights(name)  # resolved now, so a changed cache or file is noticed
    return _load_cached(spec, file, os.stat(file).st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _load_cached(spec: str, file: str | None, stamp: int) -> FeatureExtractor:
    if spec == MNIST_SPEC:
        return _mnist_extractor()
    return _timm_extractor(spec, spec[len("timm:"):].partition("@")[0], file)


def _mnist_extractor() -> FeatureExtractor:
    from .classifier import FEATURES, WEIGHTS_PATH, load_mnist_classifier

    net = load_mnist_classifier()

    class Features(nn.Module):  # the classifier's penultimate layer as forward()
        def __init__(self) -> None:
            super().__init__()
            self.classifier = net

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.classifier.features(x)  # (B, 128); features() averages channels, resizes to 32

    return FeatureExtractor(MNIST_SPEC, Features(), FEATURES, lambda x: x, _sha256(WEIGHTS_PATH))


# ---- timm ------------------------------------------------------------------------------------------


def _check_timm_name(name: str) -> str:
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
        raise ValueError(f"timm model {arch!r} has no pretrained tag {tag!r}; "
                         f"timm.list_pretrained('{arch}*') lists them")
    return f"{arch}.{cfg.tag}" if not tag and cfg.tag else name


def _timm_extractor(spec: str, name: str, file: str) -> FeatureExtractor:
    """timm model ``name`` with pooled features (num_classes=0) and weights from ``file``."""
    import timm

    net = timm.create_model(name, pretrained=True, num_classes=0, pretrained_cfg_overlay=dict(file=file))
    _check_all_loaded(net, file, name)
    cfg = net.pretrained_cfg
    size = tuple(cfg["input_size"][-2:])  # (H, W), 299x299 for Inception
    mean = torch.tensor(cfg["mean"], dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(cfg["std"], dtype=torch.float32).view(1, 3, 1, 1)

    def prepare(x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) in [-1, 1] -> (B, 3, *size) normalised
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        elif x.shape[1] != 3:
            raise ValueError(f"{spec} needs 1- or 3-channel images, got {x.shape[1]} channels")
        if tuple(x.shape[-2:]) != size:
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
        return ((x + 1) / 2 - mean.to(x.device)) / std.to(x.device)

    return FeatureExtractor(spec, net, net.num_features, prepare, _sha256(file))


def _cached_weights(name: str) -> str:
    """The cached weights file of a timm model, or WeightsNotCachedError saying how to get it."""
    from huggingface_hub import try_to_load_from_cache
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(name)
    cache = _hub_cache_dir()
    if cfg.hf_hub_id:
        for filename in ([cfg.hf_hub_filename] if cfg.hf_hub_filename else HUB_FILENAMES):
            found = try_to_load_from_cache(cfg.hf_hub_id, filename, cache_dir=cache)
            if isinstance(found, str):
                return found
    if cfg.url:  # older weights that timm fetches through torch.hub
        local = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(cfg.url.split("?")[0])
        if local.is_file():
            return str(local)
    raise WeightsNotCachedError(
        f"the weights of timm model {name!r} are not cached (looked in {cache}"
        + (f" for {cfg.hf_hub_id}" if cfg.hf_hub_id else "") + "), and ganzoo never downloads feature "
        f"weights silently. Either fetch them once while online:\n"
        f"  python -c \"import timm; timm.create_model('{name}', pretrained=True)\"\n"
        f"or pass a local file: --features timm:{name}@/path/to/model.safetensors")


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
        raise ValueError(f"{file} lacks {len(missing)} tensors of timm model {name!r} (first: {missing[0]!r}); "
                         f"it holds weights of another model")


def _sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]
