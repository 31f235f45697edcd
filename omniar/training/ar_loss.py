"""Teacher-forced next-token loss of an AutoregressiveModel under any order."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from omniar.orders.base import Order


def condition_dropout(batch_size: int, probability: float, device: torch.device) -> torch.Tensor | None:
    """Which samples train on the null condition (for classifier-free guidance)."""
    if probability <= 0:
        return None
    return torch.rand(batch_size, device=device) < probability


def corrupt_inputs(tokens: torch.Tensor, max_rate: float) -> torch.Tensor:
    """`tokens` with a random share of entries replaced by tokens drawn from elsewhere in the batch.

    Each sample draws its own rate uniformly from [0, max_rate], so the model sees clean and
    noisy histories alike. Teacher forcing only ever shows the model correct histories, so it
    learns to identify the sample from its own tokens and to ignore the condition; at sampling
    time one early mistake then derails the rest. Corrupted histories make the condition the
    reliable signal and teach recovery from mistakes. Replacements are drawn from the batch, not
    the vocabulary, so they follow the data's token distribution and need no vocabulary size.
    """
    if not 0 <= max_rate < 1:
        raise ValueError(f"input_noise must be in [0, 1), got {max_rate}")
    if max_rate == 0:
        return tokens
    batch = tokens.shape[0]
    rates = torch.rand(batch, device=tokens.device) * max_rate
    rates = rates.view(batch, *([1] * (tokens.dim() - 1)))
    replace = torch.rand(tokens.shape, device=tokens.device) < rates
    pool = tokens.reshape(-1)
    donors = pool[torch.randint(pool.numel(), tokens.shape, device=tokens.device)]
    return torch.where(replace, donors, tokens)


def autoregressive_loss(
    model: torch.nn.Module,
    order: Order,
    tokens: torch.Tensor,
    condition: dict[str, Any],
    drop_probability: float = 0.0,
    context: Any = None,
    pad_token_id: int | None = None,
    input_noise: float = 0.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Cross-entropy of every token given everything its order lets it see.

    `condition` holds the prefix arguments (`class_labels`, or `text_states` and `text_mask`).
    Targets equal to `pad_token_id` (the tail after end-of-sequence) are not scored.
    `input_noise` > 0 corrupts the fed history (`corrupt_inputs`); targets stay clean.
    """
    order.check_tokens(tokens)
    drop = condition_dropout(tokens.shape[0], drop_probability, tokens.device)
    fed = corrupt_inputs(tokens, input_noise) if model.training else tokens
    output = model(
        **order.teacher_forcing_inputs(fed, context), with_prefix=True, drop_condition=drop,
        batch_size=tokens.shape[0], **condition,
    )
    logits = order.training_logits(output.logits, output.prefix_length, output)
    targets = order.training_targets(tokens)
    scored = torch.ones_like(targets, dtype=torch.bool) if pad_token_id is None else targets != pad_token_id
    labels = targets.masked_fill(~scored, -100)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1), ignore_index=-100)
    correct = (logits.argmax(-1) == targets) & scored
    accuracy = (correct.sum() / scored.sum().clamp(min=1)).item()
    return loss, {"accuracy": accuracy}
