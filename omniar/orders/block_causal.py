"""Fixed-size groups in sequence order: the simplest block-causal order.

Each step produces `block_size` consecutive tokens from the previous block's tokens (bidirectional
inside a block). It shows that multi-token orders run on the same transformer and decode loop,
and is the skeleton next-patch and neighbor orders refine.
"""

from __future__ import annotations

import torch

from omniar.orders.base import Order, Step


class BlockCausalOrder(Order):
    """A 1D sequence of `length` tokens generated `block_size` at a time."""

    name = "block_causal"

    def __init__(self, length: int, block_size: int):
        if block_size < 1 or length < 1 or length % block_size:
            raise ValueError(f"length={length} must be a positive multiple of block_size={block_size}")
        self.length = length
        self.block_size = block_size

    @property
    def num_tokens(self) -> int:
        return self.length

    @property
    def num_axes(self) -> int:
        return 1

    def build_steps(self) -> list[Step]:
        blocks = torch.arange(self.length).view(-1, self.block_size)
        steps = [Step(torch.zeros(0, dtype=torch.long), blocks[0])]
        steps += [Step(blocks[i - 1], blocks[i]) for i in range(1, len(blocks))]
        return steps

    def token_positions(self) -> torch.Tensor:
        return torch.arange(self.length).float()[:, None]
