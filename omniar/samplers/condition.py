"""What a sample is conditioned on, batched for classifier-free guidance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch


@dataclass
class Condition:
    """Class labels (B,) / (B, F), or text-encoder states (B, L, D) with a mask, or nothing."""

    batch_size: int
    class_labels: torch.Tensor | None = None
    text_states: torch.Tensor | None = None
    text_mask: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {self.batch_size}")
        for name in ("class_labels", "text_states", "text_mask"):
            value = getattr(self, name)
            if value is not None and value.shape[0] != self.batch_size:
                raise ValueError(f"{name} has batch {value.shape[0]}, expected {self.batch_size}")

    @property
    def prefix_length(self) -> int:
        """Prefix slots the model will use for this condition."""
        if self.text_states is not None:
            return self.text_states.shape[1]
        if self.class_labels is not None:
            return 1 if self.class_labels.ndim == 1 else self.class_labels.shape[1]
        return 1

    def model_kwargs(self, guided: bool, device: torch.device) -> dict[str, Any]:
        """Prefix arguments for the model; with guidance the batch is [conditional; null]."""
        def double(tensor: torch.Tensor | None) -> torch.Tensor | None:
            if tensor is None:
                return None
            tensor = tensor.to(device)
            return torch.cat([tensor, tensor]) if guided else tensor

        rows = 2 * self.batch_size if guided else self.batch_size
        drop = torch.zeros(rows, dtype=torch.bool, device=device)
        if guided:
            drop[self.batch_size:] = True
        return {
            "with_prefix": True,
            "batch_size": rows,
            "class_labels": double(self.class_labels),
            "text_states": double(self.text_states),
            "text_mask": double(self.text_mask),
            "drop_condition": drop,
        }

    def select(self, index: slice) -> Condition:
        """A micro-batch of this condition."""
        def part(tensor):
            return None if tensor is None else tensor[index]

        labels = part(self.class_labels)
        size = len(range(*index.indices(self.batch_size)))
        return Condition(size, labels, part(self.text_states), part(self.text_mask))
