"""Batches in a reproducible order that can resume mid-epoch, sharded across DDP ranks.

Epoch e visits the data in a permutation drawn from (seed, e); the position (epoch, offset) is
all a checkpoint needs to continue with exactly the batches an uninterrupted run would see.
Ranks take interleaved shards (rank r: items r, r + W, ... of the permutation), so global batch k
of an epoch is items k*G to (k+1)*G - 1 of its permutation (G = batch x world) for every world size:
``carry_position`` moves a position to another batch or world size by the samples seen.
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


def carry_position(position: dict[str, int], size: int, old_global: int, new_global: int) -> tuple[dict, str]:
    """A data position in batches of ``old_global`` items, as one in batches of ``new_global``; and what it loses.

    The permutation of each epoch does not depend on the batch or world size, so the samples seen this
    epoch (offset x old_global) carry over; when they are not a whole number of new batches, the run
    goes back to the start of the batch they end in, and those samples are seen again.
    """
    if old_global == new_global:
        return dict(position), ""
    epoch, seen = position["epoch"], position["offset"] * old_global
    offset, extra = divmod(seen, new_global)
    if offset >= size // new_global:  # the epoch is over in the new batch size too
        return {"epoch": epoch + 1, "offset": 0}, ""
    note = f"; the last {extra} samples seen are seen again (not a whole batch of {new_global})" if extra else ""
    return {"epoch": epoch, "offset": offset}, note


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
        self._before: dict[str, int] | None = None  # the position before the last read, for unread()
        self.drawn = 0  # batches asked for (a throughput count: failed and unread ones included)
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
        self.drawn += 1
        self._before = self.stream.position()
        try:
            return self._to_device(next(self._it))
        except Exception:  # a batch that failed to load is not consumed: position() points at it, for a resume
            self.unread()
            raise

    def try_next(self) -> tuple[Any, Exception | None]:
        """The next batch and None, or None and the error reading it raised (``position()`` still points at it)."""
        try:
            return next(self), None
        except Exception as exc:
            return None, exc

    def unread(self) -> None:
        """Put the last batch back: ``position()`` points at it again (a run that stops before using it).

        Reading on is exact for data held in memory; a DataLoader's workers have fetched on, so after
        this a loader-backed iterator is only for a checkpoint's position (the run is stopping).
        """
        pos = self._before or self.stream.position()
        self.stream.epoch, self.stream.offset = pos["epoch"], pos["offset"]

    def _to_device(self, batch: Any) -> Any:
        if isinstance(batch, (tuple, list)):
            return type(batch)(self._to_device(b) for b in batch)
        batch = batch.to(self.device, non_blocking=True)
        if self.channels_last and batch.dim() == 4:
            batch = batch.contiguous(memory_format=torch.channels_last)
        return batch

    def position(self) -> dict[str, int]:
        return self.stream.position()
