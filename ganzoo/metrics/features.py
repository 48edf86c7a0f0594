"""Feature extractors for image metrics, named by one string (``--features``), all run through torch-fidelity.

    "inception" = "inception-v3-compat"      the FID Inception (2015-12-05 graph, TF1 resizing to 299):
                                             "2048" pool features and "logits_unbiased" (for IS)
    "timm:MODEL"                             any timm model's pooled features (num_classes=0)
    "timm:MODEL@/path/weights.safetensors"   the same, with weights from a local file
    "mnist-classifier"                       the bundled MNIST judge's 128-d features

Every extractor is a torch-fidelity ``FeatureExtractorBase``: it takes uint8 images (B, 3, H, W),
exactly as torch-fidelity feeds its own, and ganzoo's two (MNIST judge, timm) are registered with
torch-fidelity, so ``torch_fidelity.calculate_metrics(feature_extractor="ganzoo-mnist-classifier")``
computes the same numbers. Generated images in [-1, 1] are quantised to 8 bits as a PNG file of
them would be (torchvision's save_image), so scoring a model and scoring a folder of its saved
samples give equal numbers; grayscale is repeated to three channels.

Weights are never downloaded silently for timm models (a local file or the Hugging Face cache);
the Inception's weights follow ganzoo.metrics.inception. Which extractors a metric used is
recorded: inside ``with record_features() as used:`` every extractor call appends itself.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import sys
from collections.abc import Callable, Iterator

import torch
from torch import nn
from torch_fidelity.feature_extractor_base import FeatureExtractorBase

from .inception import sha256_file
from .sharding import sharded
from .timm_features import WeightsNotCachedError, cached_weights, check_timm_name, timm_network

__all__ = [
    "FeatureExtractor",
    "CachedExtractor",
    "WeightsNotCachedError",
    "canonical_spec",
    "load_extractor",
    "record_features",
    "to_uint8",
]

INCEPTION_SPEC = "inception-v3-compat"
ALIASES = {"inception": INCEPTION_SPEC}
MNIST_SPEC = "mnist-classifier"

_recording: contextvars.ContextVar[list | None] = contextvars.ContextVar("ganzoo_features_used", default=None)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) in [-1, 1] -> (N, 3, H, W) uint8, rounded as torchvision's save_image rounds; uint8 passes."""
    if images.dtype != torch.uint8:
        images = ((images.float() + 1) * 127.5 + 0.5).clamp_(0, 255).to(torch.uint8)
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images


class FeatureExtractor:
    """A frozen torch-fidelity extractor: images -> named feature layers, batched on one device."""

    def __init__(self, spec: str, module: FeatureExtractorBase, weights_sha256: str | None = None):
        self.spec = spec  # canonical spec, written into every protocol
        self.module = module.eval()
        self.layer = module.features_list[0]  # the layer FID, KID and precision/recall use
        self.weights_sha256 = weights_sha256  # first 16 hex digits of the weights file's sha256
        self._dims: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"FeatureExtractor({self.spec!r})"

    @property
    def layers(self) -> list[str]:
        return list(self.module.features_list)

    @property
    def dim(self) -> int:
        """Width of the main layer's features."""
        if self.layer not in self._dims:
            probe = torch.zeros(1, 3, 32, 32, dtype=torch.uint8)  # (1, 3, 32, 32): one black image
            self._dims.update({k: v.shape[1] for k, v in self.extract(probe).items()})
        return self._dims[self.layer]

    @torch.no_grad()
    def extract(
        self,
        images: torch.Tensor,
        *,
        batch_size: int = 64,
        device: str | torch.device | None = None,
        desc: str | None = None,
    ) -> dict[str, torch.Tensor]:
        """(N, C, H, W) in [-1, 1] (or uint8) -> {layer: (N, D) float32 on the CPU}."""
        if images.dim() != 4 or images.shape[1] not in (1, 3):
            raise ValueError(
                f"feature extractor {self.spec!r} needs 1- or 3-channel images (N, C, H, W), got {tuple(images.shape)}"
            )
        used = _recording.get()
        if used is not None and self not in used:
            used.append(self)
        if device is not None:
            self.module.to(device)
        return sharded(lambda rows: self._extract(rows, batch_size, desc), images)  # under torchrun: each rank a share

    def _extract(self, images: torch.Tensor, batch_size: int, desc: str | None) -> dict[str, torch.Tensor]:
        """extract() of these images in this process."""
        device = next(self.module.parameters()).device
        parts: dict[str, list[torch.Tensor]] = {name: [] for name in self.layers}
        with _progress(images.shape[0], desc or f"features ({self.spec})") as bar:
            for chunk in images.split(batch_size):
                out = self.module(to_uint8(chunk).to(device))  # a tuple in features_list order
                for name, value in zip(self.layers, out):
                    parts[name].append(value.float().cpu())
                    if not torch.isfinite(parts[name][-1]).all():  # its input is 8-bit: the network is at fault
                        raise ValueError(
                            f"feature extractor {self.spec} (weights sha256 {self.weights_sha256 or '?'}...) gives "
                            f"NaN or Inf {name!r} features for 8-bit images: its weights are damaged; "
                            f"fetch them again or pass other weights"
                        )
                bar.update(chunk.shape[0])
        return {name: torch.cat(v) if v else torch.empty(0, 0) for name, v in parts.items()}

    def __call__(
        self, images: torch.Tensor, *, batch_size: int = 64, device: str | torch.device | None = None
    ) -> torch.Tensor:
        """The main layer's features (N, D)."""
        return self.extract(images, batch_size=batch_size, device=device)[self.layer]


