"""Query/key normalisation of cosine attention: l2-normalised heads and a learned per-head scale.

Scores are `s_h * cos(q, k)`, with softmax scale 1: queries and keys are divided by their l2 norm
and each query head is multiplied by `s_h = exp(min(log_scale_h, log 100))`. The scale is learned
as a logarithm, initialised at log 4, and clamped so that it never passes 100, which keeps the
logits bounded (Swin Transformer V2's scaled cosine attention; VAR's `attn_l2_norm`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

INITIAL_SCALE = 4.0
MAX_SCALE = 100.0


class ScaledL2Norm(nn.Module):
    """Normalises (B, H, T, D) query heads to unit length, then scales head h by `s_h`."""

    def __init__(self, num_heads: int):
        super().__init__()
        self.log_scale = nn.Parameter(torch.full((num_heads, 1, 1), math.log(INITIAL_SCALE)))

    def forward(self, heads: torch.Tensor) -> torch.Tensor:
        scale = self.log_scale.clamp(max=math.log(MAX_SCALE)).exp()
        return F.normalize(heads, dim=-1) * scale.to(heads.dtype)


class L2Norm(nn.Module):
    """Normalises (B, H, T, D) key heads to unit length."""

    def forward(self, heads: torch.Tensor) -> torch.Tensor:
        return F.normalize(heads, dim=-1)
