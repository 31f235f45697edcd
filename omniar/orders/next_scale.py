"""Next-scale order (VAR, Tian et al. 2024): one whole scale of tokens per step, coarse to fine.

Layout: the code maps of all scales, each flattened row-major, concatenated coarse to fine, so a
sample is (sum_k s_k^2,) tokens (130 for scales 1, 2, 3, 4, 6, 8); `flatten_scales` and
`split_scales` convert to and from a multi-scale tokenizer's list of (B, s, s) maps.

Schedule: step 0 predicts scale 0 (which must be 1 x 1) from the last slot of the condition
prefix; step k >= 1 feeds the s_k^2 slots of scale k and predicts scale k's codes from them. The
slots of one step share a rank, so attention is full inside a scale and causal across scales.

Inputs (as in VAR): slot (i, j) of scale k is not fed a token but the tokenizer's accumulated
feature map after scales 0..k-1, area-downsampled to s_k x s_k, at (i, j)
(`MultiScaleVQTokenizer.next_scale_inputs`), as the model's continuous `features`. `feed` builds
them from the codes with the tokenizer handed in as `context`, both for teacher forcing and at
decode time, where only the scales produced so far are read.

Positions: scale-aware 2D coordinates, the centre of cell (i, j) of scale k measured on the finest
grid, ((i + 1/2) S / s_k - 1/2, (j + 1/2) S / s_k - 1/2) with S the finest side. The finest scale
sits on the raster grid's integer coordinates and a coarse cell at the centre of the fine cells
it covers, so 2D RoPE relates cells across scales by where they are in the image.
Level embedding: RoPE is relative and cannot tell which scale a slot belongs to, while residual
codes of different scales have different statistics, so each fed feature vector also carries a
one-hot of its scale index (K extra channels). The column of the model's `feature_proj` for scale
k is then a learned per-scale embedding (VAR's `lvl_embed`) without any model change; the model is
built with `input_dim = latent_channels + K` (`feature_dim`).

Absolute positions: `feed` also gives each slot its token index as `position_index`, for models
with a learned position table (VAR's 680 slots for scales 1..16: the prefix, which predicts
scale 0, takes row 0, and the slot of token i row i); models without a table ignore it.
"""

from __future__ import annotations

import itertools
from functools import cached_property
from typing import Any

import torch
import torch.nn.functional as F

from omniar.orders.base import Order, Step


def flatten_scales(codes_list: list[torch.Tensor]) -> torch.Tensor:
    """A multi-scale tokenizer's list of (B, s, s) code maps as (B, sum s^2) token rows."""
    return torch.cat([codes.flatten(1) for codes in codes_list], dim=1)


def split_scales(tokens: torch.Tensor, scales: tuple[int, ...] | list[int]) -> list[torch.Tensor]:
    """(B, sum s^2) token rows back to one (B, s, s) code map per scale side in `scales`."""
    sizes = [side * side for side in scales]
    if tokens.ndim != 2 or tokens.shape[1] != sum(sizes):
        raise ValueError(
            f"tokens: expected shape (batch, {sum(sizes)}) for scales {tuple(scales)}, "
            f"got {tuple(tokens.shape)}"
        )
    parts = tokens.split(sizes, dim=1)
    return [part.reshape(tokens.shape[0], side, side) for part, side in zip(parts, scales)]


