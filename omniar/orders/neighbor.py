"""Neighbor order (NAR, "Neighboring Autoregressive Modeling for Efficient Visual Generation").

Step t produces every token of the anti-diagonal i + j = t of an (H, W) grid, so decoding takes
H + W - 1 forward passes (1 prefill + 2n - 2 steps for n x n) instead of H * W. At step t >= 1 the
tokens of diagonal t - 1 are fed, all with rank t: each token attends to its own and earlier
diagonals. Tokens keep the raster layout (index i * W + j) and their (i, j) coordinates.

Two heads predict the next diagonal from the fed one: the model's main head is the horizontal
head, whose output at (i, j) predicts the right neighbour (i, j + 1); the vertical head
(`AutoregressiveModel(vertical_head_layers=1)`: one extra transformer block + norm + head over
the trunk output) predicts the neighbour below, (i + 1, j). The logits of token (i, j) are the
mean of the horizontal logits from (i, j - 1) and the vertical logits from (i - 1, j) (a product
of the two experts' distributions, renormalised); on the first row only the horizontal one
exists, on the first column only the vertical one, and (0, 0) is read from the last prefix slot
with the main head. The same rule gives the teacher-forced training logits and the per-step
decoding logits.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import torch

from omniar.orders.base import Order, Step


@dataclass(frozen=True)
class NeighborSources:
    """For each target: the slot of its left neighbour (horizontal head) and of the one above
    (vertical head), with 0/1 weights saying which of the two exist."""

    horizontal_slots: torch.Tensor
    vertical_slots: torch.Tensor
    horizontal_weight: torch.Tensor
    vertical_weight: torch.Tensor

    def mix(
        self, horizontal: torch.Tensor, vertical: torch.Tensor | None, offset: int = 0
    ) -> torch.Tensor:
        """Per-target logits from the two heads' logits over the fed slots (+ `offset`)."""
        device = horizontal.device
        from_left = horizontal[:, self.horizontal_slots.to(device) + offset]
        if not bool(self.vertical_weight.any()):
            return from_left
        if vertical is None:
            raise ValueError(
                "neighbor order: the model has no vertical head; build it with "
                "AutoregressiveModel(vertical_head_layers=1)"
            )
        from_above = vertical[:, self.vertical_slots.to(device) + offset]
        shape = (1, -1) + (1,) * (from_left.ndim - 2)
        w_left = self.horizontal_weight.to(device, from_left.dtype).view(shape)
        w_above = self.vertical_weight.to(device, from_left.dtype).view(shape)
        return (w_left * from_left + w_above * from_above) / (w_left + w_above)


class NeighborOrder(Order):
    """Anti-diagonals of an (rows, cols) token grid, one per step."""

    name = "neighbor"

    def __init__(self, shape: tuple[int, int] | list[int]):
        shape = tuple(int(side) for side in shape)
        if len(shape) != 2 or min(shape) < 1:
            raise ValueError(f"neighbor shape must be (rows, cols) of positive ints, got {shape}")
        self.shape = shape

    @property
    def num_tokens(self) -> int:
        return self.shape[0] * self.shape[1]

    @property
    def num_axes(self) -> int:
        return 2

    @cached_property
    def diagonals(self) -> list[torch.Tensor]:
        """Token indices of each anti-diagonal, top row first."""
        rows, cols = self.shape
        return [
            torch.tensor(
                [i * cols + (d - i) for i in range(max(0, d - cols + 1), min(rows, d + 1))]
            )
            for d in range(rows + cols - 1)
        ]

    def build_steps(self) -> list[Step]:
        steps = [Step(torch.zeros(0, dtype=torch.long), self.diagonals[0])]
        steps += [
            Step(self.diagonals[t - 1], self.diagonals[t]) for t in range(1, len(self.diagonals))
        ]
        return steps

    def token_positions(self) -> torch.Tensor:
        rows, cols = torch.meshgrid(
            torch.arange(self.shape[0]), torch.arange(self.shape[1]), indexing="ij"
        )
        return torch.stack([rows.flatten(), cols.flatten()], dim=-1).float()

    def _sources(self, targets: torch.Tensor, slot_of: dict[int, int]) -> NeighborSources:
        """Sources of `targets` given the slot of each fed token (-1: the last prefix slot)."""
        cols = self.shape[1]
        slots = {"h": [], "v": [], "wh": [], "wv": []}
        for index in targets.tolist():
            i, j = divmod(index, cols)
            left, above = (index - 1 if j > 0 else None), (index - cols if i > 0 else None)
            if left is None and above is None:
                left = -1
            slots["h"].append(slot_of[left] if left is not None else 0)
            slots["v"].append(slot_of[above] if above is not None else 0)
            slots["wh"].append(float(left is not None))
            slots["wv"].append(float(above is not None))
        return NeighborSources(
            torch.tensor(slots["h"]),
            torch.tensor(slots["v"]),
            torch.tensor(slots["wh"]),
            torch.tensor(slots["wv"]),
        )

    @cached_property
    def training_sources(self) -> NeighborSources:
        """Sources of `plan.target_indices`, as slots of the fed sequence after the prefix."""
        slot_of = {int(index): slot for slot, index in enumerate(self.plan.feed_indices.tolist())}
        slot_of[-1] = -1
        return self._sources(self.plan.target_indices, slot_of)

    @cached_property
    def step_sources(self) -> list[NeighborSources]:
        """Sources of each step's targets, as slots of that step's fed tokens (step 0: prefix)."""
        sources = []
        for step in self.steps:
            slot_of = {int(index): slot for slot, index in enumerate(step.inputs.tolist())}
            slot_of[-1] = -1
            sources.append(self._sources(step.targets, slot_of))
        return sources

    def step_logits(
        self, logits: torch.Tensor, step_index: int, output: Any = None
    ) -> torch.Tensor:
        vertical = getattr(output, "vertical_logits", None)
        return self.step_sources[step_index].mix(
            logits, vertical, offset=logits.shape[1] if step_index == 0 else 0
        )

    def training_logits(
        self, logits: torch.Tensor, prefix_length: int, output: Any = None
    ) -> torch.Tensor:
        if prefix_length < 1:
            raise ValueError(f"{self.name}: the first token is predicted from the prefix; feed it")
        vertical = getattr(output, "vertical_logits", None)
        return self.training_sources.mix(logits, vertical, offset=prefix_length)
