"""Axial rotary position embeddings over float coordinates.

Hand-written rather than taken from `rotary-embedding-torch`: omniar needs per-token float
coordinates in several axes at once (1D index, 2D grid, scale-aware 2D for next-scale), given
explicitly per token so that cached, padded and out-of-order decoding all rotate correctly. A
coordinate of 0 on every axis is the identity rotation, which condition/prefix tokens use.
"""

from __future__ import annotations

import torch


def _axis_frequencies(pairs: int, theta: float) -> torch.Tensor:
    return 1.0 / (theta ** (torch.arange(pairs, dtype=torch.float64) / pairs))


class AxialRotaryEmbedding(torch.nn.Module):
    """Rotate query/key heads by coordinates in `num_axes` axes.

    The head dimension's rotation pairs are split evenly between axes (for 2D: half for rows, half
    for columns), each axis with its own geometric frequency ladder.
    """

    def __init__(self, head_dim: int, num_axes: int = 1, theta: float = 10000.0) -> None:
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"head_dim must be even for rotary embeddings, got {head_dim}")
        pairs = head_dim // 2
        if num_axes < 1 or pairs % num_axes:
            raise ValueError(
                f"num_axes={num_axes} must divide head_dim/2={pairs} so every axis gets equal pairs"
            )
        self.num_axes = num_axes
        per_axis = _axis_frequencies(pairs // num_axes, theta).float()
        self.register_buffer("inv_freq", per_axis, persistent=False)

    def angles(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """cos and sin of shape (B, 1, T, head_dim) for positions of shape (B, T, num_axes)."""
        if positions.ndim != 3 or positions.shape[-1] != self.num_axes:
            raise ValueError(
                f"positions must have shape (batch, tokens, {self.num_axes}), got {tuple(positions.shape)}"
            )
        freqs = positions.float().unsqueeze(-1) * self.inv_freq  # B, T, axes, pairs
        freqs = freqs.flatten(2)
        freqs = torch.cat([freqs, freqs], dim=-1).unsqueeze(1)
        return freqs.cos(), freqs.sin()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate (B, H, T, D) by precomputed angles (the "rotate half" convention of Llama)."""
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return (x.float() * cos + rotated.float() * sin).to(x.dtype)
