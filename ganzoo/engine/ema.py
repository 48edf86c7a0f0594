"""The exponential moving average of one network's weights, and its batch-norm statistics for sampling."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

STANDING_STATISTICS_SAMPLES = 1024  # generator outputs that set the EMA's batch-norm statistics


class EMA:
    """An averaged copy (``net``) of the network called ``name``; the step's ``ema_decay`` sets each update."""

    def __init__(self, source: nn.Module, name: str):
        self.name = name
        self.net = copy.deepcopy(source).requires_grad_(False)
        self._statistics_at = -1  # iteration at which the batch-norm statistics were last recomputed

    @torch.no_grad()
    def update(self, source: nn.Module, decay: float) -> None:
        """Move the average toward ``source`` by ``1 - decay``; buffers (batch-norm statistics) are copied."""
        ema_params = list(self.net.parameters())
        torch._foreach_lerp_(ema_params, [p.detach() for p in source.parameters()], 1.0 - decay)
        for b_ema, b in zip(self.net.buffers(), source.buffers()):
            b_ema.copy_(b)

    @torch.no_grad()
    def refresh_statistics(
        self, task: Any, *, seed: int, batch_size: int, device: torch.device, iteration: int
    ) -> None:
        """Recompute the averaged generator's batch-norm statistics from its own outputs ("standing statistics").

        Each step copies the trained generator's running statistics, which fit its weights, not the
        averaged ones: sampled in eval mode, such an EMA draws worse images than the raw generator.
        Only a generator that samples from noise (``task.samples``) is refreshed, over inputs the task
        draws (all classes alike for a conditional one). Fixed noise keeps this deterministic; training
        never reads these buffers, so resume stays exact.
        """
        norms = [
            m for m in self.net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
        ]
        latent_shape = getattr(self.net, "latent_shape", None)
        if not norms or not task.samples or latent_shape is None or self._statistics_at == iteration:
            return
        momenta = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the batches below
        was_training = self.net.training
        self.net.train()
        rng = torch.Generator(device=device).manual_seed(seed)
        for _ in range(-(-STANDING_STATISTICS_SAMPLES // batch_size)):
            self.net(*task.generator_inputs(latent_shape, batch_size, rng, device))
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        self.net.train(was_training)
        self._statistics_at = iteration
