"""Several processes on one run (a torchrun launch, on one machine or several): rank and world, the
process group, the vote that stops every rank together, every rank's RNG streams, and the group's end.

Only global rank 0 (``RANK``, not ``LOCAL_RANK``: on two machines both have a local rank 0) writes
the run folder. Each iteration starts with one all-reduce of three integers (a signal caught, a batch
that failed to load, the time budget spent), so every rank stops at the same iteration with the same
message; a resume on another number of processes goes through ``WorldChange``.
"""

from __future__ import annotations

import dataclasses
import os
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .batches import carry_position

TEXT_BYTES = 1024  # the longest error text one rank sends the others when its data failed


@dataclass
class Stop:
    """What every rank agreed on before an iteration; false when the run goes on."""

    signal: int | None = None  # SIGINT/SIGTERM that some rank caught
    error: Exception | None = None  # a batch that some rank failed to read (its text, on every rank)
    budget: bool = False  # some rank's --budget ran out

    def __bool__(self) -> bool:
        return self.signal is not None or self.error is not None or self.budget


class Distributed:
    """Rank and world of a torchrun launch (gloo on CPU, NCCL on GPU); a single process otherwise."""

    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.enabled = self.world > 1
        self.owns_group = False  # True when this object started the process group (and so ends it)
        self.votes: Any = None  # the group for host-side votes: the default one, or a gloo one beside NCCL

    def init(self, device: torch.device) -> None:
        """Join (or start) the process group for ``device``; a single process has none."""
        import torch.distributed as dist

        self.device = device
        if self.enabled and not dist.is_initialized():
            if device.type == "cuda":
                torch.cuda.set_device(device)
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
            self.owns_group = True
        if self.enabled and dist.get_backend() != "gloo":  # votes and RNG states stay on the host: no device sync
            self.votes = dist.new_group(backend="gloo")

    def shutdown(self) -> None:
        """After a finished run or an agreed stop: wait for every rank, then end the process group this object started.

        This is PyTorch's documented shutdown; the barrier keeps ranks from tearing down while
        rank 0 still writes. Not called after an error that only some ranks raised: a barrier
        that a failed rank never reaches would hang.
        """
        import torch.distributed as dist

        if self.owns_group and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()
            self.owns_group = False

    def broadcast_flag(self, flag: bool) -> bool:
        """Rank 0's ``flag`` on every rank: a refusal on rank 0 stops the others instead of leaving them waiting."""
        if not self.enabled:
            return flag
        import torch.distributed as dist

        value = torch.tensor([int(flag)], device=self.device)
        dist.broadcast(value, src=0)
        return bool(value.item())

    def agree_to_stop(self, signal: int | None, error: Exception | None, over_budget: bool) -> Stop:
        """Whether any rank must stop now, agreed by every rank: one all-reduce (MAX) of three integers.

        ``error``: this rank's failed read of its batch. When some rank's read failed, its text goes to
        every rank, so each one stops with the same message naming that rank.
        """
        if not self.enabled:
            return Stop(signal, error, over_budget)
        import torch.distributed as dist

        failed = self.rank + 1 if error is not None else 0
        votes = torch.tensor([signal or 0, failed, int(over_budget)], dtype=torch.int64)
        dist.all_reduce(votes, op=dist.ReduceOp.MAX, group=self.votes)
        signum, failed, budget = (int(v) for v in votes.tolist())
        stop = Stop(signum or None, None, bool(budget))
        if failed:
            text = self._broadcast_text(_last_line(error) if error is not None else "", failed - 1)
            stop.error = RuntimeError(f"[rank {failed - 1} of {self.world}] {text}")
            stop.error.__cause__ = error  # this rank's own error, where it failed here
        return stop

    def _broadcast_text(self, text: str, src: int) -> str:
        """Rank ``src``'s ``text`` (up to TEXT_BYTES bytes of UTF-8) on every rank."""
        import torch.distributed as dist

        raw = text.encode()[:TEXT_BYTES]
        data = torch.zeros(TEXT_BYTES, dtype=torch.uint8)
        data[: len(raw)] = torch.frombuffer(bytearray(raw), dtype=torch.uint8) if raw else 0
        dist.broadcast(data, src=src, group=self.votes)
        return bytes(data.tolist()).rstrip(b"\0").decode(errors="replace")

    def gather_rng(self) -> dict[str, torch.Tensor]:
        """Every other rank's RNG streams as checkpoint tensors ``rng.rank.R.*`` (all ranks call it); {} in one process.

        Rank 0's streams are the checkpoint's own ``rng.*``; with these a resume on as many processes
        restores every rank's noise exactly.
        """
        if not self.enabled:
            return {}
        import torch.distributed as dist

        tensors = {}
        for name, mine in rng_streams(self.device).items():
            parts = [torch.empty_like(mine) for _ in range(self.world)]
            dist.all_gather(parts, mine, group=self.votes)
            tensors.update({f"rng.rank.{r}.{name}": part for r, part in enumerate(parts) if r})
        return tensors

    def restore_rng(self, tensors: dict[str, torch.Tensor], seed: int, iteration: int) -> None:
        """After a checkpoint's load (which set rank 0's streams everywhere): this rank's own streams.

        A rank the checkpoint has streams for gets them back exactly; a rank it has none for (a run
        that had fewer processes, or a checkpoint from before they were kept) is reseeded from the
        seed, its rank and the iteration.
        """
        if not self.rank:
            return
        prefix = f"rng.rank.{self.rank}."
        mine = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        if not mine:
            torch.manual_seed(seed + 7919 * self.rank + iteration)
            random.seed(seed + self.rank + 7919 * iteration)
            return
        torch.set_rng_state(mine["torch"])
        values = [int(v) for v in mine["python"].tolist()]
        has_gauss, gauss = mine["gauss"].tolist()
        random.setstate((values[0], tuple(values[1:]), gauss if has_gauss else None))
        if "cuda" in mine and self.device.type == "cuda":
            torch.cuda.set_rng_state(mine["cuda"], self.device)

    def on_main(self, action: Callable[[], Any], what: str) -> Any:
        """Rank 0's ``action()`` (None on the others); when it raises, every rank stops instead of waiting."""
        result, refusal = None, None
        if self.is_main:
            try:
                result = action()
            except Exception as exc:
                refusal = exc
        if self.broadcast_flag(refusal is not None) and refusal is None:
            raise RuntimeError(f"rank 0 refused {what}; its error says why")
        if refusal is not None:
            raise refusal
        return result

    def sync_buffers(self, nets: dict[str, nn.Module]) -> None:
        """DDP syncs batch-norm statistics at each forward; the last forward leaves ranks apart, so align them."""
        if self.enabled:
            import torch.distributed as dist

            for net in nets.values():
                for buffer in net.buffers():
                    dist.broadcast(buffer, src=0)

    def wrap(self, net: nn.Module) -> nn.Module:
        """``net`` in DistributedDataParallel when several processes train it; as it is otherwise."""
        if not self.enabled or not any(p.requires_grad for p in net.parameters()):
            return net
        from torch.nn.parallel import DistributedDataParallel as DDP

        return DDP(net, device_ids=[self.device.index] if self.device.type == "cuda" else None)

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _ranks(first: int, last: int) -> str:
    return f"rank {first}" if first == last else f"ranks {first}-{last}"


