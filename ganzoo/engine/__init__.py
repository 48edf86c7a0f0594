"""The one training engine: every variant's Step runs on it."""

from .options import TrainOptions
from .step import Step, StepContext
from .trainer import NonFiniteLossError, Trainer, TrainingInterrupted

__all__ = ["Step", "StepContext", "TrainOptions", "Trainer", "TrainingInterrupted", "NonFiniteLossError"]