class NextScaleOrder(Order):
    """Coarse-to-fine scales of a square token map; `scales` are the sides, e.g. (1, 2, 4, 8)."""

    name = "next_scale"

    def __init__(self, scales: tuple[int, ...] | list[int]):
        scales = tuple(int(side) for side in scales)
        if not scales or any(a >= b for a, b in itertools.pairwise(scales)) or scales[0] != 1:
            raise ValueError(
                "scales: expected strictly increasing sides starting at 1 (scale 0 is predicted "
                f"from the condition prefix), got {scales}"
            )
        self.scales = scales

    @classmethod
    def for_tokenizer(cls, tokenizer: Any) -> NextScaleOrder:
        """The order over a `MultiScaleVQTokenizer`'s scales."""
        return cls(tokenizer.scales)

    @property
    def num_scales(self) -> int:
        return len(self.scales)

    @property
    def num_tokens(self) -> int:
        return sum(side * side for side in self.scales)

    @property
    def num_axes(self) -> int:
        return 2

    @cached_property
    def scale_offsets(self) -> list[int]:
        """Index of each scale's first token (and the total at the end)."""
        return [0, *itertools.accumulate(side * side for side in self.scales)]

    @cached_property
    def token_scales(self) -> torch.Tensor:
        """(num_tokens,) scale index of every token."""
        return torch.repeat_interleave(
            torch.arange(self.num_scales), torch.tensor([side * side for side in self.scales])
        )

    def feature_dim(self, tokenizer: Any) -> int:
        """The model's `input_dim`: the tokenizer's latent channels + the one-hot scale index."""
        return int(tokenizer.config.latent_channels) + self.num_scales

    def build_steps(self) -> list[Step]:
        ranges = [torch.arange(a, b) for a, b in itertools.pairwise(self.scale_offsets)]
        return [Step(torch.zeros(0, dtype=torch.long), ranges[0])] + [
            Step(scale, scale) for scale in ranges[1:]
        ]

    def token_positions(self) -> torch.Tensor:
        finest = self.scales[-1]
        coordinates = []
        for side in self.scales:
            centres = (torch.arange(side, dtype=torch.float64) + 0.5) * finest / side - 0.5
            rows, cols = torch.meshgrid(centres, centres, indexing="ij")
            coordinates.append(torch.stack([rows.flatten(), cols.flatten()], dim=-1))
        return torch.cat(coordinates).float()

    def split(self, tokens: torch.Tensor) -> list[torch.Tensor]:
        """(B, num_tokens) tokens as one (B, s, s) code map per scale."""
        return split_scales(tokens, self.scales)

    def feed(
        self, tokens: torch.Tensor, indices: torch.Tensor, context: Any = None
    ) -> dict[str, torch.Tensor]:
        """Features of the slots at `indices`, from the codes of the scales before theirs.

        `context` is the `MultiScaleVQTokenizer`; it runs on its own device, without gradients,
        and the features are moved to the tokens' device.
        """
        if context is None or not hasattr(context, "next_scale_inputs"):
            raise ValueError(
                "next_scale order: pass the MultiScaleVQTokenizer as `context` (it builds the "
                "teacher-forcing features from the codes)"
            )
        if tuple(context.scales) != self.scales:
            raise ValueError(
                f"next_scale order: the tokenizer's scales {tuple(context.scales)} differ from the "
                f"order's {self.scales}"
            )
        self.check_tokens(tokens)
        levels = self.token_scales[indices.cpu()]
        if len(levels) and int(levels.min()) < 1:
            raise ValueError(
                "next_scale order: scale 0 is never fed (it is predicted from the prefix)"
            )
        batch = tokens.shape[0]
        position_index = indices.to(tokens.device).expand(batch, -1)
        if not len(levels):
            return {
                "features": tokens.new_zeros(batch, 0, self.feature_dim(context), dtype=torch.float),
                "position_index": position_index,
            }
        known = self.split(tokens)[: int(levels.max())]
        with torch.no_grad():
            maps = context.next_scale_inputs(known)
        features = torch.cat([part.flatten(2).transpose(1, 2) for part in maps], dim=1)
        features = features.to(tokens.device)[:, indices.to(tokens.device) - self.scale_offsets[1]]
        one_hot = F.one_hot(levels.to(tokens.device), self.num_scales).to(features.dtype)
        features = torch.cat([features, one_hot.expand(batch, -1, -1)], dim=-1)
        return {"features": features, "position_index": position_index}
