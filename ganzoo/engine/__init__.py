"""The one training engine: every variant's Step runs on it.

Names are imported on first use, so that ``TrainOptions`` and the errors can be reached (to check
a command line, say) without importing torch.
"""

from __future__ import annotations

from typing import Any

from .errors import NonFiniteLossError, TrainingInterrupted
from .options import TrainOptions

_LAZY = {
    "Step": "ganzoo.engine.step:Step",
    "StepContext": "ganzoo.engine.step:StepContext",
    "Phase": "ganzoo.engine.step:Phase",
    "AdamStep": "ganzoo.engine.step:AdamStep",
    "LinearDecayStep": "ganzoo.engine.step:LinearDecayStep",
    "adam": "ganzoo.engine.step:adam",
    "adam_per_network": "ganzoo.engine.step:adam_per_network",
    "linear_decay": "ganzoo.engine.step:linear_decay",
    "Trainer": "ganzoo.engine.trainer:Trainer",
    "resolve_device": "ganzoo.engine.device:resolve_device",
    "RunFolder": "ganzoo.engine.runfolder:RunFolder",
    "end_finished_rank": "ganzoo.engine.distributed:end_finished_rank",
}

__all__ = [
    "Step",
    "StepContext",
    "Phase",
    "AdamStep",
    "LinearDecayStep",
    "adam",
    "adam_per_network",
    "linear_decay",
    "TrainOptions",
    "Trainer",
    "TrainingInterrupted",
    "NonFiniteLossError",
    "RunFolder",
    "resolve_device",
    "end_finished_rank",
]


def __getattr__(name: str) -> Any:
    from ..registry import lazy_attribute

    return lazy_attribute(globals(), _LAZY, __name__, name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
