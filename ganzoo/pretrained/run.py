"""A training run folder loaded as a model: its latest checkpoint (or a given one), EMA generator in place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..building import build_networks, meta_networks
from ..engine import checkpoint as ckpt
from ..model import GanModel
from .folder import CONFIG_FILE, read_config, record_classes, variant_and_config
from .weights import WeightsError, assign_strict, check_fits, read_header


def load_run(run: str | Path, checkpoint: str | Path | None = None) -> GanModel:
    """A training run folder's latest checkpoint (or ``checkpoint``, one file of its checkpoints/ folder),
    with the EMA generator in place of G when there is one."""
    run = Path(run)
    record = read_config(run)
    variant, config = variant_and_config(record, run)
    found = ckpt.list_checkpoints(run / "checkpoints")
    if not found:
        raise FileNotFoundError(f"run {run} has no checkpoints yet")
    last = found[-1]
    if checkpoint is not None:
        matches = [p for p in found if p.name == Path(checkpoint).name]
        if not matches:
            raise FileNotFoundError(f"{checkpoint} is not a complete checkpoint of run {run}; it has "
                                    f"{', '.join(p.name for p in found)}")
        last = matches[0]
    header = read_header(last)
    ema_net = variant.load_step().ema_net if any(k.startswith("ema.") for k in header) else None
    meta = meta_networks(variant, config)
    if meta is not None:
        check_fits(variant, meta, list(meta), _run_weights(header, ema_net), last, run / CONFIG_FILE)
    model = GanModel(variant, config, build_networks(variant, config), classes=record_classes(record))
    try:
        tensors, _ = ckpt.read_checkpoint(last)
    except ValueError as exc:  # unreadable or failing its own checks: one line that names the file
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise WeightsError(message if str(last) in message else f"{last}: {message}") from None
    assign_strict(model, _run_weights(tensors, ema_net), list(model.nets), last)
    model.nets.eval()
    return model


def _run_weights(items: dict[str, Any], ema_net: str | None) -> dict[str, Any]:
    """A checkpoint's network entries ("net.G.x" -> "G.x"), the EMA's ("ema.x") in place of ``ema_net``'s."""
    picked = {k[len("net."):]: v for k, v in items.items() if k.startswith("net.")}
    if ema_net is not None:
        picked = {k: v for k, v in picked.items() if not k.startswith(ema_net + ".")}
        picked.update({f"{ema_net}.{k[len('ema.'):]}": v for k, v in items.items() if k.startswith("ema.")})
    return picked
