"""Several processes on one run (a torchrun launch): rank and world, the process group, and its end."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import torch
from torch import nn


class Distributed:
    """Rank and world of a torchrun launch (gloo on CPU, NCCL on GPU); a single process otherwise."""

    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.enabled = self.world > 1
        self.owns_group = False  # True when this object started the process group (and so ends it)

    def init(self, device: torch.device) -> None:
        """Join (or start) the process group for ``device``; a single process has none."""
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
        """Rank 0's ``flag`` on every rank: a refusal on rank 0 stops the others instead of leaving them waiting."""
        if not self.enabled:
            return flag
        import torch.distributed as dist

        value = torch.tensor([int(flag)], device=self.device)
        dist.broadcast(value, src=0)
        return bool(value.item())

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
