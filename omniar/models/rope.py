"""Axial rotary position embeddings over float coordinates.

Hand-written rather than taken from `rotary-embedding-torch`: omniar needs per-token float
coordinates in several axes at once (1D index, 2D grid, scale-aware 2D for next-scale), given
explicitly per token so that cached, padded and out-of-order decoding all rotate correctly. A
coordinate of 0 on every axis is the identity rotation, which condition/prefix tokens use.

Precision: the inverse frequencies stay fp32 when the model is cast (`model.to(torch.bfloat16)`
would otherwise round them to bf16 and shift every angle), and angles are computed in fp32.
`angles` then casts cos/sin once per forward pass to the dtype the module was cast to, so that
`apply_rotary` (twice per layer) runs in the activation dtype without converting q/k to fp32 and
back: on CPU at the GPT-B shape in bf16 this takes a one-token rotation from 20 to 14 us.
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
        self._pairs_per_axis, self._theta = pairs // num_axes, theta
        self.register_buffer("inv_freq", _axis_frequencies(pairs // num_axes, theta).float(),
                             persistent=False)
        # Follows the module's casts (`.to(dtype)`, `.half()`): the dtype cos/sin are returned in.
        self.register_buffer("_dtype_probe", torch.zeros(()), persistent=False)

    def _apply(self, fn, recurse=True):
        super()._apply(fn, recurse)
        device = self._dtype_probe.device
        if self.inv_freq.dtype != torch.float32 and device.type != "meta":
            self.inv_freq = _axis_frequencies(self._pairs_per_axis, self._theta).float().to(device)
        return self

    def angles(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """cos and sin of shape (B, 1, T, head_dim) for positions of shape (B, T, num_axes),
        computed in fp32 and returned in the module's dtype (once per pass, not per layer)."""
        if positions.ndim != 3 or positions.shape[-1] != self.num_axes:
            raise ValueError(
                f"positions must have shape (batch, tokens, {self.num_axes}), got {tuple(positions.shape)}"
            )
        freqs = positions.float().unsqueeze(-1) * self.inv_freq.float()  # B, T, axes, pairs
        freqs = freqs.flatten(2)
        freqs = torch.cat([freqs, freqs], dim=-1).unsqueeze(1)
        dtype = self._dtype_probe.dtype
        return freqs.cos().to(dtype), freqs.sin().to(dtype)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate (B, H, T, D) by precomputed angles (the "rotate half" convention of Llama).

    In `x`'s dtype when cos/sin share it (Hugging Face Llama's arithmetic); otherwise (fp32 angles
    with bf16 activations, e.g. under autocast) in fp32, cast back to `x`'s dtype."""
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    if cos.dtype == x.dtype:
        return x * cos + rotated * sin
    return (x.float() * cos + rotated.float() * sin).to(x.dtype)
