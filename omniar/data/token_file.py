"""Pre-tokenized data sets stored as safetensors (the output of a tokenize-the-data-set step)."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch.utils.data import Dataset


def save_token_file(path: str | Path, tokens: torch.Tensor, class_labels: torch.Tensor | None = None) -> None:
    """Write `tokens` (N, L) or (N, L, K) and optional `class_labels` (N,) or (N, F)."""
    tensors = {"tokens": tokens.long().contiguous()}
    if class_labels is not None:
        if class_labels.shape[0] != tokens.shape[0]:
            raise ValueError(f"class_labels has {class_labels.shape[0]} rows, tokens has {tokens.shape[0]}")
        tensors["class_labels"] = class_labels.long().contiguous()
    save_file(tensors, str(path))


class TokenFileDataset(Dataset):
    """Samples of a token file: dicts with `tokens` and, when present, `class_labels`."""

    def __init__(self, path: str | Path):
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"token file {path} does not exist; expected a .safetensors file with 'tokens'")
        tensors = load_file(str(path))
        if "tokens" not in tensors:
            raise ValueError(f"token file {path} has no 'tokens' tensor (found {sorted(tensors)})")
        self.tokens = tensors["tokens"]
        self.class_labels = tensors.get("class_labels")

    def __len__(self) -> int:
        return self.tokens.shape[0]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = {"tokens": self.tokens[index]}
        if self.class_labels is not None:
            item["class_labels"] = self.class_labels[index]
        return item
