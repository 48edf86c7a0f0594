"""The one training engine: every variant's Step runs on it."""

from .options import TrainOptions
from .step import Step, StepContext, adam_per_network, linear_decay
from .trainer import NonFiniteLossError, Trainer, TrainingInterrupted

__all__ = ["Step", "StepContext", "adam_per_network", "linear_decay", "TrainOptions", "Trainer", "TrainingInterrupted", "NonFiniteLossError"]
