"""Deterministic, resumable batches: which samples, and the random draws made reading them.

The trainer resumes a killed run exactly: the batch drawn at micro-step `m` depends only on the
seed and `m`, so a run restarted from a checkpoint sees the very batches it would have seen.
That covers the order (`ResumableBatchSampler`) and the randomness of reading a sample, such as
random crops or relabelling (`SeededBatchSampler` + `SeededDataset`: each batch is read under
generators seeded from its number, in the main process or in any data-loader worker).
Each process takes every `world_size`-th batch, which shards data across GPUs without accelerate
rewrapping the loader (its wrapped samplers cannot start mid-epoch).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import Dataset, Sampler

from omniar.training.rng import batch_seed, seeded_rng


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

    def numbered(self) -> Iterator[tuple[int, list[int]]]:
        """(global batch number over all epochs and processes, indices) from `start_step` on."""
        step = self.start_step
        per_epoch = self.batches_per_epoch // self.world_size
        while True:
            epoch, within = divmod(step, per_epoch)
            order = self._epoch_order(epoch)
            for local in range(within, per_epoch):
                global_batch = local * self.world_size + self.rank
                start = global_batch * self.batch_size
                yield epoch * self.batches_per_epoch + global_batch, order[start : start + self.batch_size].tolist()
            step = (epoch + 1) * per_epoch

    def __iter__(self) -> Iterator[list[int]]:
        for _, indices in self.numbered():
            yield indices


class SeededBatchSampler(Sampler[list[tuple[int, int]]]):
    """`batches`' index lists with every index paired with its batch's seed, for `SeededDataset`."""

    def __init__(self, batches: ResumableBatchSampler) -> None:
        self.batches = batches

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for number, indices in self.batches.numbered():
            seed = batch_seed(self.batches.seed, number)
            yield [(seed, index) for index in indices]


class SeededDataset(Dataset):
    """`dataset` read one batch at a time under python, numpy and torch generators seeded with
    the batch's seed (keys are `(seed, index)` pairs from `SeededBatchSampler`)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> Any:
        seed, index = key
        with seeded_rng(seed):
            return self.dataset[index]

    def __getitems__(self, keys: list[tuple[int, int]]) -> list[Any]:
        with seeded_rng(keys[0][0]):
            return [self.dataset[index] for _, index in keys]
