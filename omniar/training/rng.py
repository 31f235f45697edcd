"""Random streams that depend only on a seed: for data loading that resumes bit-identically.

The model's own randomness (dropout, condition dropout, input noise) draws from the global
generators, which accelerate saves and restores with each checkpoint. Data loading must not
touch those generators: a data-loader worker has its own, and a resumed run starts its workers
at another batch than an uninterrupted one. So every batch is read under generators seeded from
(run seed, batch number) alone, and the global ones are put back afterwards.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch


def batch_seed(seed: int, number: int) -> int:
    """A 32-bit seed for batch `number` of a run seeded with `seed`, mixed by numpy's SeedSequence."""
    return int(np.random.SeedSequence([seed % 2**63, number]).generate_state(1)[0])


@contextmanager
def seeded_rng(seed: int) -> Iterator[None]:
    """Run the block with python's, numpy's and torch's CPU generators seeded with `seed`,
    then restore their previous states (CUDA generators are left alone: data loading is on CPU)."""
    python_state, numpy_state, torch_state = random.getstate(), np.random.get_state(), torch.get_rng_state()
    random.seed(seed)
    np.random.seed(seed)
    torch.default_generator.manual_seed(seed)
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        torch.set_rng_state(torch_state)
