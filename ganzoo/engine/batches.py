"""Batches in a reproducible order that can resume mid-epoch, sharded across DDP ranks.

Epoch e visits the data in a permutation drawn from (seed, e); the position (epoch, offset) is
all a checkpoint needs to continue with exactly the batches an uninterrupted run would see.
In-memory data sets (with a ``tensor`` attribute or a ``batch(indices)`` method) are indexed
directly; others go through a DataLoader with workers, fed by the same index stream. A
conditional run passes the data set's labels and gets (images, labels) batches.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset


class IndexStream:
    """Endless batches of dataset indices: per-epoch permutations, rank-sharded, last partial batch dropped."""

    def __init__(
        self, size: int, batch_size: int, seed: int, rank: int = 0, world: int = 1, epoch: int = 0, offset: int = 0
    ):
        per_rank = size // world
        if per_rank < batch_size:
            raise ValueError(
                f"the data set has {size} items: too few for batch size {batch_size}"
                + (f" on each of {world} processes" if world > 1 else "")
                + "; use a smaller --batch-size"
            )
        self.size, self.batch_size, self.seed, self.rank, self.world = size, batch_size, seed, rank, world
        self.batches_per_epoch = per_rank // batch_size
        self.epoch, self.offset = epoch, offset  # offset counts batches within the epoch

    def _shard(self, epoch: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        perm = torch.randperm(self.size, generator=g)
        return perm[self.rank : self.world * (self.size // self.world) : self.world]  # equal shards

    def __iter__(self) -> Iterator[torch.Tensor]:
        while True:
            shard = self._shard(self.epoch)
            while self.offset < self.batches_per_epoch:
                start = self.offset * self.batch_size
                self.offset += 1
                yield shard[start : start + self.batch_size]
            self.epoch, self.offset = self.epoch + 1, 0

    def position(self) -> dict[str, int]:
        return {"epoch": self.epoch, "offset": self.offset}


class _Replay:
    """A batch sampler that yields what an IndexStream yields, starting where it stands now."""

    def __init__(self, stream: IndexStream):
        self.stream = IndexStream(
            stream.size, stream.batch_size, stream.seed, stream.rank, stream.world, stream.epoch, stream.offset
        )

    def __iter__(self):
        for idx in self.stream:
            yield idx.tolist()


class Batches:
    """Iterator of real-data batches on ``device``; ``position()`` is exact even with prefetching workers.

    With ``labels`` (N,) each batch is ``(images, labels)``: the labels of exactly those images.
    """

    @classmethod
    def for_run(cls, dataset: Dataset, options: Any, device: torch.device, dist: Any, position: dict | None,
                labels: torch.Tensor | None) -> Batches:  # fmt: skip
        """The batches of a training run: the engine options' batch size, seed and workers, this rank's share."""
        return cls(dataset, options.batch_size, options.seed, device, rank=dist.rank, world=dist.world,
                   workers=options.workers, channels_last=options.channels_last, position=position,
                   labels=labels)  # fmt: skip

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        seed: int,
        device: torch.device,
        *,
        rank: int = 0,
        world: int = 1,
        workers: int = 0,
        channels_last: bool = False,
        position: dict | None = None,
        labels: torch.Tensor | None = None,
    ):
        pos = position or {"epoch": 0, "offset": 0}
        self.labels = labels
        self.stream = IndexStream(len(dataset), batch_size, seed, rank, world, pos["epoch"], pos["offset"])
        self.device = device
        self.channels_last = channels_last
        tensor = getattr(dataset, "tensor", None)
        whole_batch = getattr(dataset, "batch", None) or (tensor.__getitem__ if tensor is not None else None)
        if whole_batch is not None:  # in memory: index a batch at once, no loader
            self._it: Iterator[Any] = (self._labelled(whole_batch(idx), idx) for idx in self.stream)
        else:
            loader = DataLoader(
                dataset,
                batch_sampler=_Replay(self.stream),
                num_workers=workers,
                pin_memory=device.type == "cuda",
                persistent_workers=workers > 0,
                generator=torch.Generator().manual_seed(seed),
            )  # not the global RNG: resume stays exact
            self._it = self._track(iter(loader))

    def _track(self, it: Iterator[Any]) -> Iterator[Any]:
        counter = iter(self.stream)  # advances the recorded position one batch per batch consumed
        for batch in it:
            yield self._labelled(batch, next(counter))

    def _labelled(self, images: Any, idx: torch.Tensor) -> Any:
        return images if self.labels is None else (images, self.labels[idx])  # (B, C, H, W), (B,)

    def __next__(self) -> Any:
        epoch, offset = self.stream.epoch, self.stream.offset
        try:
            return self._to_device(next(self._it))
        except Exception:  # a batch that failed to load is not consumed: position() points at it, for a resume
            self.stream.epoch, self.stream.offset = epoch, offset
            raise

    def _to_device(self, batch: Any) -> Any:
        if isinstance(batch, (tuple, list)):
            return type(batch)(self._to_device(b) for b in batch)
        batch = batch.to(self.device, non_blocking=True)
        if self.channels_last and batch.dim() == 4:
            batch = batch.contiguous(memory_format=torch.channels_last)
        return batch

    def position(self) -> dict[str, int]:
        return self.stream.position()
