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


def autoregressive_loss(
    model: torch.nn.Module,
    order: Order,
    tokens: torch.Tensor,
    condition: dict[str, Any],
    drop_probability: float = 0.0,
    context: Any = None,
    pad_token_id: int | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Cross-entropy of every token given everything its order lets it see.

    `condition` holds the prefix arguments (`class_labels`, or `text_states` and `text_mask`).
    Targets equal to `pad_token_id` (the tail after end-of-sequence) are not scored.
    """
    order.check_tokens(tokens)
    drop = condition_dropout(tokens.shape[0], drop_probability, tokens.device)
    output = model(
        **order.teacher_forcing_inputs(tokens, context), with_prefix=True, drop_condition=drop,
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