def _progress(total: int, desc: str):
    """A progress bar on an interactive terminal for passes long enough to wait for."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="img", leave=False, disable=total < 500 or not sys.stderr.isatty())


class CachedExtractor:
    """Loads its extractor on first use and remembers the features of each tensor it has seen.

    evaluate() hands one of these to every metric, so FID, KID, IS and precision/recall share one
    pass over the samples and one over the reference images; a metric that needs no features loads
    nothing. The reference's features can come from a disk cache or a statistics file (see
    ganzoo.metrics.reference), registered with ``set_reference``.
    """

    def __init__(
        self,
        spec: str,
        *,
        batch_size: int = 64,
        device: str | torch.device | None = None,
        inception_weights: str | None = None,
    ):
        self.spec = canonical_spec(spec)
        self.batch_size = batch_size
        self.device = device
        self.inception_weights = inception_weights
        self.reference = None  # a ganzoo.metrics.reference.Reference, or None
        self._extractor: FeatureExtractor | None = None
        self._memo: dict[int, tuple[torch.Tensor, dict[str, torch.Tensor]]] = {}  # id -> (images kept alive, features)

    @property
    def extractor(self) -> FeatureExtractor:
        if self._extractor is None:
            self._extractor = load_extractor(self.spec, inception_weights=self.inception_weights)
        return self._extractor

    def extract(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        hit = self._memo.get(id(images))
        if hit is not None and hit[0] is images:
            used = _recording.get()
            if used is not None and self.extractor not in used:
                used.append(self.extractor)
            return hit[1]
        if self.reference is not None and self.reference.images is images:
            features = self.reference.features(self.extractor, self.batch_size, self.device)
        else:
            features = self.extractor.extract(images, batch_size=self.batch_size, device=self.device)
        self._memo[id(images)] = (images, features)
        return features

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return self.extract(images)[self.extractor.layer]

    def stats(self, images: torch.Tensor) -> dict:
        """FID statistics {"mu", "sigma"} of the main layer; the reference's may come from a statistics file."""
        ref = self.reference
        if ref is not None and ref.images is images and ref.stats_file is not None:
            return ref.published_stats(self.extractor)
        from .fidelity import stats

        return stats(self(images))


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
    """ "inception" -> "inception-v3-compat"; "timm:NAME" gains its default pretrained tag."""
    spec = spec.strip()
    base, sep, path = spec.partition("@")
    base = ALIASES.get(base, base)
    if base in (MNIST_SPEC, INCEPTION_SPEC):
        if sep:
            hint = "--inception-weights FILE" if base == INCEPTION_SPEC else "its bundled weights"
            raise ValueError(f"{base!r} takes no '@file'; use {hint}")
        return base
    if not base.startswith("timm:") or not base[len("timm:") :]:
        raise ValueError(
            f"unknown feature extractor {spec!r}: use 'inception', 'mnist-classifier', "
            f"'timm:MODEL' or 'timm:MODEL@/path/to/weights.safetensors'"
        )
    name = check_timm_name(base[len("timm:") :])
    if sep:
        if not path:
            raise ValueError(f"feature spec {spec!r} has '@' but no file after it")
        return f"timm:{name}@{os.path.abspath(os.path.expanduser(path))}"
    return f"timm:{name}"


