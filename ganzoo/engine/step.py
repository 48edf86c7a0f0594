"""The contract between the engine and a variant: a Step class and the context it is given.

A variant's step owns only its losses and update order. It reaches networks, optimizers and data
through the context, so devices, precision, DDP and checkpoints stay the engine's business.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel


class Step:
    """Base class of a variant's training step; subclasses implement ``optimizers`` and ``__call__``."""

    ema_net: str | None = "G"  # the network the engine averages when EMA is on

    def __init__(self, config: Any):
        self.config = config

    def optimizers(self, nets: dict[str, nn.Module]) -> dict[str, torch.optim.Optimizer]:
        """The optimizers, by name, over the (unwrapped) networks; built from the config."""
        raise NotImplementedError

    def __call__(self, ctx: "StepContext", batch: Any) -> None:
        """One training iteration on ``batch`` (one generator update, however many D updates)."""
        raise NotImplementedError

    def lr_factor(self, iteration: int, total: int) -> float:
        """Multiplier of every optimizer's base learning rate at ``iteration`` of ``total``."""
        return 1.0

    def ema_decay(self, iteration: int, batch_size: int, decay: float) -> float:
        """The EMA decay after ``iteration`` (0-based), whose batch held ``batch_size`` images over all
        processes; the run's fixed ``decay`` (``--ema``) unless the variant schedules it."""
        return decay

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """Tensors the step keeps between iterations (an image pool, say), for exact resume."""
        return {}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        pass


def linear_decay(iteration: int, total: int, start_fraction: float) -> float:
    """1 for the first ``start_fraction`` of ``total`` iterations, then linearly down towards 0.

    The CycleGAN paper's schedule: the factor at iteration i >= start is 1 - (i - start) / (total - start + 1),
    so the last iteration still takes a (small) step.
    """
    start = int(start_fraction * total)
    return 1.0 - max(0, iteration - start) / float(total - start + 1)


def adam_per_network(nets: dict[str, nn.Module], names: tuple[str, ...], config: Any) -> dict[str, torch.optim.Optimizer]:
    """One Adam optimizer per named network, at the config's ``lr`` and ``betas``: the usual GAN setup.

    A config field ``lr_d`` (``lr_g``), when set above 0, gives D (G) its own rate: two time-scale updates.
    """
    def rate(name: str) -> float:
        return getattr(config, f"lr_{name.lower()}", 0.0) or config.lr

    return {n: torch.optim.Adam(nets[n].parameters(), lr=rate(n), betas=tuple(config.betas)) for n in names}


class StepContext:
    """What a step sees: networks, optimizers, backward/step that honour precision, and logging."""

    def __init__(self, models: dict[str, nn.Module], raw_models: dict[str, nn.Module],
                 optimizers: dict[str, torch.optim.Optimizer], config: Any, device: torch.device,
                 scaler: torch.amp.GradScaler | None, next_batch: Callable[[], Any], autocast: Callable[[], Any]):
        self.models = models  # for forward passes: compiled and/or DDP-wrapped as the run asks
        self._ddp = {name: getattr(net, "_orig_mod", net) for name, net in models.items()
                     if isinstance(getattr(net, "_orig_mod", net), DistributedDataParallel)}
        self.raw_models = raw_models  # the plain modules (e.g. for a gradient penalty in eager mode)
        self.optimizers = optimizers
        self.config = config
        self.device = device
        self.iteration = 0  # index of the current iteration, counting from 0 over the whole run
        self._scaler = scaler
        self._next_batch = next_batch
        self.autocast = autocast  # a context manager: forward passes under the run's precision
        self.logged: list[tuple[int, dict[str, torch.Tensor]]] = []  # drained by the engine
        self.latent_shape = tuple(getattr(raw_models.get("G"), "latent_shape", ()))
        self.num_classes = int(getattr(raw_models.get("G"), "num_classes", 0) or 0)  # 0: unconditional

    def backward(self, loss: torch.Tensor, **kwargs: Any) -> None:
        """Backpropagate ``loss`` (scaled for fp16)."""
        (self._scaler.scale(loss) if self._scaler is not None else loss).backward(**kwargs)

    def step(self, name: str) -> None:
        """Apply optimizer ``name`` to its accumulated gradients, then clear them."""
        opt = self.optimizers[name]
        if self._scaler is not None:
            self._scaler.step(opt)
            self._scaler.update()
        else:
            opt.step()
        opt.zero_grad(set_to_none=True)

    @contextlib.contextmanager
    def frozen(self, *names: str) -> Iterator[None]:
        """Networks ``names`` give no weight gradients inside the block: wrap the update of another network.

        Their parameters stop requiring grad (restored on exit), so a backward through them computes
        input gradients only, e.g. D's during G's update; under DDP they also skip the gradient sync.
        Forward passes and backward of the frozen networks' outputs both belong inside the block.
        """
        unknown = [n for n in names if n not in self.raw_models]
        if unknown:
            raise KeyError(f"frozen() got {unknown}; the networks are {sorted(self.raw_models)}")
        params = [p for n in names for p in self.raw_models[n].parameters() if p.requires_grad]
        with contextlib.ExitStack() as stack:
            for n in names:
                if n in self._ddp:  # no reducer waits for gradients that will not come
                    stack.enter_context(self._ddp[n].no_sync())
            for p in params:
                p.requires_grad_(False)
            try:
                yield
            finally:
                for p in params:
                    p.requires_grad_(True)

    def zero_grad(self, name: str) -> None:
        """Clear the gradients of optimizer ``name`` (e.g. D's, left over from G's backward)."""
        self.optimizers[name].zero_grad(set_to_none=True)

    def log(self, **values: torch.Tensor | float) -> None:
        """Record scalars for this iteration; the engine averages them per log interval."""
        self.logged.append((self.iteration, {k: v.detach() if isinstance(v, torch.Tensor) else v
                                             for k, v in values.items()}))

    def noise(self, n: int) -> torch.Tensor:
        """Latent vectors for the generator: (n, *latent_shape) ~ N(0, 1) on the run's device."""
        return torch.randn((n, *self.latent_shape), device=self.device)

    def fake_labels(self, n: int) -> torch.Tensor:
        """Class labels for generated samples of a conditional run: (n,) int64, uniform over the classes.

        Drawn from torch's global generator, whose state every checkpoint holds, so resume stays exact.
        """
        if self.num_classes < 1:
            raise RuntimeError("fake_labels() is for conditional generators: G has no num_classes > 0")
        return torch.randint(0, self.num_classes, (n,), device=self.device)

    def next_batch(self) -> Any:
        """Another batch of real data (e.g. for each of WGAN-GP's critic updates)."""
        return self._next_batch()
