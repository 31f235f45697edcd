"""Next-patch prediction (NPP, "Next Patch Prediction for Autoregressive Visual Generation").

A training curriculum for raster models: early in training the (H, W) token grid is cut into
p x p patches, raster-ordered on the coarse (H/p, W/p) grid, and the transformer runs on patches
instead of tokens, so sequences are p^2 times shorter and steps are cheaper.

`NextPatchOrder(shape, p)` is that training order, expressed like any other order:

- the input slot of a patch is the mean of its p^2 token embeddings (the model's
  `pooled_tokens` input), with one rotary position per patch on the coarse grid. By default
  (`positions="centre"`) that position is the patch's centre in token units, (a p + (p-1)/2,
  b p + (p-1)/2) for patch (a, b), so a position means the same image place in every stage;
  `positions="coarse"` uses the patch indices (a, b). On the emoji model the indices did not
  transfer: training on 2x2 patches *raised* the single-token loss above chance (6.55 to 6.77
  nats over 300 steps of a small model), because after the switch a token at (i, j) reads as
  the patch at (i, j), twice as far from the origin; with centres the single-token loss fell
  with the patch loss (6.49 to 6.17 over 200 steps). Rotary embeddings take fractional
  positions, so centres cost nothing;
- step 0 predicts patch 0 from the last prefix slot; the slot of patch m predicts patch m + 1,
  and is trained against every token of it: its logits are repeated for the p^2 targets, so the
  ordinary cross-entropy of `autoregressive_loss` is the mean over the patch's tokens.

With p = 1 it is exactly the raster order. `NextPatchCurriculum` picks the patch size from the
fraction of training done (default 2 x 2 for the first half, single tokens after) and hands the
training task the order for each step; inference is plain raster, so the trained model is an
ordinary raster model.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import torch

from omniar.orders.base import Order, Step
from omniar.orders.raster import RasterOrder

PATCH_POSITIONS = ("centre", "coarse")


class NextPatchOrder(Order):
    """p x p patches of an (rows, cols) grid, one patch per step, one input slot per patch."""

    name = "next_patch"

    def __init__(self, shape: tuple[int, int] | list[int], patch_size: int,
                 positions: str = "centre"):
        shape = tuple(int(side) for side in shape)
        if len(shape) != 2 or min(shape) < 1:
            raise ValueError(f"next_patch shape must be (rows, cols) of positive ints, got {shape}")
        if patch_size < 1 or shape[0] % patch_size or shape[1] % patch_size:
            raise ValueError(f"patch_size={patch_size} must be >= 1 and divide the grid {shape}")
        if positions not in PATCH_POSITIONS:
            raise ValueError(f"next_patch positions must be one of {PATCH_POSITIONS}, got {positions!r}")
        self.shape = shape
        self.patch_size = int(patch_size)
        self.patch_positions = positions

    @property
    def num_tokens(self) -> int:
        return self.shape[0] * self.shape[1]

    @property
    def num_axes(self) -> int:
        return 2

    @property
    def tokens_per_patch(self) -> int:
        return self.patch_size**2

    @cached_property
    def patches(self) -> torch.Tensor:
        """(num_patches, p^2) token indices of each patch (rows of the patch in turn)."""
        p = self.patch_size
        rows, cols = self.shape
        grid = torch.arange(self.num_tokens).view(rows // p, p, cols // p, p)
        return grid.permute(0, 2, 1, 3).reshape(-1, p * p)

    def build_steps(self) -> list[Step]:
        patches = self.patches
        steps = [Step(torch.zeros(0, dtype=torch.long), patches[0])]
        steps += [Step(patches[m - 1], patches[m]) for m in range(1, len(patches))]
        return steps

    def token_positions(self) -> torch.Tensor:
        rows, cols = torch.meshgrid(
            torch.arange(self.shape[0]), torch.arange(self.shape[1]), indexing="ij"
        )
        p = self.patch_size
        coarse = torch.stack([rows.flatten(), cols.flatten()], dim=-1) // p
        if self.patch_positions == "coarse":
            return coarse.float()
        return coarse.float() * p + (p - 1) / 2

    def feed(
        self, tokens: torch.Tensor, indices: torch.Tensor, context: Any = None
    ) -> dict[str, torch.Tensor]:
        """Whole patches (`indices` are consecutive patches' tokens) as (B, patches, p^2[, K])."""
        group = self.tokens_per_patch
        if len(indices) % group:
            raise ValueError(f"{self.name}: fed indices must be whole patches of {group} tokens")
        return {"pooled_tokens": tokens[:, indices.to(tokens.device)].unflatten(1, (-1, group))}

    def _one_slot_per_patch(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        group = self.tokens_per_patch
        inputs["position_ids"] = inputs["position_ids"][:, ::group]
        inputs["ranks"] = inputs["ranks"][:, ::group]
        return inputs

    def step_inputs(
        self, tokens: torch.Tensor, step_index: int, context: Any = None
    ) -> dict[str, torch.Tensor]:
        return self._one_slot_per_patch(super().step_inputs(tokens, step_index, context))

    def teacher_forcing_inputs(
        self, tokens: torch.Tensor, context: Any = None
    ) -> dict[str, torch.Tensor]:
        return self._one_slot_per_patch(super().teacher_forcing_inputs(tokens, context))

    def step_logits(
        self, logits: torch.Tensor, step_index: int, output: Any = None
    ) -> torch.Tensor:
        last = logits[:, -1:]
        return last.expand(-1, self.tokens_per_patch, *last.shape[2:])

    def training_logits(
        self, logits: torch.Tensor, prefix_length: int, output: Any = None
    ) -> torch.Tensor:
        if prefix_length < 1:
            raise ValueError(f"{self.name}: the first patch is predicted from the prefix; feed it")
        slots = torch.arange(-1, len(self.patches) - 1, device=logits.device) + prefix_length
        return logits[:, slots.repeat_interleave(self.tokens_per_patch)]


class NextPatchCurriculum:
    """Patch size by training progress: `patch_sizes[i]` for a `fractions[i]` share of the steps.

    The default (2, 1) with (0.5, 0.5) is NPP's two-stage schedule: 2 x 2 patches for the first
    half of training, single tokens (plain raster) for the second. The last size must be 1, so
    training ends on the order the model is sampled with.
    """

    def __init__(
        self,
        shape: tuple[int, int] | list[int],
        patch_sizes: tuple[int, ...] | list[int] = (2, 1),
        fractions: tuple[float, ...] | list[float] = (0.5, 0.5),
        positions: str = "centre",
    ):
        patch_sizes, fractions = (
            tuple(int(p) for p in patch_sizes),
            tuple(float(f) for f in fractions),
        )
        if not patch_sizes or len(patch_sizes) != len(fractions):
            raise ValueError(
                f"next_patch: patch_sizes {patch_sizes} and fractions {fractions} must be "
                "non-empty and of the same length"
            )
        if min(fractions) <= 0 or abs(sum(fractions) - 1.0) > 1e-6:
            raise ValueError(
                f"next_patch: fractions must be positive and sum to 1, got {fractions}"
            )
        if patch_sizes[-1] != 1:
            raise ValueError(
                f"next_patch: the last patch size must be 1 (raster, as sampled), got {patch_sizes}"
            )
        self.shape = tuple(int(side) for side in shape)
        self.patch_sizes, self.fractions = patch_sizes, fractions
        self.orders: dict[int, Order] = {
            p: RasterOrder(self.shape) if p == 1 else NextPatchOrder(self.shape, p, positions)
            for p in set(patch_sizes)
        }

    @classmethod
    def from_recipe(
        cls, shape: tuple[int, int], options: dict[str, Any] | None
    ) -> NextPatchCurriculum:
        """From a recipe's `next_patch:` mapping (`patch_sizes`, `fractions`, `positions`; all
        optional)."""
        options = dict(options or {})
        unknown = sorted(set(options) - {"patch_sizes", "fractions", "positions"})
        if unknown:
            raise ValueError(
                f"next_patch: unknown key(s) {unknown}; expected patch_sizes, fractions, positions"
            )
        return cls(shape, **options)

    def patch_size_at(self, step: int, max_steps: int) -> int:
        """The patch side at 0-based optimiser `step` of `max_steps`."""
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        progress = step / max_steps
        boundary = 0.0
        for size, fraction in zip(self.patch_sizes, self.fractions):
            boundary += fraction
            if progress < boundary:
                return size
        return self.patch_sizes[-1]

    def stage_starts(self, max_steps: int) -> tuple[int, ...]:
        """The 0-based steps at which a new patch size takes over (none for the first stage)."""
        return tuple(
            step for step in range(1, max_steps)
            if self.patch_size_at(step, max_steps) != self.patch_size_at(step - 1, max_steps)
        )

    def order_at(self, step: int, max_steps: int) -> Order:
        """The training order at `step`: `NextPatchOrder`, or `RasterOrder` for 1 x 1 patches."""
        return self.orders[self.patch_size_at(step, max_steps)]
