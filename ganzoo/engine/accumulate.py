"""``--accumulate K``: each optimizer step sums the gradients of K micro-batches, for every variant alike.

A step's iteration interleaves updates (D's, then G's through the updated D), so it cannot simply run K
times. Instead the K micro-batches run the step side by side in lockstep: each runs up to its next
``ctx.step(name)`` and waits there; when all K have arrived, optimizer ``name`` steps once on the summed
gradients and they all go on. Every backward is scaled by 1/K, so the step sees the mean over the K
micro-batches of its per-batch losses: with per-sample means (and no batch norm) that is the loss of one
batch K times as large. One micro-batch runs at a time, in order (a thread each, handing over at the
waits), so the random draws, and so resume, stay exact. Learning-rate schedules and the EMA advance once
per iteration, which is once per optimizer step.

Under DDP the whole iteration runs in ``no_sync``, and at each optimizer step this module averages that
optimizer's gradients over the processes itself: a step whose backward for one update runs after the
next micro-batch's forward (D's graph of G's fakes) would otherwise let DDP reduce half-summed gradients.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

import torch

from .. import tricks
from ..config import ConfigError
from .step import Step, StepContext


class Accumulation:
    """Draws the K micro-batches of an iteration and runs the step on them (the step as it is when K = 1)."""

    def __init__(self, k: int, step: Step, variant: str):
        self.k, self.variant = k, variant
        reason = getattr(step, "cannot_accumulate", "")
        if k > 1 and reason:
            raise ConfigError(f"--accumulate {k}: {variant}'s step cannot run on micro-batches: {reason}")

    def draw(self, first: Any, next_batch: Callable[[], Any]) -> Any:
        """The iteration's batch ``first``, or it and K - 1 more: the K micro-batches in order, before the step runs."""
        return first if self.k == 1 else [first, *(next_batch() for _ in range(self.k - 1))]

    def run(self, step: Step, ctx: StepContext, batch: Any) -> None:
        """One iteration: the step under the run's autocast, on the batch or in lockstep on the micro-batches;
        then a G-side trick asked for that the step left out stops the run (ganzoo.tricks.check_applied)."""
        if self.k == 1:
            with ctx.autocast():
                step(ctx, batch)
        else:
            with contextlib.ExitStack() as stack:
                for ddp in ctx._ddp.values():  # this module averages the gradients at each optimizer step
                    stack.enter_context(ddp.no_sync())
                _lockstep(step, ctx, batch)
        tricks.check_applied(ctx, self.variant)


class _Cancelled(BaseException):
    """Unwinds a micro-batch that waits at an optimizer step after another one failed."""


class _MicroRun:
    """One micro-batch's run of the step, in a thread that runs only while the engine waits for it."""

    def __init__(self, index: int, step: Step, ctx: StepContext, batch: Any, k: int):
        self.index, self.ctx = index, MicroContext.of(ctx, self, k)
        self._go, self._done = threading.Semaphore(0), threading.Semaphore(0)
        self.waiting_for: str | None = None  # the optimizer it waits at
        self.error: BaseException | None = None
        self.finished = self.cancelled = False
        self._thread = threading.Thread(target=self._main, args=(step, batch), daemon=True, name=f"micro-batch {index}")
        self._thread.start()

    def _main(self, step: Step, batch: Any) -> None:
        self._go.acquire()
        try:
            if not self.cancelled:
                if self.ctx.device.type == "cuda" and self.ctx.device.index is not None:
                    torch.cuda.set_device(self.ctx.device)  # the current device is per thread
                with self.ctx.autocast():  # autocast and grad mode are per thread
                    step(self.ctx, batch)
        except _Cancelled:
            pass
        except BaseException as exc:  # handed to the engine's thread, the same object (a data error stays one)
            self.error = exc
        finally:
            self.finished, self.waiting_for = True, None
            self._done.release()

    def resume(self) -> None:
        """Let it run to its next optimizer step or its end (the engine's thread waits meanwhile)."""
        self._go.release()
        self._done.acquire()

    def wait_at(self, name: str) -> None:
        """Its own thread, at ``ctx.step(name)``: hand over and wait until every micro-batch is there."""
        self.waiting_for = name
        self._done.release()
        self._go.acquire()
        if self.cancelled:
            raise _Cancelled


def _lockstep(step: Step, ctx: StepContext, batches: list[Any]) -> None:
    """Run the step on each micro-batch in turn up to each optimizer step; step each optimizer once."""
    runs = [_MicroRun(i, step, ctx, b, len(batches)) for i, b in enumerate(batches)]
    try:
        while True:
            for run in runs:
                run.resume()
                if run.error is not None:
                    raise run.error
            if all(run.finished for run in runs):
                return
            asked = [run.waiting_for for run in runs]
            if len(set(asked)) != 1 or asked[0] is None:
                said = ", ".join(f"micro-batch {i}: {a or 'finished'}" for i, a in enumerate(asked))
                raise RuntimeError(
                    f"--accumulate {len(runs)}: the micro-batches asked for different optimizer steps ({said}); "
                    f"its updates depend on its batch, so it cannot run on micro-batches: leave out --accumulate"
                )
            _average_gradients(ctx, asked[0])
            StepContext.step(ctx, asked[0])
    finally:
        for run in runs:  # after an error: unwind the ones still waiting (their frozen() blocks restore)
            if not run.finished:
                run.cancelled = True
                run.resume()


def _average_gradients(ctx: StepContext, name: str) -> None:
    """Under DDP, the mean over the processes of optimizer ``name``'s summed gradients (one all-reduce per dtype)."""
    if not ctx._ddp:
        return
    import torch.distributed as dist

    groups: dict[tuple, list[torch.Tensor]] = {}
    for group in ctx.optimizers[name].param_groups:
        for p in group["params"]:
            if p.grad is not None:
                groups.setdefault((p.grad.dtype, p.grad.device), []).append(p.grad)
    world = dist.get_world_size()
    for grads in groups.values():
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= world
        for g, part in zip(grads, flat.split([g.numel() for g in grads])):
            g.copy_(part.view_as(g))


class MicroContext(StepContext):
    """The context of one micro-batch: backward scaled by 1/K, ``step`` waits for all K and then applies once."""

    _run: _MicroRun
    _k: int

    @classmethod
    def of(cls, ctx: StepContext, run: _MicroRun, k: int) -> MicroContext:
        """A view of ``ctx`` (the same networks, optimizers, logs and data) for micro-batch ``run``."""
        micro = cls.__new__(cls)
        micro.__dict__.update(ctx.__dict__)
        micro._run, micro._k = run, k
        return micro

    def backward(self, loss: torch.Tensor, **kwargs: Any) -> None:
        """Backpropagate ``loss`` / K: the K micro-batches' gradients sum to their mean's."""
        super().backward(loss / self._k, **kwargs)

    def step(self, name: str) -> None:
        """Wait until every micro-batch has reached this update; the engine then applies optimizer ``name`` once."""
        if name not in self.optimizers:
            raise KeyError(f"step({name!r}): the optimizers are {sorted(self.optimizers)}")
        self._run.wait_at(name)

    def zero_grad(self, name: str) -> None:
        raise RuntimeError(
            f"ctx.zero_grad({name!r}) would clear the gradients the other micro-batches summed: a step that calls "
            f"it cannot run with --accumulate; leave out --accumulate"
        )
