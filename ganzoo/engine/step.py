"""The contract between the engine and a variant: a Step class and the context it is given.

A variant's step owns only its losses and update order. It reaches networks, optimizers and data
through the context, so devices, precision, DDP and checkpoints stay the engine's business.

A step writes its iteration as ``__call__``, or, as an ``AdamStep``, may declare it as ``phases``:
updates the engine runs in order, each on one optimizer, lazy ones every few iterations with their
loss weighted by the interval (lazy regularisation, Karras et al. 2020; NVlabs stylegan2-ada's
Gmain/Greg/Dmain/Dreg). AdamStep's optimizers come from one helper, ``adam``, driven by the
config's lr, lr_d / lr_g and betas; ``LinearDecayStep`` adds the decay after ``decay_start``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..tasks import Sampling


@dataclasses.dataclass(frozen=True)
class Phase:
    """One update of a Step: its method ``name``(ctx, batch) returns a loss; the engine backpropagates it
    and applies optimizer ``optimizer``.

    ``every``: 1, or an interval (a whole number, or the name of a config field holding one) that makes
    the phase lazy: it runs at iterations that are multiples of it, its loss weighted by the interval,
    and its optimizer's rate and betas are corrected for the extra updates. ``when``: a config field
    that must be > 0 for the phase to run at all (a penalty's weight, say). ``frozen``: networks that
    give no weight gradients during the phase (``StepContext.frozen``), e.g. D in G's update.
    """

    name: str
    optimizer: str
    every: int | str = 1
    when: str = ""
    frozen: tuple[str, ...] = ()

    @property
    def lazy(self) -> bool:
        """Runs every few iterations rather than every one."""
        return self.every != 1

    def interval(self, config: Any) -> int:
        """Iterations between two runs of the phase, read from the config when ``every`` names a field."""
        return int(getattr(config, self.every)) if isinstance(self.every, str) else int(self.every)

    def active(self, config: Any) -> bool:
        """The phase runs at all under ``config`` (its ``when`` weight, if any, is > 0)."""
        return not self.when or getattr(config, self.when) > 0

    def due(self, config: Any, iteration: int) -> bool:
        """The phase runs at ``iteration`` (0-based, counted over the whole run, so resume keeps the rhythm)."""
        return self.active(config) and iteration % self.interval(config) == 0


def run_phases(step: AdamStep, ctx: StepContext, batch: Any) -> None:
    """One iteration of a step that declares phases: each phase due at ``ctx.iteration``, in order."""
    for phase in step.phases:
        if not phase.due(step.config, ctx.iteration):
            continue
        gain = phase.interval(step.config) if phase.lazy else 1  # a lazy loss stands for `interval` iterations
        with ctx.frozen(*phase.frozen) if phase.frozen else contextlib.nullcontext():
            loss = getattr(step, phase.name)(ctx, batch)
            ctx.backward(loss * gain if gain != 1 else loss)
        ctx.step(phase.optimizer)


def lazy_ratios(phases: tuple[Phase, ...], config: Any) -> dict[str, float]:
    """Per optimizer, interval / (interval + 1) for each active lazy phase on it: how much of its updates are
    main ones, by which Adam's rate and betas are corrected (Karras et al. 2020, appendix B)."""
    ratios: dict[str, float] = {}
    for phase in phases:
        if phase.lazy and phase.active(config):
            interval = phase.interval(config)
            ratios[phase.optimizer] = ratios.get(phase.optimizer, 1.0) * interval / (interval + 1)
    return ratios


def adam(
    nets: dict[str, nn.Module], groups: dict[str, tuple[str, ...]], config: Any, ratios: dict[str, float] | None = None
) -> dict[str, torch.optim.Optimizer]:
    """One Adam optimizer per name in ``groups`` over the parameters of its networks, in order.

    The rate is the config's ``lr``; a field ``lr_d`` (``lr_g``) above 0 gives optimizer D (G) its own
    rate: two time-scale updates. ``ratios`` (lazy_ratios) scale an optimizer's rate and raise its
    betas to that power, for the updates a lazy phase adds.
    """
    out = {}
    for name, members in groups.items():
        ratio = (ratios or {}).get(name, 1.0)
        rate = getattr(config, f"lr_{name.lower()}", 0.0) or config.lr
        betas = tuple(config.betas) if ratio == 1 else tuple(b**ratio for b in config.betas)
        params = itertools.chain.from_iterable(nets[n].parameters() for n in members)
        out[name] = torch.optim.Adam(params, lr=rate * ratio, betas=betas)
    return out


def adam_per_network(
    nets: dict[str, nn.Module], names: tuple[str, ...], config: Any
) -> dict[str, torch.optim.Optimizer]:
    """One Adam optimizer per named network, named after it (``adam`` with a network per optimizer)."""
    return adam(nets, {n: (n,) for n in names}, config)


def linear_decay(iteration: int, total: int, start_fraction: float) -> float:
    """1 for the first ``start_fraction`` of ``total`` iterations, then linearly down towards 0.

    The CycleGAN paper's schedule: the factor at iteration i >= start is 1 - (i - start) / (total - start + 1),
    so the last iteration still takes a (small) step.
    """
    start = int(start_fraction * total)
    return 1.0 - max(0, iteration - start) / float(total - start + 1)


class Step:
    """Base class of a variant's training step; subclasses implement ``optimizers`` and ``__call__``
    (``AdamStep`` gives both: Adam from the config, and an iteration declared as ``phases``)."""

    ema_net: str | None = "G"  # the network the engine averages when EMA is on
    cannot_accumulate: str = ""  # why the iteration cannot run on micro-batches (--accumulate); "" = it can

    def __init__(self, config: Any):
        self.config = config

    def optimizers(self, nets: dict[str, nn.Module]) -> dict[str, torch.optim.Optimizer]:
        """The optimizers, by name, over the (unwrapped) networks; built from the config."""
        raise NotImplementedError

    def __call__(self, ctx: StepContext, batch: Any) -> None:
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


class AdamStep(Step):
    """A Step with the usual optimizers, ``adam`` over ``optimizer_networks`` (corrected for lazy phases),
    whose iteration is its ``phases`` unless it writes ``__call__`` itself."""

    optimizer_networks: dict[str, tuple[str, ...]] = {"D": ("D",), "G": ("G",)}  # optimizer -> networks it updates
    phases: tuple[Phase, ...] = ()  # the updates of one iteration, in order

    def optimizers(self, nets: dict[str, nn.Module]) -> dict[str, torch.optim.Optimizer]:
        """One Adam per entry of ``optimizer_networks``, at the config's rates and betas."""
        return adam(nets, self.optimizer_networks, self.config, lazy_ratios(self.phases, self.config))

    def __call__(self, ctx: StepContext, batch: Any) -> None:
        """The phases due at ``ctx.iteration`` (run_phases)."""
        if not self.phases:
            raise NotImplementedError(f"{type(self).__name__} neither declares phases nor writes __call__")
        run_phases(self, ctx, batch)


class LinearDecayStep(AdamStep):
    """An AdamStep whose rates stay constant until ``config.decay_start`` of the run, then fall linearly to 0."""

    def lr_factor(self, iteration: int, total: int) -> float:
        """linear_decay from the config's ``decay_start`` (a fraction of the run; 1.0 = constant)."""
        return linear_decay(iteration, total, self.config.decay_start)


class StepContext:
    """What a step sees: networks, optimizers, backward/step that honour precision, and logging."""

    def __init__(
        self,
        models: dict[str, nn.Module],
        raw_models: dict[str, nn.Module],
        optimizers: dict[str, torch.optim.Optimizer],
        config: Any,
        device: torch.device,
        scaler: torch.amp.GradScaler | None,
        next_batch: Callable[[], Any],
        autocast: Callable[[], Any],
        task: Any = None,
    ):
        self.models = models  # for forward passes: compiled and/or DDP-wrapped as the run asks
        self._ddp = {
            name: getattr(net, "_orig_mod", net)
            for name, net in models.items()
            if isinstance(getattr(net, "_orig_mod", net), DistributedDataParallel)
        }
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
        self.task = task if task is not None else Sampling.for_config(config)  # the model's task (ganzoo.tasks)
        self.num_classes = self.task.num_classes  # 0: unconditional
        self.applied: set[str] = set()  # the G-side tricks the step has applied (ganzoo.tricks.generator_loss)

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
        self.logged.append(
            (self.iteration, {k: v.detach() if isinstance(v, torch.Tensor) else v for k, v in values.items()})
        )

    def noise(self, n: int) -> torch.Tensor:
        """Latent vectors for the generator: (n, *latent_shape) ~ N(0, 1) on the run's device."""
        return torch.randn((n, *self.latent_shape), device=self.device)

    def fake_labels(self, n: int) -> torch.Tensor:
        """Class labels for generated samples of a conditional run: (n,) int64, uniform over the classes.

        Drawn from torch's global generator, whose state every checkpoint holds, so resume stays exact.
        With mode seeking on, sample i + n/2 takes sample i's label: its pairs compare two fakes of one class.
        """
        if getattr(self.config, "mode_seeking", 0.0) > 0 and n > 1:
            h = n // 2
            drawn = self.task.fake_labels(n - h, self.device)  # an odd batch's last sample is in no pair
            return torch.cat([drawn[:h], drawn[:h], drawn[h:]])
        return self.task.fake_labels(n, self.device)

    def images_and_labels(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A batch as (images (B, C, H, W), labels (B,) or None): a conditional task's batches are (images, labels)."""
        return (batch[0], batch[1]) if self.task.conditional else (batch, None)

    def generate(self, n: int, net: str = "G") -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """n fakes: (images (n, C, H, W), the labels drawn for them (n,) or None, their latents (n, *latent_shape)).

        A conditional run draws the labels (``fake_labels``) before the latents; an unconditional one, latents only.
        """
        y = self.fake_labels(n) if self.task.conditional else None
        z = self.noise(n)
        G = self.models[net]
        return (G(z) if y is None else G(z, y)), y, z

    def score(self, x: torch.Tensor, y: torch.Tensor | None, net: str = "D") -> torch.Tensor:
        """Network ``net``'s logits on images x, with their labels y when the run is conditional (None otherwise)."""
        return self.models[net](x) if y is None else self.models[net](x, y)

    def next_batch(self) -> Any:
        """Another batch of real data (e.g. for each of WGAN-GP's critic updates)."""
        return self._next_batch()
