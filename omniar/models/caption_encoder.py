"""A small byte-level caption encoder, trained jointly with the generator.

The embedded models cannot download a CLIP or T5 checkpoint, and emoji captions are short
English names, so a few bidirectional layers over UTF-8 bytes suffice. It reuses the shared
`Transformer` (all tokens rank 0, so attention is bidirectional). Large models swap it for a
Hugging Face text encoder (see `omniar.models.text_encoders`).
"""

from __future__ import annotations

import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn

from omniar.models.transformer import Transformer

BYTE_VOCAB = 256
PAD_ID = 256


class CaptionEncoder(ModelMixin, ConfigMixin):
    """UTF-8 bytes -> contextual states (B, L, hidden_size), with a padding mask."""

    @register_to_config
    def __init__(self, hidden_size: int = 128, num_layers: int = 2, num_heads: int = 4, max_length: int = 96):
        super().__init__()
        self.embed = nn.Embedding(BYTE_VOCAB + 1, hidden_size, padding_idx=PAD_ID)
        self.encoder = Transformer(hidden_size=hidden_size, num_layers=num_layers, num_heads=num_heads)

    @property
    def hidden_size(self) -> int:
        return self.config.hidden_size

    def tokenize(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Byte ids (B, L) padded to the longest prompt, and the mask of real bytes."""
        if isinstance(prompts, str) or not prompts:
            raise ValueError("prompts must be a non-empty list of strings")
        encoded = []
        for prompt in prompts:
            if not isinstance(prompt, str) or not prompt.strip():
                raise ValueError(f"prompt must be a non-empty string, got {prompt!r}")
            data = list(prompt.strip().lower().encode("utf-8"))
            if len(data) > self.config.max_length:
                raise ValueError(
                    f"prompt {prompt[:40]!r}... is {len(data)} bytes long; this text encoder takes at "
                    f"most max_length={self.config.max_length}"
                )
            encoded.append(data)
        length = max(len(data) for data in encoded)
        ids = torch.full((len(encoded), length), PAD_ID, dtype=torch.long)
        for row, data in enumerate(encoded):
            ids[row, : len(data)] = torch.tensor(data)
        return ids.to(self.device), ids.ne(PAD_ID).to(self.device)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        batch, length = input_ids.shape
        positions = torch.arange(length, device=input_ids.device, dtype=torch.float).view(1, length, 1)
        ranks = torch.zeros(batch, length, dtype=torch.long, device=input_ids.device)
        return self.encoder(
            self.embed(input_ids), positions.expand(batch, -1, -1), ranks=ranks, valid=attention_mask.bool()
        )
