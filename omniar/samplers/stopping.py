"""Stop conditions: where a variable-length sequence ends, read from its accepted tokens.

A stop condition is told the final tokens of a run of generation positions per sample
(`observe`) and answers, per sample, the generation position of the sequence's last token
once that is known. Sequential decoding tells it one step of the whole batch at a time
(`update`); Jacobi decoding tells it the accepted prefix of every sample's window, each sample
at its own frontier. Both end a sample once its last token is final; its later tokens become
`pad_token_id`.

The base rule ends a sequence at its first `eos_token_id`; subclasses change `observe` (the
audio pipeline ends a clip only once every codebook's frames before its end are produced).
"""

from __future__ import annotations

import torch

NO_END = 2**62
"""An end not known yet: the generation position `observe` returns then (the audio rules also
use it for a clip's end frame before it is sampled)."""


class StopCondition:
    """Tracks which samples have ended (`done`); later tokens of those become `pad_token_id`.

    The base rule: a sequence ends at the first token that is `eos_token_id` (in any codebook).
    """

    def __init__(self, batch_size: int, eos_token_id: int, pad_token_id: int, device: torch.device):
        self.eos_token_id = eos_token_id
        self.pad_token_id = pad_token_id
        self.done = torch.zeros(batch_size, dtype=torch.bool, device=device)
        self.position = 0

    def observe(self, tokens: torch.Tensor, produced: torch.Tensor, positions: torch.Tensor
                ) -> torch.Tensor:
        """(B,) generation position of each sequence's last token, `NO_END` if not known yet.

        `tokens` (B, W[, K]) are the tokens of generation positions `positions` (B, W); only
        those where `produced` (B, W) is true are final. Subclasses may keep state across calls
        (positions are observed in increasing order per sample, each at most once).
        """
        hits = tokens == self.eos_token_id
        if hits.ndim > 2:
            hits = hits.flatten(2).any(-1)
        hits &= produced
        first = positions.gather(1, hits.int().argmax(1, keepdim=True)).squeeze(1)
        return torch.where(hits.any(1), first, torch.full_like(first, NO_END))

    def update(self, new_tokens: torch.Tensor) -> torch.Tensor:
        """Sequential decoding's step (B, T[, K]): pad the new tokens of finished samples, then
        mark the samples whose last token is among them."""
        done = self.done.view(-1, *([1] * (new_tokens.ndim - 1)))
        new_tokens = torch.where(done, torch.full_like(new_tokens, self.pad_token_id), new_tokens)
        width = new_tokens.shape[1]
        positions = self.position + torch.arange(width, device=new_tokens.device)
        positions = positions.expand(new_tokens.shape[0], width)
        produced = torch.ones_like(positions, dtype=torch.bool)
        self.position += width
        self.done |= self.observe(new_tokens, produced, positions) < self.position
        return new_tokens

    @property
    def all_done(self) -> bool:
        return bool(self.done.all())
