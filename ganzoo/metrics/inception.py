"""The FID Inception network (the 2015-12-05 TensorFlow graph of Heusel et al. 2017), through torch-fidelity.

torch-fidelity ships that graph with TF1-compatible bilinear resizing to 299x299, so a ganzoo FID
equals the FID of papers and of StudioGAN, stylegan2-ada and torch-fidelity itself on the same images.
Its weights are one file, ``weights-inception-2015-12-05-6726825d.pth`` (95 MB), found in this order:

1. ``--inception-weights FILE`` (``GANZOO_INCEPTION_WEIGHTS``): a .safetensors file of the same
   tensors, or the published .pth itself;
2. torch.hub's checkpoint cache (``$TORCH_HOME/hub/checkpoints/``), where torch-fidelity keeps it too;
3. a download into that cache, with a progress bar and the file's sha256 checked, unless
   ``HF_HUB_OFFLINE``/``GANZOO_OFFLINE`` is set or the network is unreachable: then a message names
   the file, its URL and both ways to supply it.

No file is unpickled: a .pth is read with ``torch.load(weights_only=True)`` and only when its sha256
starts with the published prefix (the hash torch.hub pins in the file name); anything else must be
.safetensors. torch-fidelity's own loader unpickles in full, so ganzoo never gives it a file: it hands
it the checked tensors, re-serialised in memory, with torch's weights-only mode forced for that call.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import torch

__all__ = [
    "INCEPTION_FILE",
    "INCEPTION_URL",
    "INCEPTION_SHA256_PREFIX",
    "InceptionWeightsError",
    "inception_weights_file",
    "load_inception",
    "read_inception_state",
    "sha256_file",
]

INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{INCEPTION_FILE}"
INCEPTION_SHA256_PREFIX = "6726825d"
FIDELITY_NAME = "inception-v3-compat"  # torch-fidelity's name for this network
LAYERS = ("2048", "logits_unbiased")  # pool features (FID, KID, PR) and logits (IS)


class InceptionWeightsError(FileNotFoundError):
    """The Inception weights are missing, or a file given for them is not what it must be."""


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_path() -> Path:
    """Where torch.hub (and so torch-fidelity) keeps the weights: $TORCH_HOME/hub/checkpoints/."""
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE


def inception_weights_file(path: str | Path | None = None) -> Path:
    """The weights file to use (see the module docstring); downloads once into the cache when allowed."""
    path = path or os.environ.get("GANZOO_INCEPTION_WEIGHTS")
    if path:
        path = Path(path).expanduser()
        if not path.is_file():
            raise InceptionWeightsError(f"Inception weights file {path} does not exist (from --inception-weights)")
        return path
    cached = cache_path()
    if cached.is_file():
        return cached
    if _offline():
        raise InceptionWeightsError(_missing_message(cached, "offline mode is on (HF_HUB_OFFLINE or GANZOO_OFFLINE)"))
    return _download(cached)


def _offline() -> bool:
    return any(
        os.environ.get(name, "").lower() in ("1", "true", "yes", "on") for name in ("HF_HUB_OFFLINE", "GANZOO_OFFLINE")
    )


def _missing_message(cached: Path, why: str) -> str:
    return (
        f"the FID Inception weights {INCEPTION_FILE} are not cached and {why}. Supply them either way:\n"
        f"  - download {INCEPTION_URL}\n    into {cached}\n"
        f"  - or pass --inception-weights /path/to/{INCEPTION_FILE} (or a .safetensors of the same tensors)"
    )


def _download(cached: Path) -> Path:
    """Fetch the weights into the cache with a progress bar; the sha256 prefix is checked before the rename."""
    cached.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cached.parent) as tmp:
        part = Path(tmp) / INCEPTION_FILE
        try:
            torch.hub.download_url_to_file(
                INCEPTION_URL, str(part), hash_prefix=INCEPTION_SHA256_PREFIX, progress=sys.stderr.isatty()
            )
        except RuntimeError as exc:  # torch.hub's "invalid hash value"
            raise InceptionWeightsError(
                f"the download of {INCEPTION_URL} does not match its sha256 prefix {INCEPTION_SHA256_PREFIX}: {exc}"
            ) from None
        except OSError as exc:  # no network, firewall, DNS
            raise InceptionWeightsError(_missing_message(cached, f"the download failed ({exc})")) from None
        os.replace(part, cached)
    return cached


def read_inception_state(path: str | Path) -> tuple[dict[str, torch.Tensor], str]:
    """The tensors of a weights file and its full sha256; a .pth only when it is the published file."""
    path = Path(path)
    digest = sha256_file(path)
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path)), digest
        except (SafetensorError, OSError) as exc:
            raise InceptionWeightsError(f"{path} is not a readable .safetensors file: {exc}") from None
    if not digest.startswith(INCEPTION_SHA256_PREFIX):
        raise InceptionWeightsError(
            f"{path} is not the published {INCEPTION_FILE} "
            f"(sha256 {digest[:16]}..., expected {INCEPTION_SHA256_PREFIX}...), "
            f"and ganzoo unpickles no other .pth. Give other weights as .safetensors:\n"
            f"  python -c \"import torch, safetensors.torch as s; s.save_file(torch.load('{path}', weights_only=True), "
            f"'{path.with_suffix('.safetensors')}')\""
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated file, or one that holds more than tensors
        raise InceptionWeightsError(f"{path} could not be read as a state dict of tensors: {exc}") from None
    return state, digest


@contextlib.contextmanager
def _weights_only_loads() -> Iterator[None]:
    """Within the block, torch.load refuses anything but tensors whatever its caller asked for."""
    before = os.environ.get("TORCH_FORCE_WEIGHTS_ONLY_LOAD")
    os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = "1"
    try:
        yield
    finally:
        if before is None:
            del os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"]
        else:
            os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = before


def load_inception(path: str | Path | None = None) -> tuple[torch.nn.Module, str]:
    """torch-fidelity's InceptionV3 (features "2048" and "logits_unbiased") and its weights' sha256."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    file = inception_weights_file(path)
    state, digest = read_inception_state(file)
    damaged = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if damaged:
        raise InceptionWeightsError(
            f"{file} holds NaN or Inf in {len(damaged)} tensors (first: {damaged[0]!r}): the weights are damaged; "
            f"delete the file and fetch it again, or pass other weights with --inception-weights"
        )
    buffer = io.BytesIO()
    torch.save(state, buffer)  # checked tensors only
    buffer.seek(0)
    try:
        with _weights_only_loads():
            net = FeatureExtractorInceptionV3(FIDELITY_NAME, list(LAYERS), feature_extractor_weights_path=buffer)
    except RuntimeError as exc:  # load_state_dict: missing, unexpected or mis-shaped tensors
        detail = " ".join(line.strip() for line in str(exc).splitlines()[:2])
        raise InceptionWeightsError(f"{file} does not hold the FID Inception's tensors: {detail[:300]}") from None
    return net, digest
