"""Shared by image tasks: load a trained image tokenizer and captioned images from a recipe."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch


def resolve_data_path(path: str, data_root: str | None) -> Path:
    """A recipe path: absolute, relative to the working directory, or to the data root."""
    candidate = Path(path)
    if candidate.is_absolute() or candidate.exists() or data_root is None:
        return candidate
    return Path(data_root) / candidate


def load_image_tokenizer(folder: str):
    """An ImageVQTokenizer or MultiScaleVQTokenizer from its folder (by config class name)."""
    from omniar.tokenizers.image_vq import ImageVQTokenizer
    from omniar.tokenizers.multiscale_vq import MultiScaleVQTokenizer

    config = Path(folder) / "config.json"
    if not config.is_file():
        raise ValueError(f"tokenizer folder {folder} has no config.json; train it first (recipes/emoji_vq.yaml)")
    classes = {cls.__name__: cls for cls in (ImageVQTokenizer, MultiScaleVQTokenizer)}
    name = json.loads(config.read_text()).get("_class_name")
    if name not in classes:
        raise ValueError(f"{config}: expected an image tokenizer ({sorted(classes)}), found {name!r}")
    return classes[name].from_pretrained(folder).eval()


def load_image_captions(data: dict[str, Any], data_root: str | None, image_size: int) -> tuple[torch.Tensor, list[str]]:
    """All images (N, 3, S, S) in [-1, 1] and their captions, from a Noto-emoji or image folder."""
    root = resolve_data_path(data["path"], data_root)
    if data.get("type", "noto_emoji") == "noto_emoji":
        from omniar.data.emoji import NotoEmojiDataset

        dataset = NotoEmojiDataset(root, split=data.get("split", "train"), image_size=image_size)
        return dataset.images, list(dataset.captions)
    from omniar.data.images import ImageFolderDataset

    dataset = ImageFolderDataset(root, image_size=image_size, skip_bad_files=bool(data.get("skip_bad_files")))
    items = [dataset[i] for i in range(len(dataset))]
    return torch.stack([item[0] for item in items]), [item[1] for item in items]
