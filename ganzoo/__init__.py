"""ganzoo: a plugin-based GAN model zoo.

The public API is imported lazily: ``import ganzoo`` does not import torch, so listing and
inspecting variants stays instant. Networks, training and sampling import it on first use.
"""

from __future__ import annotations

from typing import Any

from .plugins import hookimpl
from .registry import DatasetSpec, ImporterSpec, MetricSpec, ModelCard, UnknownNameError, Variant

__version__ = "0.1.0"

# public name -> "module:attr", imported on first access
_LAZY = {
    "list_variants": "ganzoo.api:list_variants",
    "list_models": "ganzoo.api:list_models",
    "list_datasets": "ganzoo.api:list_datasets",
    "info": "ganzoo.api:info",
    "create": "ganzoo.api:create",
    "load": "ganzoo.pretrained.names:load",
    "train": "ganzoo.api:train",
    "load_dataset": "ganzoo.data:load_dataset",
    "GanModel": "ganzoo.model:GanModel",
    "ConfigError": "ganzoo.config:ConfigError",
    "TrainingInterrupted": "ganzoo.engine.errors:TrainingInterrupted",
    "NonFiniteLossError": "ganzoo.engine.errors:NonFiniteLossError",
}

__all__ = [
    "hookimpl",
    "Variant",
    "ModelCard",
    "DatasetSpec",
    "MetricSpec",
    "ImporterSpec",
    "UnknownNameError",
    "__version__",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    from .registry import lazy_attribute

    return lazy_attribute(globals(), _LAZY, __name__, name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
