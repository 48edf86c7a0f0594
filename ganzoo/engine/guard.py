"""What stops a run, and how it says so: NaN or Inf in its losses or state, a failed data read, a signal.

Every stop names what to do next: the last good checkpoint and the command that resumes from it.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import torch

from . import checkpoint as ckpt
from .errors import NonFiniteLossError, TrainingDataError, TrainingInterrupted


class Guard:
    """Checks a run's logged values and state for NaN/Inf; knows its last good checkpoint for the advice."""

    def __init__(self, out: Path, last_good: Path | None, checked_at: int):
        self.out = out
        self.last_good = last_good  # the latest checkpoint known to be finite and whole
        self.checked_at = checked_at  # last iteration at which the state was checked finite

    def advice(self) -> str:
        """Where the run can continue from, in words."""
        if self.last_good is None:
            return "no checkpoint was written before it"
        return (
            f"the last good checkpoint is {self.last_good}; continue from it with a lower learning rate, e.g. "
            f"`ganzoo train --resume {self.out} -c lr=...` (or another precision)"
        )

    def average_logs(self, entries: list[tuple[int, dict[str, Any]]]) -> dict[str, float]:
        """The mean of each value logged since the last line; the first NaN/Inf (by iteration) stops the run."""
        series: dict[str, tuple[list[int], list[Any]]] = {}
        for iteration, values in entries:
            for key, value in values.items():
                its, vals = series.setdefault(key, ([], []))
                its.append(iteration)
                vals.append(torch.as_tensor(value, dtype=torch.float32).reshape(()))
        if not series:
            return {}
        stacked = {k: torch.stack(v).cpu() for k, (_, v) in series.items()}  # one sync per key
        bad = [
            (series[k][0][int(t.isfinite().logical_not().nonzero()[0])], k)
            for k, t in stacked.items()
            if not bool(t.isfinite().all())
        ]
        if bad:
            order = list(series)  # ties go to the first-logged value (the losses, usually)
            iteration, key = min(bad, key=lambda b: (b[0], order.index(b[1])))
            value = float(stacked[key][series[key][0].index(iteration)])
            raise NonFiniteLossError(
                f"loss {key!r} became {value} at step {iteration}; the run stopped and {self.advice()}"
            )
        return {k: float(t.mean()) for k, t in stacked.items()}

    def check_state(self, tensors: dict[str, torch.Tensor], iteration: int) -> None:
        """Stop the run when any tensor of its state (networks, EMA, optimizers, step state) is NaN or Inf.

        Losses can stay finite while batch-norm statistics or Adam's moments overflow, so the state
        itself is checked at every log line and checkpoint: one fused check, no per-step sync.
        """
        bad = ckpt.first_nonfinite(tensors)
        if bad is None:
            self.checked_at = iteration
            return
        kind = "nan" if bool(tensors[bad].isnan().any()) else "inf"
        raise NonFiniteLossError(
            f"{ckpt.describe_key(bad)} holds {kind} ({bad}) at step {iteration}, finite at "
            f"step {self.checked_at}; the run stopped and {self.advice()}"
        )

    def data_error(self, exc: Exception, iteration: int, saved: Path | None, *, can_save: bool) -> TrainingDataError:
        """The error that stops a run whose data failed to load at ``iteration + 1``; ``saved``: what was saved."""
        text = str(exc).strip()
        cause = text.splitlines()[-1] if text else type(exc).__name__  # a DataLoader worker's error ends with it
        if can_save:
            done = f"saved {saved} at step {iteration}" if saved else "rank 0 saved a checkpoint"
        else:
            done = (
                f"nothing was saved mid-step; the last good checkpoint is {self.last_good}"
                if self.last_good
                else "nothing was saved mid-step and no checkpoint was written before it"
            )
        return TrainingDataError(
            f"reading the training data failed at step {iteration + 1}: {cause}; {done}. "
            f"Fix or remove the file it names, then continue with "
            f"`ganzoo train --resume {self.out}`"
        )

    def interrupted(self, signum: int, iteration: int, saved: Path | None) -> TrainingInterrupted:
        """The error that stops a run on SIGINT/SIGTERM, after it saved ``saved``."""
        name = signal.Signals(signum).name
        done = f"saved {saved}" if saved else "rank 0 saved the checkpoint"
        return TrainingInterrupted(
            f"{name} stopped the run at step {iteration} and {done}; continue it with "
            f"`ganzoo train --resume {self.out}` (Python: ganzoo.train(out=..., resume=True))"
        )


class Signals:
    """While entered: SIGINT and SIGTERM are caught (``caught`` holds the last), for the loop to stop cleanly."""

    def __init__(self) -> None:
        self.caught: int | None = None
        self._handlers: dict = {}

    def __enter__(self) -> Signals:
        if threading.current_thread() is threading.main_thread():  # only the main thread may set handlers

            def handler(signum, frame):
                self.caught = signum

            self._handlers = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc: Any) -> None:
        for s, h in self._handlers.items():
            signal.signal(s, h)
        self._handlers = {}
