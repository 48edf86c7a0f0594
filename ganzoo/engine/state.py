"""What a run trains and checkpoints: networks, EMA, optimizers, the fp16 scaler and the step's own state.

``TrainingState`` builds them from the model and the engine options, sets the learning rates each
iteration, and turns them into a checkpoint's tensors and header and back (exactly: a resumed run
continues bit for bit where the uninterrupted one would be).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import __version__, tricks
from . import checkpoint as ckpt
from .device import precision_note, use_fast_kernels
from .ema import EMA
from .step import Step, StepContext


class TrainingState:
    """The trained pieces of one run: ``nets`` (unwrapped), ``step``, ``optimizers``, ``ema`` and ``scaler``."""

    def __init__(self, model: Any, options: Any, device: torch.device, world: int = 1):
        """Move ``model``'s networks to ``device`` (4D weights channels_last when asked), then build the rest.

        ``world``: the number of processes training it (a checkpoint records it beside the batch size).
        """
        memory = torch.channels_last if options.channels_last else torch.contiguous_format
        model.nets.to(device)
        for net in model.nets.values():
            if any(p.dim() == 4 for p in net.parameters()):
                net.to(memory_format=memory)
        self.variant = model.variant.name
        self.nets: dict[str, nn.Module] = dict(model.nets.items())
        self.step: Step = model.variant.load_step()(model.config)
        self.optimizers = self.step.optimizers(self.nets)
        for opt in self.optimizers.values():
            for group in opt.param_groups:
                group.setdefault("initial_lr", group["lr"])
            use_fast_kernels(opt)
        self.schedules = type(self.step).lr_factor is not Step.lr_factor
        name = self.step.ema_net
        self.ema = EMA(self.nets[name], name) if options.ema > 0 and name else None
        self.ema_option = options.ema
        self._task, self._seed, self._batch_size, self._device = model.task, options.seed, options.batch_size, device
        self._config, self._world = model.config, world
        self.scaler = torch.amp.GradScaler(device.type) if options.precision == "fp16" else None

    def context(self, models: dict[str, nn.Module], next_batch: Any, autocast: Any) -> StepContext:
        """What the step sees each iteration: ``models`` (wrapped for DDP/compile) beside these pieces."""
        return StepContext(models, self.nets, self.optimizers, self._config, self._device, self.scaler, next_batch,
                           autocast, task=self._task)  # fmt: skip

    def sampling_model(self, model: Any, iteration: int) -> Any:
        """``model``'s variant with the networks trained now, the EMA in place of the network it averages."""
        nets = dict(self.nets)
        if self.ema is not None:
            self.refresh_ema(iteration)
            nets[self.ema.name] = self.ema.net
        return type(model)(model.variant, model.config, nets, classes=model.classes)

    def start_iteration(self, iteration: int, total: int) -> None:
        """Set the step's learning-rate schedule for ``iteration`` of ``total`` and clear the gradients."""
        if self.schedules:
            factor = self.step.lr_factor(iteration, total)
            for opt in self.optimizers.values():
                for group in opt.param_groups:
                    group["lr"] = group["initial_lr"] * factor
        for opt in self.optimizers.values():
            opt.zero_grad(set_to_none=True)

    def update_ema(self, iteration: int, images_per_step: int) -> None:
        """Move the EMA (when there is one) toward its network after an iteration."""
        if self.ema is not None:
            decay = self.step.ema_decay(iteration, images_per_step, self.ema_option)
            self.ema.update(self.nets[self.ema.name], decay)

    def refresh_ema(self, iteration: int) -> None:
        """Give the EMA (when there is one) batch-norm statistics of its own outputs, for sampling and checkpoints."""
        if self.ema is not None:
            self.ema.refresh_statistics(
                self._task, seed=self._seed, batch_size=self._batch_size, device=self._device, iteration=iteration
            )

    def summary(self) -> str:
        """The discriminator tricks' state for the end-of-run line ("ADA p 0.213, r_t 0.61"), or ""."""
        return tricks.summary(self.nets)

    def capture(self, iteration: int, train_seconds: float, position: dict[str, int]) -> tuple[dict, dict]:
        """The checkpoint's tensors and header at ``iteration``, with the data ``position``."""
        ema = self.ema.net if self.ema is not None else None
        tensors, parts = ckpt.state_tensors(self.nets, ema, self.optimizers, self.step.state_tensors())
        tensors.update({f"{ckpt.TRICKS_PREFIX}{k}": v for k, v in tricks.state_tensors(self.nets).items()})
        header = {
            "iteration": iteration,
            "train_seconds": train_seconds,
            "data": position,
            "layout": {"world_size": self._world, "batch_size": self._batch_size},  # what a resume resizes from
            **parts,
            "scaler": self.scaler.state_dict() if self.scaler else None,
            "variant": self.variant,
            "ganzoo_version": __version__,
            "ema_net": self.ema.name if self.ema is not None else None,
        }
        return tensors, header

    def restore(
        self, path: Path, tensors: dict[str, torch.Tensor], header: dict[str, Any], device: torch.device
    ) -> None:
        """Load a checkpoint (read and verified by the run folder) into the pieces; the header says where it stood."""
        if header.get("variant") != self.variant:
            raise ValueError(f"checkpoint {path} is of variant {header.get('variant')!r}, not {self.variant!r}")
        start = len(ckpt.TRICKS_PREFIX)  # the tricks' state first: a damaged one is refused before the networks load
        saved = {k[start:]: v for k, v in tensors.items() if k.startswith(ckpt.TRICKS_PREFIX)}
        tricks.load_state_tensors(self.nets, saved, device, path)
        ema = self.ema.net if self.ema is not None else None
        step_state = ckpt.load_state(tensors, header, path, self.nets, ema, self.optimizers, self.ema_option)
        if self.scaler is not None and header.get("scaler"):
            self.scaler.load_state_dict(header["scaler"])
        self.step.load_state_tensors({k: v.to(device) for k, v in step_state.items()})


def run_record(model: Any, data: dict[str, Any], options: Any, world: int, device: torch.device) -> dict[str, Any]:
    """The run record that config.json holds: what a resume rebuilds the run from (and how it ran)."""
    record = {"ganzoo_version": __version__, "variant": model.variant.name, "plugin": model.variant.plugin,
              "config": model.config_dict(), "networks": list(model.nets), "data": data,
              "engine": dataclasses.asdict(options), "world_size": world}  # fmt: skip
    note = precision_note(options.precision, device)
    if note:  # the precision ran emulated on this device: far slower than fp32 there
        record["precision_note"] = note
    return record
