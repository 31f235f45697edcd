"""Condition prefixes: class labels, text-encoder states, or nothing, each with a learned null.

A conditioner turns a condition into prefix embeddings (placed before the generated tokens, rank
0, identity or zero rotation: see `AutoregressiveModel`), a validity mask for them, and a pooled
vector for AdaLN. Samples flagged
in `drop` get the learned null condition: that is condition dropout in training and the
unconditional half of classifier-free guidance at sampling time.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class Prefix:
    """Prefix embeddings (B, P, D), their validity (B, P) and a pooled condition (B, D)."""

    embeds: torch.Tensor
    valid: torch.Tensor
    pooled: torch.Tensor


def _drop_mask(drop: torch.Tensor | None, batch: int, device: torch.device) -> torch.Tensor:
    if drop is None:
        return torch.zeros(batch, dtype=torch.bool, device=device)
    return drop.to(device=device, dtype=torch.bool)


class ClassConditioner(nn.Module):
    """One prefix token per label field (e.g. digit and speaker); index `size` is each field's null."""

    def __init__(self, class_sizes: list[int], hidden_size: int):
        super().__init__()
        self.class_sizes = list(class_sizes)
        self.tables = nn.ModuleList(nn.Embedding(size + 1, hidden_size) for size in self.class_sizes)
        for table in self.tables:
            nn.init.normal_(table.weight, std=0.02)

    def forward(self, class_labels: torch.Tensor, drop: torch.Tensor | None = None) -> Prefix:
        if class_labels.ndim == 1:
            class_labels = class_labels[:, None]
        fields = len(self.class_sizes)
        if class_labels.ndim != 2 or class_labels.shape[1] != fields:
            raise ValueError(
                f"class_labels must have shape (batch,) or (batch, {fields}), got {tuple(class_labels.shape)}"
            )
        sizes = torch.tensor(self.class_sizes, device=class_labels.device)
        if ((class_labels < 0) | (class_labels >= sizes)).any():
            raise ValueError(f"class_labels out of range: field sizes are {self.class_sizes}")
        drop = _drop_mask(drop, class_labels.shape[0], class_labels.device)
        labels = torch.where(drop[:, None], sizes.expand_as(class_labels), class_labels)
        embeds = torch.stack([table(labels[:, i]) for i, table in enumerate(self.tables)], dim=1)
        valid = torch.ones(embeds.shape[:2], dtype=torch.bool, device=embeds.device)
        return Prefix(embeds, valid, embeds.sum(1))


def left_align(states: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Move each sample's valid (right-padded) tokens to the end, so the last slot is always real."""
    length = states.shape[1]
    counts = mask.long().sum(1)
    source = (torch.arange(length, device=states.device)[None] + counts[:, None]) % length
    aligned = states.gather(1, source[..., None].expand_as(states))
    return aligned, torch.arange(length, device=states.device)[None] >= (length - counts)[:, None]


TEXT_PROJECTIONS = ("linear", "mlp")


def pad_text(states: torch.Tensor, mask: torch.Tensor | None, length: int | None
             ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Right-pad text states (B, L, D) and their mask to `length` tokens (None: unchanged).

    Models trained on a fixed caption length (LlamaGen: 120 T5 tokens) see every caption padded
    to it; longer captions are an error naming the limit.
    """
    if length is None or states.shape[1] == length:
        return states, mask
    batch, given = states.shape[:2]
    if given > length:
        raise ValueError(f"text_states has {given} tokens; this model takes at most {length}")
    if mask is None:
        mask = torch.ones(batch, given, dtype=torch.bool, device=states.device)
    padding = states.new_zeros(batch, length - given, states.shape[-1])
    return torch.cat([states, padding], 1), torch.cat([mask.bool(), mask.new_zeros(batch, length - given).bool()], 1)


class TextConditioner(nn.Module):
    """Projects text-encoder states (B, L, text_dim) into prefix tokens, with a null condition.

    `projection`: "linear" (one affine map) or "mlp" (Linear, tanh-GELU, Linear, no biases, as
    LlamaGen's caption embedder). The null condition is one learned token by default; with
    `null_length` it is a fixed sequence of that many text-space states instead, captions are
    padded to `null_length`, and a dropped sample keeps its caption's mask over the null states
    (LlamaGen's unconditional caption).
    """

    def __init__(self, text_dim: int, hidden_size: int, projection: str = "linear",
                 null_length: int | None = None):
        super().__init__()
        if projection not in TEXT_PROJECTIONS:
            raise ValueError(f"text projection must be one of {TEXT_PROJECTIONS}, got {projection!r}")
        self.text_dim = text_dim
        self.null_length = null_length
        if projection == "linear":
            self.proj = nn.Linear(text_dim, hidden_size)
        else:
            self.proj = nn.Sequential(
                nn.Linear(text_dim, hidden_size, bias=False), nn.GELU(approximate="tanh"),
                nn.Linear(hidden_size, hidden_size, bias=False),
            )
        if null_length is None:
            self.null = nn.Parameter(torch.randn(hidden_size) * 0.02)
        else:
            self.null_states = nn.Parameter(torch.randn(null_length, text_dim) / text_dim**0.5)

    def forward(self, text_states: torch.Tensor, text_mask: torch.Tensor | None = None,
                drop: torch.Tensor | None = None) -> Prefix:
        if text_states.ndim != 3 or text_states.shape[-1] != self.text_dim:
            raise ValueError(
                f"text_states must have shape (batch, length, {self.text_dim}), got {tuple(text_states.shape)}"
            )
        batch, length = text_states.shape[:2]
        if text_mask is None:
            text_mask = torch.ones(batch, length, dtype=torch.bool, device=text_states.device)
        if tuple(text_mask.shape) != (batch, length):
            raise ValueError(f"text_mask must have shape {(batch, length)}, got {tuple(text_mask.shape)}")
        text_mask = text_mask.bool()
        if not text_mask.any(1).all():
            raise ValueError("every text_mask row needs at least one real token (got an empty prompt)")
        drop = _drop_mask(drop, batch, text_states.device)
        if self.null_length is not None:
            return self._fixed_null_prefix(text_states, text_mask, drop)
        embeds = self.proj(text_states)
        null_mask = torch.zeros_like(text_mask)
        null_mask[:, 0] = True
        mask = torch.where(drop[:, None], null_mask, text_mask)
        embeds = torch.where(drop[:, None, None], self.null.expand_as(embeds), embeds)
        embeds, valid = left_align(embeds, mask)
        return _pooled_prefix(embeds, valid)

    def _fixed_null_prefix(self, text_states: torch.Tensor, text_mask: torch.Tensor,
                           drop: torch.Tensor) -> Prefix:
        states, mask = pad_text(text_states, text_mask, self.null_length)
        states, valid = left_align(states, mask)
        null = self.null_states.to(states.dtype).expand_as(states)
        states = torch.where(drop[:, None, None], null, states)
        return _pooled_prefix(self.proj(states), valid)


def _pooled_prefix(embeds: torch.Tensor, valid: torch.Tensor) -> Prefix:
    pooled = (embeds * valid[..., None]).sum(1) / valid.sum(1, keepdim=True)
    return Prefix(embeds, valid, pooled)


class UnconditionalPrefix(nn.Module):
    """A single learned start token for unconditional models."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.start = nn.Parameter(torch.randn(hidden_size) * 0.02)

    def forward(self, batch_size: int) -> Prefix:
        embeds = self.start.expand(batch_size, 1, -1)
        valid = torch.ones(batch_size, 1, dtype=torch.bool, device=embeds.device)
        return Prefix(embeds, valid, embeds[:, 0])
