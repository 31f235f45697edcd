"""Model wrappers that post-process a model's logits (the audio pipeline's layout rules).

Token constraints that follow a sequence's prefix (the mesh and graph grammars) are logits
processors of the decode loop instead (`omniar.samplers.constraints`), which work with every
decoding.
"""

from __future__ import annotations

from typing import Any

import torch


class WrappedModel:
    """Passes through what the decode loop reads from a model besides calling it: ``device``,
    ``config`` and ``new_cache``. Base of the wrappers that post-process a model's logits."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model

    @property
    def device(self) -> torch.device:
        return self.model.device

    @property
    def config(self) -> Any:
        return self.model.config

    def new_cache(self, batch_size: int, max_length: int, fixed_shape: bool = False) -> Any:
        return self.model.new_cache(batch_size, max_length, fixed_shape=fixed_shape)