def load_extractor(spec: str, *, inception_weights: str | None = None) -> FeatureExtractor:
    """The extractor that ``spec`` names (see the module docstring); loaded once per weights file."""
    spec = canonical_spec(spec)
    if spec == MNIST_SPEC:
        return _load_cached(spec, None, 0)
    if spec == INCEPTION_SPEC:
        from .inception import inception_weights_file

        file = str(inception_weights_file(inception_weights))
        return _load_cached(spec, file, os.stat(file).st_mtime_ns)
    name, _, path = spec[len("timm:") :].partition("@")
    if path and not os.path.isfile(path):
        raise FileNotFoundError(f"feature weights file {path} does not exist (from --features {spec})")
    file = path or cached_weights(name)  # resolved now, so a changed cache or file is noticed
    return _load_cached(spec, file, os.stat(file).st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _load_cached(spec: str, file: str | None, stamp: int) -> FeatureExtractor:
    if spec == MNIST_SPEC:
        from .classifier import WEIGHTS_PATH

        return FeatureExtractor(
            spec, MnistClassifierFeatures("ganzoo-mnist-classifier", ["features"]), sha256_file(WEIGHTS_PATH)[:16]
        )
    if spec == INCEPTION_SPEC:
        from .inception import load_inception

        module, digest = load_inception(file)
        return FeatureExtractor(spec, module, digest[:16])
    net, prepare = timm_network(spec[len("timm:") :].partition("@")[0], file)
    return FeatureExtractor(
        spec, ModelRangeFeatures(f"ganzoo-{spec}", ["features"], net, prepare), sha256_file(file)[:16]
    )


# ---- ganzoo's networks as torch-fidelity extractors -----------------------------------------------


class ModelRangeFeatures(FeatureExtractorBase):
    """A network on images in [-1, 1] as a torch-fidelity extractor with one layer, "features"."""

    def __init__(
        self, name: str, features_list: list[str], net: nn.Module, prepare: Callable[[torch.Tensor], torch.Tensor]
    ):
        super().__init__(name, features_list)
        self.net = net.eval().requires_grad_(False)
        self.prepare = prepare  # (B, 3, H, W) in [-1, 1] -> the network's input

    @staticmethod
    def get_provided_features_list() -> tuple[str, ...]:
        return ("features",)

    @staticmethod
    def get_default_feature_layer_for_metric(metric: str) -> str:
        if metric == "isc":
            raise ValueError("the Inception Score needs class logits: only --features inception gives them")
        return "features"

    @staticmethod
    def can_be_compiled() -> bool:
        return False

    @staticmethod
    def get_dummy_input_for_compile() -> torch.Tensor:
        return torch.zeros(1, 3, 32, 32, dtype=torch.uint8)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor]:
        if x.dtype != torch.uint8 or x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"expected uint8 images (B, 3, H, W), got {x.dtype} {tuple(x.shape)}")
        return (self.net(self.prepare(x.float() / 127.5 - 1.0)),)


class MnistClassifierFeatures(ModelRangeFeatures):
    """The bundled MNIST judge's 128-d penultimate features (registered as "ganzoo-mnist-classifier")."""

    def __init__(self, name: str, features_list: list[str], **kwargs):
        from .classifier import load_mnist_classifier

        classifier = load_mnist_classifier()
        super().__init__(name, features_list, _Method(classifier, "features"), lambda x: x)


class _Method(nn.Module):
    """module.<method> as forward()."""

    def __init__(self, module: nn.Module, method: str):
        super().__init__()
        self.module, self.method = module, method

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(self.module, self.method)(x)


def register_with_torch_fidelity() -> None:
    """Make ganzoo's MNIST judge a torch-fidelity extractor ("ganzoo-mnist-classifier"); idempotent."""
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

    if "ganzoo-mnist-classifier" not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor("ganzoo-mnist-classifier", MnistClassifierFeatures)
