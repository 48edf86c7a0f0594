"""Errors a training run raises, kept free of torch so the CLI can name them before torch loads."""

from __future__ import annotations


class TrainingInterrupted(RuntimeError):
    """SIGINT/SIGTERM stopped the run after it saved a checkpoint; the message says how to resume."""


class NonFiniteLossError(RuntimeError):
    """A loss or a network's state became NaN or Inf; the run stopped and kept its last good checkpoint."""


class TrainingDataError(ValueError):
    """Reading the training data failed mid-run; the message names the cause, what was saved and how to resume."""
