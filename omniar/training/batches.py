"""Deterministic, resumable batch order.

The trainer resumes a killed run exactly: the batch drawn at micro-step `m` depends only on the
seed and `m`, so a run restarted from a checkpoint sees the very batches it would have seen.
Each process takes every `world_size`-th batch, which shards data across GPUs without accelerate
rewrapping the loader (its wrapped samplers cannot start mid-epoch).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class ResumableBatchSampler(Sampler[list[int]]):
    """Endless shuffled batches of indices, starting at global micro-step `start_step`."""

    def __init__(
        self,
        dataset_size: int,
        batch_size: int,
        seed: int,
        start_step: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if dataset_size < 1:
            raise ValueError("the training data set is empty; expected at least one sample")
        self.dataset_size = dataset_size
        self.batch_size = batch_size
        self.seed = seed
        self.start_step = start_step
        self.rank = rank
        self.world_size = world_size

    @property
    def batches_per_epoch(self) -> int:
        """Global batches in one pass; the last short batch is dropped unless it is the only one."""
        return max(1, self.dataset_size // (self.batch_size * self.world_size)) * self.world_size

    def _epoch_order(self, epoch: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        order = torch.randperm(self.dataset_size, generator=generator)
        needed = self.batches_per_epoch * self.batch_size
        if needed > self.dataset_size:
            order = order.repeat((needed + self.dataset_size - 1) // self.dataset_size)
        return order[:needed]

    def __iter__(self) -> Iterator[list[int]]:
        step = self.start_step
        per_epoch = self.batches_per_epoch // self.world_size
        while True:
            epoch, within = divmod(step, per_epoch)
            order = self._epoch_order(epoch)
            for local in range(within, per_epoch):
                global_batch = local * self.world_size + self.rank
                start = global_batch * self.batch_size
                yield order[start : start + self.batch_size].tolist()
            step = (epoch + 1) * per_epoch
