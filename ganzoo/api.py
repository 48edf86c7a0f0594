"""The public Python API: list, inspect, create and train (mirrored by the CLI)."""

from __future__ import annotations

from typing import Any

from .plugins import get_state
from .registry import ModelCard, UnknownNameError, Variant


def list_variants(pattern: str = "*") -> list[str]:
    """Registered GAN variants whose name matches the fnmatch ``pattern``, sorted."""
    return get_state().variants.names(pattern)


def list_models(pattern: str = "*") -> list[str]:
    """Pretrained catalog entries whose name matches ``pattern``, sorted."""
    return get_state().models.names(pattern)


def list_datasets(pattern: str = "*") -> list[str]:
    """Registered data spec names (``--data NAME`` or ``NAME:ARG``), sorted."""
    return get_state().datasets.names(pattern)


def info(name: str) -> Variant | ModelCard:
    """The registered variant or pretrained model called ``name``."""
    state = get_state()
    if name in state.variants:
        return state.variants.get(name)
    if name in state.models:
        return state.models.get(name)
    import difflib

    known = list(state.variants.names()) + list(state.models.names())
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise UnknownNameError(f"no variant or model called {name!r}{hint} (`ganzoo list` shows them all)")


def get_variant(name: str) -> Variant:
    return get_state().variants.get(name)


def create(variant: str | Variant, **config: Any):
    """An untrained model of ``variant`` holding all its networks; ``config`` overrides defaults."""
    from .config import make_config
    from .model import GanModel

    v = variant if isinstance(variant, Variant) else get_variant(variant)
    cfg = make_config(v.load_config_class(), config, variant=v.name)
    nets = v.load_build()(cfg)
    return GanModel(v, cfg, nets)
