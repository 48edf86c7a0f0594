"""The training loop that every variant shares.

The engine owns the device, precision, torch.compile, DDP, EMA, data order, logging, sample
grids, checkpoints, signals and NaN checks; the variant's Step owns only losses and updates.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import random
import signal
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import __version__
from ..config import is_conditional
from ..model import GanModel
from . import checkpoint as ckpt
from .runfolder import RunFolder, RunLock
from .batches import Batches
from .errors import NonFiniteLossError, TrainingDataError, TrainingInterrupted
from .options import TrainOptions
from .outputs import MetricsLog, peak_memory_mb, save_grid
from .progress import Progress
from .step import Step, StepContext

STANDING_STATISTICS_SAMPLES = 1024  # generator outputs that set the EMA's batch-norm statistics


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(f"device {name!r} was asked for but CUDA is not available; use --device cpu")
        if name == "cuda":
            name = f"cuda:{local_rank}"
    elif name != "cpu":
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {name!r}")
    return torch.device(name)


def use_fast_kernels(opt: torch.optim.Optimizer) -> None:
    """Give each parameter group that left the choice to torch its fused kernel, else its multi-tensor one.

    torch picks neither on CPU by default, where fused Adam takes a third of the for-loop's time.
    Fused kernels walk memory flat, so channels_last parameters (whose gradients or restored state
    may be laid out otherwise) get the stride-aware multi-tensor ones. A group that set ``foreach``
    or ``fused`` itself, or is differentiable, is left as it is.
    """
    supported = getattr(torch.utils._foreach_utils, "_get_fused_kernels_supported_devices", lambda: ["cuda"])
    fused_devices = set(supported())  # a private helper of torch's; older versions fuse on CUDA only
    for group in opt.param_groups:
        if group.get("foreach") is not None or group.get("fused") or group.get("differentiable"):
            continue
        if "fused" in group and all(p.is_floating_point() and p.is_contiguous() and p.device.type in fused_devices
                                    for p in group["params"]):
            group["fused"] = True  # Adam, AdamW, SGD, Adagrad
        elif "foreach" in group:
            group["foreach"] = True


class Distributed:
    """Rank and world of a torchrun launch (gloo on CPU, NCCL on GPU); a single process otherwise."""

    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.enabled = self.world > 1
        self.owns_group = False  # True when this object started the process group (and so ends it)

    def init(self, device: torch.device) -> None:
        import torch.distributed as dist

        self.device = device
        if self.enabled and not dist.is_initialized():
            if device.type == "cuda":
                torch.cuda.set_device(device)
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
            self.owns_group = True

    def shutdown(self) -> None:
        """After a finished run: wait for every rank, then end the process group this object started.

        This is PyTorch's documented shutdown; the barrier keeps ranks from tearing down while
        rank 0 still writes. Not called after an error: a barrier that a failed rank never
        reaches would hang.
        """
        import torch.distributed as dist

        if self.owns_group and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()
            self.owns_group = False

    def broadcast_flag(self, flag: bool) -> bool:
        """Rank 0's ``flag`` on every rank: a refusal on rank 0 then stops the others instead of leaving them waiting."""
        if not self.enabled:
            return flag
        import torch.distributed as dist

        value = torch.tensor([int(flag)], device=self.device)
        dist.broadcast(value, src=0)
        return bool(value.item())

    @property
    def is_main(self) -> bool:
        return self.rank == 0


