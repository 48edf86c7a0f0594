"""Engine options: the same names in Python (``ganzoo.train(..., precision="bf16")``) and the CLI."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..config import ConfigError


@dataclass
class TrainOptions:
    steps: int = 1000  # total iterations (generator updates) of the run, resumed ones included
    budget: float = 0.0  # wall-clock seconds for this invocation; 0 = no limit
    batch_size: int = 64  # real images per iteration and process
    device: str = "auto"  # "cpu", "cuda", "cuda:N" or "auto" (cuda when available)
    precision: str = "fp32"  # "fp32", "bf16" (autocast) or "fp16" (autocast + GradScaler)
    channels_last: bool = False  # NHWC memory format for conv nets (faster on tensor cores)
    compile: bool = False  # torch.compile the networks (a gradient penalty stays eager)
    sync_bn: bool = False  # under DDP, batch norm over the global batch (SyncBatchNorm); one process: a note, no-op
    accumulate: int = 1  # micro-batches summed into each optimizer step: global batch = batch_size x this x world
    ema: float = 0.0  # decay of an EMA of the generator's weights; 0 = off (e.g. 0.999)
    seed: int = 0  # seeds weights, noise and data order: same seed, same run
    workers: int = 0  # data-loader processes for data sets that are not held in memory
    log_every: int = 50  # iterations between lines of metrics.jsonl
    sample_every: int = 500  # iterations between sample grids; 0 = only at the end
    checkpoint_every: int = 500  # iterations between checkpoints; 0 = only at the end
    keep_checkpoints: int = 3  # how many of the latest checkpoints to keep
    num_samples: int = 64  # images in each sample grid (from fixed noise)
    progress: str = "auto"  # progress bar: "auto" (on a terminal), "on" or "off"

    def __post_init__(self):
        def positive_int(name: str, allow_zero: bool = False) -> None:
            value = getattr(self, name)
            low = 0 if allow_zero else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")

        for name in ("steps", "batch_size", "accumulate", "log_every", "keep_checkpoints", "num_samples"):
            positive_int(name)
        for name in ("workers", "sample_every", "checkpoint_every", "seed"):
            positive_int(name, allow_zero=True)
        if self.precision not in ("fp32", "bf16", "fp16"):
            raise ConfigError(f"precision must be 'fp32', 'bf16' or 'fp16', got {self.precision!r}")
        if not 0 <= self.ema < 1:
            raise ConfigError(f"ema must be a decay in [0, 1) (0 = off), got {self.ema!r}")
        if isinstance(self.budget, bool) or not isinstance(self.budget, (int, float)) or not self.budget >= 0:
            raise ConfigError(f"budget must be >= 0 seconds, got {self.budget!r}")
        if not math.isfinite(self.budget):
            raise ConfigError(f"budget must be a finite number of seconds (0 = no limit), got {self.budget!r}")
        if not (isinstance(self.device, str) and re.fullmatch(r"auto|cpu|cuda(:\d+)?", self.device)):
            raise ConfigError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {self.device!r}")
        if not isinstance(self.sync_bn, bool):
            raise ConfigError(f"sync_bn must be true or false, got {self.sync_bn!r}")
        if self.progress not in ("auto", "on", "off"):
            raise ConfigError(f"progress must be 'auto', 'on' or 'off', got {self.progress!r}")
