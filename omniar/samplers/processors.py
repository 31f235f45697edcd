"""Logits processing: temperature, top-k, top-p, min-p, and sampling.

Hugging Face transformers has equivalent warpers, but it is an optional dependency here and its
`top_k` default of 50 ruins image codebooks; these follow its argument names with `top_k=0`
meaning off. All functions work on the last dimension of logits of any leading shape.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import torch

from omniar.errors import bad_value


def is_real(value: Any) -> bool:
    """Whether `value` is a real number (NaN included; bools are not numbers here)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


@dataclass(frozen=True)
class SamplingConfig:
    """How logits become tokens. `temperature=0` is greedy decoding."""

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    min_p: float = 0.0

    def __post_init__(self) -> None:
        if not is_real(self.temperature) or not 0 <= self.temperature < math.inf:
            raise bad_value("temperature", self.temperature, "a finite number >= 0 (0 = greedy)")
        if not isinstance(self.top_k, numbers.Integral) or isinstance(self.top_k, bool) or self.top_k < 0:
            raise bad_value("top_k", self.top_k, "an integer >= 0 (0 = off)")
        if not is_real(self.top_p) or not 0.0 < self.top_p <= 1.0:
            raise bad_value("top_p", self.top_p, "a number in (0, 1] (1 = off)")
        if not is_real(self.min_p) or not 0.0 <= self.min_p < 1.0:
            raise bad_value("min_p", self.min_p, "a number in [0, 1) (0 = off)")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


def top_k_filter(logits: torch.Tensor, top_k: int) -> torch.Tensor:
    """Keep the `top_k` largest logits (ties at the threshold are kept)."""
    if top_k <= 0 or top_k >= logits.shape[-1]:
        return logits
    threshold = logits.topk(top_k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < threshold, float("-inf"))


def top_p_filter(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Keep the smallest set of most likely tokens whose probability reaches `top_p`."""
    if top_p >= 1.0:
        return logits
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    cumulative = sorted_logits.softmax(-1).cumsum(-1)
    remove_sorted = (cumulative - sorted_logits.softmax(-1)) >= top_p
    remove = remove_sorted.scatter(-1, order, remove_sorted)
    return logits.masked_fill(remove, float("-inf"))


def min_p_filter(logits: torch.Tensor, min_p: float) -> torch.Tensor:
    """Drop tokens whose probability is below `min_p` times the most likely token's."""
    if min_p <= 0.0:
        return logits
    probs = logits.softmax(-1)
    threshold = probs.amax(-1, keepdim=True) * min_p
    return logits.masked_fill(probs < threshold, float("-inf"))


def process_logits(logits: torch.Tensor, config: SamplingConfig) -> torch.Tensor:
    """Apply temperature then top-k, top-p and min-p; returns float32 logits."""
    logits = logits.float()
    if not config.greedy:
        logits = logits / config.temperature
    logits = top_k_filter(logits, config.top_k)
    logits = top_p_filter(logits, config.top_p)
    return min_p_filter(logits, config.min_p)


def sampling_probabilities(logits: torch.Tensor, config: SamplingConfig) -> torch.Tensor:
    """The distribution tokens are drawn from (one-hot at the argmax when greedy)."""
    processed = process_logits(logits, config)
    if config.greedy:
        return torch.nn.functional.one_hot(processed.argmax(-1), processed.shape[-1]).float()
    return processed.softmax(-1)


def sample_from_probabilities(probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One draw per distribution over the last dimension (unnormalised weights are fine).

    Inverse-CDF sampling: a uniform draw in [0, total) located in the cumulative sum with
    `searchsorted(right=True)`, so a zero-probability token (no rise of the cumulative sum) is
    never chosen. On CPU it is 10-20x faster than `torch.multinomial` (which draws one
    exponential per vocabulary entry), e.g. 50 us instead of 760 us for 36 x 1,000.
    """
    flat = probs.reshape(-1, probs.shape[-1]).float()
    cumulative = flat.cumsum(-1)
    total = cumulative[:, -1:]
    uniform = torch.rand(total.shape, generator=generator, device=total.device) * total
    uniform = torch.minimum(uniform, torch.nextafter(total, torch.zeros_like(total)))
    return torch.searchsorted(cumulative, uniform, right=True).view(probs.shape[:-1])


def sample(logits: torch.Tensor, config: SamplingConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """Tokens drawn from processed logits (argmax when greedy)."""
    if config.greedy:
        return process_logits(logits, config).argmax(-1)
    return sample_from_probabilities(sampling_probabilities(logits, config), generator)
