"""Attention masks derived from token ranks.

A token's rank is the generation step it belongs to. A query sees a key when the key is a real
token (not padding) whose rank is not above the query's; it always sees its own slot, so padded
rows never attend to nothing. Raster order gives unique ranks (causal attention); block orders
(next-scale, neighbor, next-patch) give equal ranks inside a step (bidirectional there).

The transformer builds the mask once per forward pass and hands SDPA an additive float mask (0
where visible, -inf elsewhere) in the model's dtype: a boolean mask is converted to that inside
SDPA again for every layer.
"""

from __future__ import annotations

import torch


def rank_visibility_mask(
    query_ranks: torch.Tensor,
    query_slots: torch.Tensor,
    key_ranks: torch.Tensor,
    key_valid: torch.Tensor,
) -> torch.Tensor:
    """Boolean mask (B, 1, Tq, Tk), True where the query may attend to the key."""
    key_index = torch.arange(key_ranks.shape[1], device=key_ranks.device)
    visible = key_valid[:, None, :] & (key_ranks[:, None, :] <= query_ranks[:, :, None])
    visible |= key_index[None, None, :] == query_slots[:, :, None]
    return visible[:, None]


def causal_ranks(batch_size: int, length: int, device: torch.device | None = None) -> torch.Tensor:
    """Ranks 0..length-1 for every sample: plain causal attention."""
    return torch.arange(length, device=device).expand(batch_size, length)


def additive_mask(visible: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A boolean visibility mask as SDPA's additive float mask: 0 where visible, -inf elsewhere."""
    zero = torch.zeros((), dtype=dtype, device=visible.device)
    return torch.where(visible, zero, -torch.inf)
