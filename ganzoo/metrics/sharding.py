"""Evaluation over every process of a torchrun launch: each rank takes a contiguous share, rank 0's order comes back.

``evaluate()`` in a process group draws its share of the samples and extracts its share of the features;
``gather_rows`` puts the shares back together in order on every rank, so every metric sees the tensors one
process would have made, and gives the same numbers (up to float summation order). In one process every
helper here is the identity.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import torch


def rank_world() -> tuple[int, int]:
    """(rank, world size) of the process group, or (0, 1) without one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    """This process writes and prints: rank 0, or the only process."""
    return rank_world()[0] == 0


def share(n: int, rank: int, world: int) -> tuple[int, int]:
    """Rows [start, stop) of ``n`` for ``rank`` of ``world``: contiguous, in rank order, sizes within 1."""
    return n * rank // world, n * (rank + 1) // world


def gather_rows(local: torch.Tensor, n: int) -> torch.Tensor:
    """Every rank's share (rows ``share(n, r, world)`` of a whole) concatenated in rank order, on every rank."""
    _, world = rank_world()
    if world == 1:
        return local
    return _gather(local, [share(n, r, world)[1] - share(n, r, world)[0] for r in range(world)])


def _gather(local: torch.Tensor, counts: list[int]) -> torch.Tensor:
    """All ranks' ``local`` rows (``counts[r]`` from rank r) concatenated in rank order, on ``local``'s device."""
    import torch.distributed as dist

    device = _comm_device()
    padded = torch.zeros((max(counts), *local.shape[1:]), dtype=local.dtype, device=device)  # equal sizes to gather
    padded[: local.shape[0]] = local.to(device)
    parts = [torch.empty_like(padded) for _ in counts]
    dist.all_gather(parts, padded)
    return torch.cat([part[:count] for part, count in zip(parts, counts)]).to(local.device)


def _comm_device() -> torch.device:
    """Where the process group's collectives take tensors: CUDA for NCCL, the CPU for gloo."""
    import torch.distributed as dist

    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def on_main(action: Callable[[], Any], what: str) -> Any:
    """Rank 0's ``action()`` while the other ranks wait (None there); when it fails, every rank stops."""
    import torch.distributed as dist

    rank, world = rank_world()
    if world == 1:
        return action()
    result, error = None, None
    if rank == 0:
        try:
            result = action()
        except Exception as exc:
            error = exc
    failed = torch.tensor([int(error is not None)], device=_comm_device())
    dist.broadcast(failed, src=0)
    if error is not None:
        raise error
    if failed.item():
        raise RuntimeError(f"rank 0 failed {what}; its error says why")
    return result


def single_process_env() -> dict[str, str]:
    """This process's environment without torchrun's variables: a child process started with it runs alone."""
    launch = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK", "GROUP_WORLD_SIZE", "ROLE_RANK",
              "ROLE_WORLD_SIZE", "ROLE_NAME", "MASTER_ADDR", "MASTER_PORT")  # fmt: skip
    return {k: v for k, v in os.environ.items() if k not in launch and not k.startswith("TORCHELASTIC_")}


def sharded(compute: Callable[[torch.Tensor], Any], rows: torch.Tensor) -> Any:
    """``compute(rows)`` (a tensor, or a dict of them, one output row per input row), each rank doing its share.

    Fewer rows than ranks: every rank computes them all (a rank with none could not say the output's shape).
    """
    rank, world = rank_world()
    if world == 1 or rows.shape[0] < world:
        return compute(rows)
    start, stop = share(rows.shape[0], rank, world)
    out = compute(rows[start:stop])
    if isinstance(out, dict):
        return {key: gather_rows(value, rows.shape[0]) for key, value in out.items()}
    return gather_rows(out, rows.shape[0])


def sample(model: Any, n: int, *, seed: int, labels: Any, batch_size: int) -> torch.Tensor:
    """``model.sample(n, seed=..., labels=..., batch_size=...)`` on the CPU, each rank generating its share of batches.

    Every rank draws the whole seeded noise stream (cheap) and runs the generator only on its batches, so
    sample i gets the same z, and the same image, whatever the number of processes.
    """
    rank, world = rank_world()
    if world == 1:
        return model.sample(n, seed=seed, labels=labels, batch_size=batch_size).cpu()
    batches = -(-n // batch_size)
    first, last = share(batches, rank, world)
    shard = _ShardG(model.nets["G"], range(first, last))
    view = type(model)(model.variant, model.config, {**dict(model.nets.items()), "G": shard}, classes=model.classes)
    mine = [b.cpu() for i, b in enumerate(view.sample_batches(n, seed=seed, labels=labels, batch_size=batch_size))
            if first <= i < last]  # fmt: skip
    local = torch.cat(mine) if mine else torch.empty((0, *model.output_shape()))  # an idle rank: no batch
    counts = [min(n, share(batches, r, world)[1] * batch_size) - min(n, share(batches, r, world)[0] * batch_size)
              for r in range(world)]  # fmt: skip
    return _gather(local, counts)


class _ShardG(torch.nn.Module):
    """The generator, run only on the batches in ``keep`` (counted per call); a placeholder for the others."""

    def __init__(self, G: torch.nn.Module, keep: range):
        super().__init__()
        self.G, self.keep, self.calls = G, keep, 0
        self.train(G.training)  # sampling restores this mode, and so the generator's

    def forward(self, z: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        index, self.calls = self.calls, self.calls + 1
        return self.G(z, *args, **kwargs) if index in self.keep else z.new_zeros(z.shape[0])

    def __getattr__(self, name: str) -> Any:  # latent_shape, truncation_space, ...: the generator's own
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["G"], name)


@contextlib.contextmanager
def session() -> Iterator[None]:
    """Under torchrun (WORLD_SIZE > 1): a process group (NCCL with CUDA, else gloo) for the block, ended after it."""
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        yield
        return
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if cuda else "gloo")
    try:
        yield
        dist.barrier()
    finally:
        dist.destroy_process_group()
