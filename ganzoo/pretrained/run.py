"""A training run folder loaded as a model: its latest checkpoint (or a given one), EMA generator in place.

The run's files are the engine's: ``RunFolder`` reads its record (config.json) and its checkpoints'
weights, and knows their key layout. Here the weights are checked like a published folder's: against
networks built on the meta device from the checkpoint's header first, then tensor by tensor.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..building import build_networks, meta_networks
from ..engine.checkpoint import network_weights, read_ema_net
from ..engine.runfolder import RunFolder
from ..model import GanModel
from .folder import record_classes, variant_and_config
from .weights import WeightsError, assign_strict, check_fits, read_header


def load_run(run: str | Path, checkpoint: str | Path | None = None) -> GanModel:
    """A training run folder's latest checkpoint (or ``checkpoint``, one file of its checkpoints/ folder),
    with the EMA generator in place of the network it averages when there is one."""
    folder = RunFolder(run)
    if not folder.config_path.is_file():
        raise FileNotFoundError(f"{folder.path} has no {folder.config_path.name}: not a ganzoo run folder")
    record = folder.read_record()
    variant, config = variant_and_config(record, folder.path)
    path = folder.find_checkpoint(checkpoint)
    header = read_header(path)  # shapes and dtypes only: no tensor data yet
    meta = meta_networks(variant, config)
    if meta is not None:
        found = _flat(network_weights(header, _checked(path, read_ema_net, path)))
        check_fits(variant, meta, list(meta), found, path, folder.config_path)
    model = GanModel(variant, config, build_networks(variant, config), classes=record_classes(record))
    _, weights = _checked(path, folder.read_weights, path.name)
    assign_strict(model, _flat(weights), list(model.nets), path)
    model.nets.eval()
    return model


def _flat(weights: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """{net: {name: value}} -> {"net.name": value}, the names a published folder's tensors have."""
    return {f"{net}.{name}": value for net, entries in weights.items() for name, value in entries.items()}


def _checked(path: Path, read: Callable[..., Any], *args: Any) -> Any:
    """``read(*args)``, with checkpoint ``path`` unreadable or failing its own checks reported in one line naming it."""
    try:
        return read(*args)
    except ValueError as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise WeightsError(message if str(path) in message else f"{path}: {message}") from None