def _last_line(exc: Exception) -> str:
    """An error's cause in one line: a DataLoader worker's error ends with it."""
    text = str(exc).strip()
    return text.splitlines()[-1] if text else type(exc).__name__


def rng_streams(device: torch.device) -> dict[str, torch.Tensor]:
    """This process's RNG states as host tensors: torch, Python's ``random`` (and gauss), CUDA on a GPU."""
    version, values, gauss = random.getstate()
    streams = {
        "torch": torch.get_rng_state(),
        "python": torch.tensor([version, *values], dtype=torch.int64),
        "gauss": torch.tensor([gauss is not None, gauss or 0.0], dtype=torch.float64),
    }
    if device.type == "cuda":
        streams["cuda"] = torch.cuda.get_rng_state(device)
    return streams


class WorldChange:
    """A resume on another number of processes (or batch size): the batch each process takes, the data
    position carried over by the samples seen, and what changed, in words and in the run's record.

    The global batch (batch x processes) is kept when it divides by the new number of processes and
    ``--batch-size`` was not changed; otherwise the per-process batch is kept and the global one changes.
    """

    def __init__(self, old: dict[str, int], options: Any, dist: Distributed, changes: dict[str, Any]):
        self.old_global = old["batch_size"] * old["world_size"]
        batch, world, was = options.batch_size, dist.world, old["world_size"]
        chosen = "batch_size" in changes.get("engine", {})
        if world != was and not chosen and self.old_global % world == 0:
            batch = self.old_global // world
        self.options = dataclasses.replace(options, batch_size=batch)
        self.new_global = batch * world
        self.changes, self.note, self._dist = changes, "", dist
        if world != was:
            changes["world_size"] = world
            if batch != options.batch_size:
                changes.setdefault("engine", {})["batch_size"] = batch
            kept = "kept" if self.new_global == self.old_global else f"was {self.old_global}"
            rest = f"{_ranks(was, world - 1)} seeded anew" if world > was else f"{_ranks(world, was - 1)} dropped"
            self.note = (
                f"resuming with {world} process{'es' if world > 1 else ''}, not {was}: batch {batch} per process "
                f"(global batch {self.new_global}, {kept}); "
                f"RNG streams of {_ranks(0, min(world, was) - 1)} restored, those of {rest}"
            )

    @classmethod
    def of_run(cls, folder: Any, options: Any, dist: Distributed, changes: dict[str, Any]) -> WorldChange:
        """The change from the world size and batch of the run's newest checkpoint (its record's, for an older one)."""
        from .checkpoint import CorruptCheckpointError, read_header

        try:
            old = read_header(folder.find_checkpoint()).get("layout")
        except CorruptCheckpointError:  # the full read that follows names the problem and the fix
            old = None
        if not isinstance(old, dict):  # written before checkpoints held it: the run record's values
            record = folder.read_record()
            old = {"world_size": int(record.get("world_size", 1)), "batch_size": int(record["engine"]["batch_size"])}
        return cls(old, options, dist, changes)

    def position(self, position: dict[str, int], size: int) -> dict[str, int]:
        """The checkpoint's data position in this run's global batch; said (with the change) on rank 0."""
        carried, lost = carry_position(position, size, self.old_global, self.new_global)
        if self.note:
            seen = position["offset"] * self.old_global
            self.note += (
                f"; data: epoch {carried['epoch']}, {seen} samples of its permutation seen, on at global "
                f"batch {carried['offset']}{lost}"
            )
            self.changes["world_change"] = self.note
            if self._dist.is_main and self.options.progress != "off":
                print(f"note: {self.note}", file=sys.stderr, flush=True)
        return carried


def end_finished_rank() -> None:
    """Exit 0 now, skipping the interpreter's teardown: a rank of a finished torchrun run; no-op in one process.

    Call it only after a run that finished: every file is written and the engine has ended the
    process group after all ranks finished. At interpreter exit, gloo's background threads can
    still abort torch's C++ teardown ("terminate called without an active exception"), and
    torchrun would then report a failure for a complete run; os._exit skips that teardown.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
