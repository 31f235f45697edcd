"""Raster order: one token per step, row by row (1D sequences and 2D grids)."""

from __future__ import annotations

import torch

from omniar.orders.base import Order, Step


class RasterOrder(Order):
    """Left-to-right, top-to-bottom; `shape` is (length,) for sequences or (rows, cols) for grids.

    Positions are the token's own coordinates (1D index or 2D row/column), so a 2D model uses
    axial rotary embeddings.
    """

    name = "raster"

    def __init__(self, shape: tuple[int, ...] | int):
        shape = (shape,) if isinstance(shape, int) else tuple(int(s) for s in shape)
        if len(shape) not in (1, 2) or min(shape) < 1:
            raise ValueError(f"raster shape must be (length,) or (rows, cols) of positive ints, got {shape}")
        self.shape = shape

    @property
    def num_tokens(self) -> int:
        return int(torch.tensor(self.shape).prod())

    @property
    def num_axes(self) -> int:
        return len(self.shape)

    def build_steps(self) -> list[Step]:
        empty = torch.zeros(0, dtype=torch.long)
        steps = [Step(empty, torch.tensor([0]))]
        steps += [Step(torch.tensor([i - 1]), torch.tensor([i])) for i in range(1, self.num_tokens)]
        return steps

    def token_positions(self) -> torch.Tensor:
        grids = torch.meshgrid(*[torch.arange(s) for s in self.shape], indexing="ij")
        return torch.stack([g.flatten() for g in grids], dim=-1).float()