class Trainer:
    """Trains ``model`` on ``dataset`` into the run folder ``out``; ``run()`` goes to ``options.steps``."""

    def __init__(self, model: GanModel, dataset: Any, data: dict[str, Any], out: str | Path,
                 options: TrainOptions, *, resume: bool = False, changes: dict[str, dict] | None = None):
        self.model, self.dataset, self.options, self.data = model, dataset, options, data
        self.changes = changes or {}  # on resume: config and engine values that differ from config.json
        self.out = Path(out)
        self.folder = RunFolder(self.out)
        self.ckpt_dir = self.folder.checkpoints_dir
        self.dist = Distributed()
        self.device = resolve_device(options.device, self.dist.local_rank)
        self.dist.init(self.device)
        self.is_main = self.dist.is_main
        self.log = None
        self._lock = self._claim_folder(resume)  # before anything is written; close() releases it
        try:
            self._setup(resume)
        except BaseException:
            self.close()
            raise

    def _setup(self, resume: bool) -> None:
        model, dataset, options, data = self.model, self.dataset, self.options, self.data
        memory = torch.channels_last if options.channels_last else torch.contiguous_format
        model.nets.to(self.device)
        for net in model.nets.values():
            if any(p.dim() == 4 for p in net.parameters()):
                net.to(memory_format=memory)
        self.raw = dict(model.nets.items())
        self.step_fn: Step = model.variant.load_step()(model.config)
        self.optimizers = self.step_fn.optimizers(self.raw)
        for opt in self.optimizers.values():
            for group in opt.param_groups:
                group.setdefault("initial_lr", group["lr"])
            use_fast_kernels(opt)
        self.schedules = type(self.step_fn).lr_factor is not Step.lr_factor
        self.ema = None
        self._ema_statistics_at = -1  # iteration at which the EMA's batch-norm statistics were last recomputed
        if options.ema > 0 and self.step_fn.ema_net:
            self.ema = copy.deepcopy(self.raw[self.step_fn.ema_net]).requires_grad_(False)
        self.scaler = torch.amp.GradScaler(self.device.type) if options.precision == "fp16" else None
        self.models = self._wrap(self.raw)

        self.iteration = 0
        self.train_seconds = 0.0  # wall time spent in the loop, carried across resumes
        position, resumed_from = None, None
        if resume:
            resumed_from, position = self._restore()
        else:
            torch.manual_seed(options.seed + 7919 * self.dist.rank)  # different noise per rank
            random.seed(options.seed + self.dist.rank)
        self.num_classes = model.num_classes  # 0: unconditional
        labels = None
        if is_conditional(model.config):  # the step gets (images, labels) batches
            labels = getattr(dataset, "labels", None)
            if labels is None:
                raise ValueError(f"a conditional {model.variant.name} run needs class labels, and the data "
                                 f"{data.get('spec')!r} has none; train with -c num_classes=0 or use labelled data")
        self.batches = Batches(dataset, options.batch_size, options.seed, self.device, rank=self.dist.rank,
                               world=self.dist.world, workers=options.workers,
                               channels_last=options.channels_last, position=position, labels=labels)
        self.batches_drawn = 0
        self._data_error: Exception | None = None  # what the last failed read of a batch raised
        self.ctx = StepContext(self.models, self.raw, self.optimizers, model.config, self.device, self.scaler,
                               self._next_batch, self._autocast)
        if self.is_main:
            if not resume:
                self._write_config()
            self.log = MetricsLog(self.out, resume_from=self.iteration if resume else None)
        self._signal: int | None = None
        self._last_good: Path | None = resumed_from  # the latest checkpoint known to be finite and whole
        self._checked_at = self.iteration  # last iteration at which the state was checked finite

    def _claim_folder(self, resume: bool) -> RunLock | None:
        """Rank 0 locks and checks the run folder (runfolder.claim); its refusal stops every rank."""
        lock, refusal = None, None
        if self.is_main:
            try:
                lock = self.folder.claim(resume=resume)
            except Exception as exc:
                refusal = exc
        if self.dist.broadcast_flag(refusal is not None) and refusal is None:
            raise RuntimeError(f"rank 0 refused the run folder {self.out}; its error says why")
        if refusal is not None:
            raise refusal
        return lock

    # ---- setup pieces ---------------------------------------------------------------------------

    def _wrap(self, raw: dict[str, nn.Module]) -> dict[str, nn.Module]:
        wrapped = {}
        for name, net in raw.items():
            if self.dist.enabled and any(p.requires_grad for p in net.parameters()):
                from torch.nn.parallel import DistributedDataParallel as DDP

                ids = [self.device.index] if self.device.type == "cuda" else None
                net = DDP(net, device_ids=ids)
            if self.options.compile:
                net = torch.compile(net)
            wrapped[name] = net
        return wrapped

    def _autocast(self):
        if self.options.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.options.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def _next_batch(self) -> Any:
        self.batches_drawn += 1
        try:
            return next(self.batches)
        except Exception as exc:
            self._data_error = exc  # told apart from the step's own errors by _one_iteration
            raise

    def _write_config(self) -> None:
        record = {
            "ganzoo_version": __version__,
            "variant": self.model.variant.name,
            "plugin": self.model.variant.plugin,
            "config": self.model.config_dict(),
            "networks": list(self.raw),
            "data": self.data,
            "engine": asdict(self.options),
            "world_size": self.dist.world,
        }
        self.folder.write_record(record)

    # ---- checkpoints ----------------------------------------------------------------------------

    def _state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """The whole training state as checkpoint tensors and header."""
        tensors, parts = ckpt.state_tensors(self.raw, self.ema, self.optimizers, self.step_fn.state_tensors())
        header = {"iteration": self.iteration, "train_seconds": self.train_seconds, "data": self.batches.position(),
                  **parts, "scaler": self.scaler.state_dict() if self.scaler else None,
                  "variant": self.model.variant.name, "ganzoo_version": __version__,
                  "ema_net": self.step_fn.ema_net if self.ema is not None else None}
        return tensors, header

    def save_checkpoint(self) -> Path | None:
        if not self.is_main:
            return None
        if self.ema is not None:
            self._refresh_ema_statistics()
        tensors, header = self._state()
        self._check_state(tensors)  # never write (and call good) a checkpoint holding NaN or Inf
        self._last_good = self.folder.save_checkpoint(self.iteration, tensors, header, self.options.keep_checkpoints)
        return self._last_good

    def _restore(self) -> tuple[Path, dict[str, int]]:
        """Load the latest checkpoint (checksum verified); returns it and the data position it holds."""
        path, tensors, header = self.folder.read_latest()
        if header.get("variant") != self.model.variant.name:
            raise ValueError(f"checkpoint {path} is of variant {header.get('variant')!r}, not {self.model.variant.name!r}")
        step_state = ckpt.load_state(tensors, header, path, self.raw, self.ema, self.optimizers, self.options.ema)
        if self.scaler is not None and header.get("scaler"):
            self.scaler.load_state_dict(header["scaler"])
        self.step_fn.load_state_tensors({k: v.to(self.device) for k, v in step_state.items()})
        if self.dist.rank:  # other ranks draw their own noise: reseed them from where the run stands
            torch.manual_seed(self.options.seed + 7919 * self.dist.rank + header["iteration"])
        self.iteration = header["iteration"]
        self.train_seconds = header.get("train_seconds", 0.0)
        return path, header["data"]

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
            progress.say(f"{self.out} is already at step {self.iteration}, at or past steps={until}: nothing to "
                         f"train (resume with a larger --steps to continue)")
            progress.close()
            return self.out
        if self.changes and self.is_main:
            # only a resume that trains records what it changed
            self.folder.record_changes(self.iteration, self.changes, self.model.config_dict(), asdict(self.options))
            self.changes = {}
        if finish:
            verb = f"resuming {self.out} at step {self.iteration}" if self.iteration else f"training into {self.out}"
            progress.say(f"{verb}: {self.model.variant.name} on {self.data.get('spec')}, {self.device} "
                         f"{opts.precision}, batch {opts.batch_size}, to step {until}")
        handlers = self._install_signal_handlers()
        start = self._mark = time.perf_counter()
        self._mark_batches = self.batches_drawn
        try:
            while self.iteration < until:
                if self._signal is not None:
                    self._stop_on_signal()
                if opts.budget and time.perf_counter() - start >= opts.budget:
                    break
                self._one_iteration(opts.steps)
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
                self._log_line()
                self._sync_buffers()
                if self.iteration > 0 and self._last_good != self.folder.checkpoint_path(self.iteration):
                    self.save_checkpoint()
                grid = self.write_samples()
                progress.say(f"finished at step {self.iteration}: {self.out} holds config.json, metrics.jsonl, "
                             f"checkpoints/ (latest {self._last_good.name if self._last_good else 'none'})"
                             + (f" and {grid.relative_to(self.out)}" if grid else ""))
        finally:
            progress.close()
            self._restore_signal_handlers(handlers)
        return self.out

    def _log_line(self) -> dict[str, Any]:
        """Write one metrics.jsonl line: averaged logs, images/s and training seconds since the last line."""
        now = time.perf_counter()
        self.train_seconds += now - self._mark
        images = (self.batches_drawn - self._mark_batches) * self.options.batch_size * self.dist.world
        rate = images / max(now - self._mark, 1e-9)
        self._mark, self._mark_batches = now, self.batches_drawn
        return self._flush_logs(images_per_s=rate)

    def _sync_buffers(self) -> None:
        """DDP syncs batch-norm statistics at each forward; the last forward leaves ranks apart, so align them."""
        if self.dist.enabled:
            import torch.distributed as dist

            for net in self.raw.values():
                for buffer in net.buffers():
                    dist.broadcast(buffer, src=0)

    def _one_iteration(self, total: int) -> None:
        if self.schedules:
            factor = self.step_fn.lr_factor(self.iteration, total)
            for opt in self.optimizers.values():
                for group in opt.param_groups:
                    group["lr"] = group["initial_lr"] * factor
        for opt in self.optimizers.values():
            opt.zero_grad(set_to_none=True)
        self.ctx.iteration = self.iteration
        try:
            batch = self._next_batch()
        except Exception as exc:  # nothing of this iteration has run: the last completed one can be saved
            self._stop_on_data_error(exc, can_save=True)
        try:
            with self._autocast():
                self.step_fn(self.ctx, batch)
        except Exception as exc:
            if exc is self._data_error:  # a later batch (a critic's): some networks have moved
                self._stop_on_data_error(exc, can_save=False)
            raise
        if self.ema is not None:
            self._update_ema()
        self.iteration += 1

    @torch.no_grad()
    def _refresh_ema_statistics(self) -> None:
        """Recompute the EMA generator's batch-norm statistics from its own outputs ("standing statistics").

        Each step copies the trained generator's running statistics, which fit its weights, not the
        averaged ones: sampled in eval mode, such an EMA draws worse images than the raw generator.
        Fixed noise keeps this deterministic; training never reads these buffers, so resume stays exact.
        """
        norms = [m for m in self.ema.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
        latent_shape = getattr(self.ema, "latent_shape", None)
        if not norms or latent_shape is None or self._ema_statistics_at == self.iteration:
            return
        momenta = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the batches below
        was_training = self.ema.training
        self.ema.train()
        rng = torch.Generator(device=self.device).manual_seed(self.options.seed)
        batch = self.options.batch_size
        for _ in range(-(-STANDING_STATISTICS_SAMPLES // batch)):
            z = torch.randn((batch, *latent_shape), generator=rng, device=self.device)
            if self.num_classes:  # a conditional generator: statistics over all classes
                self.ema(z, torch.randint(0, self.num_classes, (batch,), generator=rng, device=self.device))
            else:
                self.ema(z)
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        self.ema.train(was_training)
        self._ema_statistics_at = self.iteration

    @torch.no_grad()
    def _update_ema(self) -> None:
        source = self.raw[self.step_fn.ema_net]
        ema_params = list(self.ema.parameters())
        decay = self.step_fn.ema_decay(self.iteration, self.options.batch_size * self.dist.world, self.options.ema)
        torch._foreach_lerp_(ema_params, [p.detach() for p in source.parameters()], 1.0 - decay)
        for b_ema, b in zip(self.ema.buffers(), source.buffers()):
            b_ema.copy_(b)

    def _flush_logs(self, images_per_s: float | None = None) -> dict[str, float]:
        """Average the logged scalars since the last flush; stop the run on a NaN/Inf."""
        entries, self.ctx.logged = self.ctx.logged, []
        record: dict[str, Any] = {"step": self.iteration}
        series: dict[str, tuple[list[int], list[Any]]] = {}
        for iteration, values in entries:
            for key, value in values.items():
                its, vals = series.setdefault(key, ([], []))
                its.append(iteration)
                vals.append(torch.as_tensor(value, dtype=torch.float32).reshape(()))
        if series:
            stacked = {k: torch.stack(v).cpu() for k, (_, v) in series.items()}  # one sync per key
            bad = [(series[k][0][int(t.isfinite().logical_not().nonzero()[0])], k) for k, t in stacked.items()
                   if not bool(t.isfinite().all())]
            if bad:
                order = list(series)  # ties go to the first-logged value (the losses, usually)
                iteration, key = min(bad, key=lambda b: (b[0], order.index(b[1])))
                value = float(stacked[key][series[key][0].index(iteration)])
                self._stop_on_nonfinite(key, value, iteration)
            record.update({k: float(t.mean()) for k, t in stacked.items()})
        self._check_state()
        if images_per_s is not None:
            record["images_per_s"] = round(images_per_s, 2)
            record["train_seconds"] = round(self.train_seconds, 3)  # in the loop, over all resumes
            record.update(peak_memory_mb(self.device))
            record["time"] = round(time.time(), 3)
            if self.log is not None and entries:
                self.log.write(record)
        return record

    def _stop_on_nonfinite(self, key: str, value: float, iteration: int) -> None:
        raise NonFiniteLossError(f"loss {key!r} became {value} at step {iteration}; the run stopped and "
                                 f"{self._last_good_advice()}")

    def _stop_on_data_error(self, exc: Exception, *, can_save: bool) -> None:
        """Reading a batch failed: save the last completed iteration when nothing has moved since, then stop."""
        text = str(exc).strip()
        cause = text.splitlines()[-1] if text else type(exc).__name__  # a DataLoader worker's error ends with it
        if can_save:
            path = self.folder.checkpoint_path(self.iteration)
            if self._last_good != path:
                self._flush_logs()
                path = self.save_checkpoint()  # checked finite first, like every checkpoint
            saved = f"saved {path} at step {self.iteration}" if path else "rank 0 saved a checkpoint"
        else:
            saved = (f"nothing was saved mid-step; the last good checkpoint is {self._last_good}" if self._last_good
                     else "nothing was saved mid-step and no checkpoint was written before it")
        raise TrainingDataError(f"reading the training data failed at step {self.iteration + 1}: {cause}; {saved}. "
                                f"Fix or remove the file it names, then continue with "
                                f"`ganzoo train --resume {self.out}`") from exc

    def _last_good_advice(self) -> str:
        if self._last_good is None:
            return "no checkpoint was written before it"
        return (f"the last good checkpoint is {self._last_good}; continue from it with a lower learning rate, e.g. "
                f"`ganzoo train --resume {self.out} -c lr=...` (or another precision)")

    def _check_state(self, tensors: dict[str, torch.Tensor] | None = None) -> None:
        """Stop the run when any tensor of its state (networks, EMA, optimizers, step state) is NaN or Inf.

        Losses can stay finite while batch-norm statistics or Adam's moments overflow, so the state
        itself is checked at every log line and checkpoint: one fused check, no per-step sync.
        """
        tensors = self._state()[0] if tensors is None else tensors
        bad = ckpt.first_nonfinite(tensors)
        if bad is None:
            self._checked_at = self.iteration
            return
        kind = "nan" if bool(tensors[bad].isnan().any()) else "inf"
        owner = ckpt.describe_key(bad)
        raise NonFiniteLossError(f"{owner} holds {kind} ({bad}) at step {self.iteration}, finite at step "
                                 f"{self._checked_at}; the run stopped and {self._last_good_advice()}")

    # ---- outputs --------------------------------------------------------------------------------

    def sampling_model(self) -> GanModel:
        """The model to sample from: the EMA generator when there is one."""
        nets = dict(self.raw)
        if self.ema is not None:
            self._refresh_ema_statistics()
            nets[self.step_fn.ema_net] = self.ema
        return GanModel(self.model.variant, self.model.config, nets, classes=self.model.classes)

    def write_samples(self) -> Path | None:
        if not self.is_main:
            return None
        model = self.sampling_model()
        path = self.folder.sample_path(self.iteration)
        if model.variant.task == "translate":
            first = next(Batches(self.dataset, 8, self.options.seed, self.device))
            a = first[0] if isinstance(first, (tuple, list)) else first
            images = torch.cat([a, model.translate(a, "a2b")])
        else:
            n = self.options.num_samples if self.data.get("kind") != "points" else 2500
            if self.num_classes:  # one row per class
                per_class = max(1, n // self.num_classes)
                save_grid(model.class_grid(per_class, seed=self.options.seed).cpu(), path, nrow=per_class)
                return path
            images = model.sample(n, seed=self.options.seed)
        save_grid(images.cpu(), path)
        return path

    # ---- signals and progress -------------------------------------------------------------------

    def _install_signal_handlers(self):
        if threading.current_thread() is not threading.main_thread():
            return None
        def handler(signum, frame):
            self._signal = signum
        return {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}

    def _restore_signal_handlers(self, handlers) -> None:
        for s, h in (handlers or {}).items():
            signal.signal(s, h)

    def _stop_on_signal(self) -> None:
        self._flush_logs()
        path = self.save_checkpoint()
        name = signal.Signals(self._signal).name
        saved = f"saved {path}" if path else "rank 0 saved the checkpoint"
        raise TrainingInterrupted(f"{name} stopped the run at step {self.iteration} and {saved}; continue it with "
                                  f"`ganzoo train --resume {self.out}` (Python: ganzoo.train(out=..., resume=True))")

    def close(self) -> None:
        """Close the metrics log and release the run folder; safe to call twice."""
        if self.log is not None:
            self.log.close()
            self.log = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None


__all__ = ["Trainer", "TrainOptions", "TrainingInterrupted", "NonFiniteLossError", "resolve_device"]
