"""The training loop that every variant shares.

The engine owns the device, precision, torch.compile, DDP, EMA, data order, logging, sample
grids, checkpoints, signals and NaN checks; the variant's Step owns only losses and updates, and
the model's task says what differs between families (its inputs, labels and preview picture).
The pieces live beside this module: state (with ema and checkpoint), device, distributed, guard, runfolder.
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from ..model import GanModel
from . import accumulate, syncbn
from .batches import Batches
from .device import autocast, resolve_device, use_fast_kernels
from .distributed import Distributed, WorldChange
from .errors import NonFiniteLossError, TrainingInterrupted
from .guard import Guard, Signals
from .options import TrainOptions
from .outputs import MetricsLog, peak_memory_mb, write_preview
from .progress import Progress
from .runfolder import RunFolder, RunLock
from .state import TrainingState, run_record


class Trainer:
    """Trains ``model`` on ``dataset`` into the run folder ``out``; ``run()`` goes to ``options.steps``.

    Used as a context manager, it closes on the way out and, after a run that finished, ends the
    process group of a torchrun launch on every rank together.
    """

    def __init__(
        self,
        model: GanModel,
        dataset: Any,
        data: dict[str, Any],
        out: str | Path,
        options: TrainOptions,
        *,
        resume: bool = False,
        changes: dict[str, dict] | None = None,
    ):
        self.model, self.dataset, self.options, self.data = model, dataset, options, data
        self.changes = changes or {}  # on resume: config and engine values that differ from config.json
        self.folder = RunFolder(out)
        self.out = self.folder.path
        self.dist = Distributed()
        self.device = resolve_device(options.device, self.dist.local_rank)
        self.dist.init(self.device)
        self.is_main = self.dist.is_main
        self.log = None
        # rank 0 locks and checks the folder before anything is written (close() releases it); a refusal stops all
        self._lock: RunLock | None = self.dist.on_main(
            lambda: self.folder.claim(resume=resume), f"the run folder {self.out}"
        )
        try:
            self._setup(resume)
        except BaseException:
            self.close()
            raise

    def _setup(self, resume: bool) -> None:
        if resume:  # on another number of processes: the global batch and the data position carry over
            self.resize = WorldChange.of_run(self.folder, self.options, self.dist, self.changes)
            self.options = self.resize.options
        model, options, task = self.model, self.options, self.model.task
        self.state = TrainingState(model, options, self.device, self.dist.world)
        # the pieces by name: raw (unwrapped) networks, step, optimizers, EMA, fp16 scaler
        self.raw, self.step_fn, self.optimizers = self.state.nets, self.state.step, self.state.optimizers
        self.ema, self.scaler = self.state.ema, self.state.scaler
        self.micro = accumulate.Accumulation(options.accumulate, self.step_fn, model.variant.name)  # --accumulate K
        syncbn.prepare(self.raw, options, self.dist.enabled, self.is_main, model.variant.name)  # before the DDP wrap
        self.models = {name: self._wrap(net) for name, net in self.raw.items()}
        self.iteration = 0
        self.train_seconds = 0.0  # wall time spent in the loop, carried across resumes
        position, resumed_from = None, None
        if resume:
            resumed_from, position = self._restore()
        else:
            torch.manual_seed(options.seed + 7919 * self.dist.rank)  # different noise per rank
            random.seed(options.seed + self.dist.rank)
        labels = task.batch_labels(self.dataset, self.data.get("spec"))  # (images, labels) batches, or images
        self.batches = Batches.for_run(self.dataset, options, self.device, self.dist, position, labels)
        self.ctx = self.state.context(self.models, self._next_batch, self._autocast)
        if self.is_main:
            if not resume:
                self.folder.write_record(run_record(model, self.data, options, self.dist.world, self.device))
            self.log = MetricsLog(self.out, resume_from=self.iteration if resume else None)
        self.guard = Guard(self.out, resumed_from, self.iteration)

    def _wrap(self, net: torch.nn.Module) -> torch.nn.Module:
        net = self.dist.wrap(net)
        return torch.compile(net) if self.options.compile else net

    def _autocast(self) -> Any:
        return autocast(self.options.precision, self.device)

    def _next_batch(self) -> Any:
        try:
            return next(self.batches)
        except Exception as exc:  # a later batch (a critic's) failed mid-step: some networks have moved
            raise self.guard.data_error(exc, self.iteration, None, can_save=False) from exc

    # ---- checkpoints ----------------------------------------------------------------------------

    def _state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """The whole training state as checkpoint tensors and header."""
        return self.state.capture(self.iteration, self.train_seconds, self.batches.position())

    def save_checkpoint(self) -> Path:
        """Checkpoint the run at this iteration: rank 0 writes it, after checking every tensor is finite.

        Under torchrun every rank calls this together (their RNG streams go in) and gets the path.
        """
        rngs = self.dist.gather_rng()

        def write() -> None:
            self.state.refresh_ema(self.iteration)
            tensors, header = self._state()
            self.guard.check_state(tensors, self.iteration)  # never write (and call good) a NaN or Inf
            self.folder.save_checkpoint(self.iteration, {**tensors, **rngs}, header, self.options.keep_checkpoints)

        self.dist.on_main(write, f"to write the checkpoint at step {self.iteration}")
        self.guard.last_good = self.folder.checkpoint_path(self.iteration)
        return self.guard.last_good

    def _restore(self) -> tuple[Path, dict[str, int]]:
        """Load the latest checkpoint (checksum verified); returns it and the data position it holds."""
        path, tensors, header = self.folder.read_latest()
        self.state.restore(path, tensors, header, self.device)
        self.dist.restore_rng(tensors, self.options.seed, header["iteration"])  # each rank's own noise
        self.iteration = header["iteration"]
        self.train_seconds = header.get("train_seconds", 0.0)
        return path, self.resize.position(header["data"], len(self.dataset))

    # ---- the loop -------------------------------------------------------------------------------

    def run(self, until: int | None = None, *, finish: bool = True) -> Path:
        """Train to iteration ``until`` (default: options.steps), then checkpoint and write samples.

        ``finish=False`` skips the final checkpoint and samples: a benchmark runs a few chunks in a row.
        """
        until = self.options.steps if until is None else until
        opts = self.options
        progress = Progress(opts.progress, enabled=self.is_main, start=self.iteration, until=until)
        if finish and self.iteration >= until:
            progress.enabled = self.is_main  # even with progress off: a run that does nothing says why
            progress.say(
                f"{self.out} is already at step {self.iteration}, at or past steps={until}: nothing to "
                f"train (resume with a larger --steps to continue)"
            )
            progress.close()
            return self.out
        if self.changes and self.is_main:  # only a resume that trains records what it changed
            self.folder.record_changes(self.iteration, self.changes, self.model.config_dict(), asdict(self.options))
            self.changes = {}
        if finish:
            verb = f"resuming {self.out} at step {self.iteration}" if self.iteration else f"training into {self.out}"
            progress.say(
                f"{verb}: {self.model.variant.name} on {self.data.get('spec')}, {self.device} "
                f"{opts.precision}, batch {opts.batch_size}, to step {until}"
            )
        start = self._mark = time.perf_counter()
        self._mark_batches = self.batches.drawn
        with Signals() as signals:
            try:
                while self.iteration < until:
                    batch, error = self.batches.try_next()  # nothing of the iteration has run yet
                    over = bool(opts.budget) and time.perf_counter() - start >= opts.budget
                    if self._stop(self.dist.agree_to_stop(signals.caught, error, over)):  # the same on every rank
                        break
                    self._one_iteration(opts.steps, batch)
                    it = self.iteration
                    progress.step(it)
                    if it % opts.log_every == 0:
                        progress.logged(it, self._log_line())
                    if opts.sample_every and it % opts.sample_every == 0:
                        self.write_samples()
                    if opts.checkpoint_every and it % opts.checkpoint_every == 0:
                        self._log_line()  # off the log grid too: what was logged since the last line is kept
                        self.save_checkpoint()
                if finish:
                    self._finish(progress)
            finally:
                progress.close()
        return self.out

    def _finish(self, progress: Progress) -> None:
        """The end of a run: a last log line, a last checkpoint (unless one was just written) and samples."""
        self._log_line()
        self.dist.sync_buffers(self.raw)
        if self.iteration > 0 and self.guard.last_good != self.folder.checkpoint_path(self.iteration):
            self.save_checkpoint()
        grid = self.write_samples()
        progress.say(
            f"finished at step {self.iteration}: {self.out} holds config.json, metrics.jsonl, "
            f"checkpoints/ (latest {self.guard.last_good.name if self.guard.last_good else 'none'})"
            + (f" and {grid.relative_to(self.out)}" if grid else "")
            + (f"; {self.state.summary()}" if self.state.summary() else "")
        )

    def _one_iteration(self, total: int, batch: Any) -> None:
        self.state.start_iteration(self.iteration, total)
        self.ctx.iteration = self.iteration
        batch = self.micro.draw(batch, self._next_batch)  # --accumulate K: the K - 1 further micro-batches
        self.micro.run(self.step_fn, self.ctx, batch)
        self.state.update_ema(self.iteration, self.options.batch_size * self.options.accumulate * self.dist.world)
        self.iteration += 1

    def _log_line(self) -> dict[str, Any]:
        """Write one metrics.jsonl line: averaged logs, images/s and training seconds since the last line."""
        now = time.perf_counter()
        self.train_seconds += now - self._mark
        images = (self.batches.drawn - self._mark_batches) * self.options.batch_size * self.dist.world
        rate = images / max(now - self._mark, 1e-9)
        self._mark, self._mark_batches = now, self.batches.drawn
        return self._flush_logs(images_per_s=rate)

    def _flush_logs(self, images_per_s: float | None = None) -> dict[str, Any]:
        """Average the logged scalars since the last flush; stop the run on a NaN/Inf there or in the state."""
        entries, self.ctx.logged = self.ctx.logged, []
        record: dict[str, Any] = {"step": self.iteration, **self.guard.average_logs(entries)}
        self.guard.check_state(self._state()[0], self.iteration)
        if images_per_s is not None:
            record["images_per_s"] = round(images_per_s, 2)
            record["train_seconds"] = round(self.train_seconds, 3)  # in the loop, over all resumes
            record.update(peak_memory_mb(self.device))
            record["time"] = round(time.time(), 3)
            if self.log is not None and entries:
                self.log.write(record)
        return record

    def _stop(self, stop: Any) -> bool:
        """Act on what the ranks agreed (distributed.Stop): True at the budget; a signal or a failed read raises.

        The batch just read goes back first; the last completed iteration is saved (once), then every rank
        raises the same error: a signal's TrainingInterrupted, or the TrainingDataError naming the rank.
        """
        if stop:
            self.batches.unread()
        if stop.signal is None and stop.error is None:
            return stop.budget
        saved = self.folder.checkpoint_path(self.iteration)
        if self.guard.last_good != saved:
            self._flush_logs()
            saved = self.save_checkpoint()  # checked finite first, like every checkpoint
        self.dist.shutdown()  # every rank is here: end the group before the error ends the process
        if stop.signal is not None:
            raise self.guard.interrupted(stop.signal, self.iteration, saved)
        raise self.guard.data_error(stop.error, self.iteration, saved, can_save=True) from stop.error

    # ---- outputs --------------------------------------------------------------------------------

    def sampling_model(self) -> GanModel:
        """The model to sample from: the EMA generator when there is one."""
        return self.state.sampling_model(self.model, self.iteration)

    def write_samples(self) -> Path | None:
        """Save the task's preview picture of the model now (the first batch's inputs for a translator)."""
        if not self.is_main:
            return None
        model = self.sampling_model()
        inputs = next(Batches(self.dataset, 8, self.options.seed, self.device)) if model.task.translates else None
        path, opts = self.folder.sample_path(self.iteration), self.options
        return write_preview(model, path, seed=opts.seed, n=opts.num_samples, inputs=inputs)

    # ---- the end --------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the metrics log and release the run folder; safe to call twice."""
        if self.log is not None:
            self.log.close()
            self.log = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Trainer:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        """Close; after a finished run, also end a torchrun launch's process group on every rank together.

        After an error the group is left to the process's end: a barrier a failed rank never reaches would hang.
        """
        self.close()
        if exc_type is None:
            self.dist.shutdown()


__all__ = ["Trainer", "TrainOptions", "TrainingInterrupted", "NonFiniteLossError"]
__all__ += ["resolve_device", "use_fast_kernels", "Distributed"]  # still importable from here, as before the split
