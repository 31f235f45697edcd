"""Prompts to text states, for our caption encoder or any Hugging Face text encoder.

Pipelines hold `text_encoder` (+ `text_tokenizer` for Hugging Face models) and call
`encode_prompts`, so a CLIP text model or a T5 encoder plugs in without pipeline changes.
`load_text_encoder` loads one with `from_pretrained` from a local folder or a hub id.
"""

from __future__ import annotations

from typing import Any

import torch

from omniar.models.caption_encoder import CaptionEncoder


def text_hidden_size(text_encoder: Any) -> int:
    """Width of the states `encode_prompts` returns (the AR model's `text_dim`)."""
    if isinstance(text_encoder, CaptionEncoder):
        return text_encoder.hidden_size
    config = text_encoder.config
    return getattr(config, "hidden_size", None) or config.d_model


def load_text_encoder(name_or_path: str, **kwargs: Any) -> tuple[Any, Any]:
    """A Hugging Face text encoder and its tokenizer (CLIP text model, T5 encoder, BERT-like).

    Needs the `transformers` package (`pip install "omniar[text]"`).
    """
    try:
        from transformers import AutoConfig, AutoModel, AutoTokenizer, CLIPTextModel, T5EncoderModel
    except ImportError as error:
        raise ImportError('Hugging Face text encoders need transformers: pip install "omniar[text]"') from error
    config = AutoConfig.from_pretrained(name_or_path, **kwargs)
    if config.model_type in ("t5", "mt5", "umt5"):
        model = T5EncoderModel.from_pretrained(name_or_path, **kwargs)
    elif config.model_type in ("clip", "clip_text_model"):
        model = CLIPTextModel.from_pretrained(name_or_path, **kwargs)
    else:
        model = AutoModel.from_pretrained(name_or_path, **kwargs)
    return model.eval(), AutoTokenizer.from_pretrained(name_or_path, **kwargs)


def encode_prompts(
    text_encoder: Any, text_tokenizer: Any, prompts: list[str], max_length: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """States (B, L, D) and a boolean mask (B, L) of real tokens for `prompts`."""
    for prompt in prompts:
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError(f"prompt must be a non-empty string, got {prompt!r}")
    if isinstance(text_encoder, CaptionEncoder):
        ids, mask = text_encoder.tokenize(prompts)
        return text_encoder(ids, mask), mask
    if text_tokenizer is None:
        raise ValueError("a Hugging Face text encoder needs its text_tokenizer")
    device = next(text_encoder.parameters()).device
    limit = max_length or getattr(text_tokenizer, "model_max_length", 77)
    lengths = [len(text_tokenizer(p)["input_ids"]) for p in prompts]
    too_long = [p for p, n in zip(prompts, lengths) if n > limit]
    if too_long:
        raise ValueError(f"prompt {too_long[0][:40]!r}... is longer than the text encoder's {limit} tokens")
    batch = text_tokenizer(prompts, padding=True, return_tensors="pt")
    mask = batch["attention_mask"].to(device).bool()
    output = text_encoder(input_ids=batch["input_ids"].to(device), attention_mask=mask.long())
    return output.last_hidden_state, mask
