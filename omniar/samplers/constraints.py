"""Token constraints (a grammar, a graph family, the audio layout) as a logits processor that
works with every decoding.

A `TokenConstraint` is the per-sample state of a rule over a micro-batch: it is fed one token
per sample at a time, in generation order, and says which ids may come next. `ConstraintProcessor`
turns one into a logits processor: the decode loops hand it the logits of a run of generation
positions per sample (one step for sequential decoding, a window of drafts for Jacobi) and it
masks each position to what the constraint allows *given that position's prefix*: the sample's
final tokens, then the draft tokens before that position in the same proposal. Once a proposal
is verified, the final tokens are committed and the constraint's state moves past them.

Why Jacobi stays exact: a position is only accepted once every position before it is, i.e.
when its prefix is final, and then its mask is the one sequential decoding would apply.

State handling. The committed state sits at the first generation position that is not final
for every sample of the batch (the batch's minimum frontier). Masking a run copies it
(`copy.deepcopy`) and feeds it, position by position and for all samples at once, the final or
draft tokens up to the end of the longest run, reading each sample's mask where its run starts.
Constraints therefore only need `advance`, `allowed` and `finished` for a whole batch; no
per-row updates. Sequential decoding never copies (its run starts at the committed position).
A draft the constraint disallows is fed as the first allowed id instead (the draft is rejected
anyway, so the positions after it are not accepted in this pass): constraints only ever see
tokens they allowed.

Masked ids get `-inf` after classifier-free guidance has combined the two halves of a guided
batch (the guided logits are float32, so nothing turns into NaN), then sampling applies
temperature, top-k and top-p to what is left: the constraint renormalises the model's
distribution over the allowed ids.

The processor also counts, per sample and over the positions before its constraint says the
sequence has finished, how much the mask changed the model's choice: ``masked_mass`` (summed
probability the guided logits put on disallowed ids) and ``overrides`` (positions where the most
likely id was disallowed). Only positions that became final are counted, from the pass that
made them final.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Protocol

import torch


class TokenConstraint(Protocol):
    """Per-sample state of a token rule over a micro-batch of sequences."""

    def advance(self, tokens: torch.Tensor) -> None:
        """Take one token per sample: (batch,), or (batch, streams) for multi-codebook tokens."""

    def allowed(self) -> torch.Tensor:
        """(batch, [streams,] vocab) bool mask of the ids allowed next; at least one per row."""

    def finished(self) -> torch.Tensor:
        """(batch,) bool: which sequences have ended (their positions are not counted)."""


ConstraintFactory = Callable[[int, torch.device], TokenConstraint]


class ConstraintRun:
    """A constraint over one micro-batch being decoded (see the module docstring)."""

    def __init__(self, constraint: TokenConstraint, generation_tokens: torch.Tensor,
                 batch: int, device: torch.device):
        self.constraint = constraint
        self.generation_tokens = generation_tokens.to(device)
        self.num_positions = len(generation_tokens)
        self.position = 0
        self.masked_mass = torch.zeros(batch, device=device)
        self.overrides = torch.zeros(batch, dtype=torch.long, device=device)
        self._last: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    def _column(self, tokens: torch.Tensor, position: int) -> torch.Tensor:
        return tokens[:, self.generation_tokens[position]]

    def __call__(self, logits: torch.Tensor, tokens: torch.Tensor, start: torch.Tensor
                 ) -> torch.Tensor:
        """Mask `logits` (B, W, [K,] V) of generation positions `start[b] + j`.

        `tokens` (B, N[, K]) hold every sample's final tokens and its drafts, in token order;
        `start` (B,) is each sample's first position of the run, at or after the committed one.
        Positions past the end of the sequence are left as they are.
        """
        width = logits.shape[1]
        end = min(int((start + width).max()), self.num_positions)
        walker = self.constraint if end - self.position <= 1 else copy.deepcopy(self.constraint)
        masks = torch.ones(logits.shape, dtype=torch.bool, device=logits.device)
        counted = torch.zeros(logits.shape[:2], dtype=torch.bool, device=logits.device)
        for position in range(self.position, end):
            offset = position - start
            rows = ((offset >= 0) & (offset < width)).nonzero().flatten()
            allowed = walker.allowed().to(logits.device)
            if len(rows):
                masks[rows, offset[rows]] = allowed[rows]
                counted[rows, offset[rows]] = ~walker.finished()[rows].to(logits.device)
            if position + 1 < end:
                walker.advance(_allowed_or_first(self._column(tokens, position), allowed))
        masks |= ~masks.any(-1, keepdim=True)  # a constraint that allows nothing masks nothing
        self._record(logits, masks, counted, start)
        return logits.masked_fill(~masks, float("-inf"))

    def _record(self, logits: torch.Tensor, masks: torch.Tensor, counted: torch.Tensor,
                start: torch.Tensor) -> None:
        """Keep this run's per-position intervention figures until `commit` says which count."""
        scores = logits.float()
        mass = (scores.softmax(-1) * ~masks).sum(-1)
        best = masks.gather(-1, scores.argmax(-1, keepdim=True)).squeeze(-1)
        if mass.ndim > 2:
            mass, best = mass.flatten(2).sum(-1), best.flatten(2).all(-1)
        self._last = (mass * counted, ~best & counted, start)

    def commit(self, tokens: torch.Tensor, frontier: torch.Tensor) -> None:
        """Every sample's tokens before generation position `frontier[b]` (B,) are final."""
        if self._last is not None:
            mass, overridden, start = self._last
            offsets = start[:, None] + torch.arange(mass.shape[1], device=mass.device)
            final = offsets < frontier[:, None].to(mass.device)
            self.masked_mass += (mass * final).sum(1)
            self.overrides += (overridden & final).sum(1)
            self._last = None
        target = min(int(frontier.min()), self.num_positions)
        for position in range(self.position, target):
            self.constraint.advance(self._column(tokens, position))
        self.position = max(self.position, target)


def _allowed_or_first(tokens: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """`tokens` (B[, K]) with each disallowed one replaced by the first allowed id.

    A draft the constraint disallows has p = 0 and is rejected, so the positions after it are
    not accepted in this pass whatever their masks; feeding an allowed stand-in keeps the
    constraint's state one it was built for (grammars assume they only see allowed tokens).
    """
    ok = allowed.gather(-1, tokens.long().unsqueeze(-1)).squeeze(-1)
    return torch.where(ok, tokens, allowed.int().argmax(-1).to(tokens.dtype))


class ConstraintProcessor:
    """What a pipeline hands a decoder: makes a constraint per micro-batch and gathers figures.

    Args:
        make_constraint: ``(batch, device) -> TokenConstraint`` for a new micro-batch.

    ``constraints`` lists the constraint of every micro-batch decoded so far, in order;
    ``masked_mass`` and ``overrides`` give the per-sample intervention figures over all of them.
    """

    def __init__(self, make_constraint: ConstraintFactory):
        self.make_constraint = make_constraint
        self.constraints: list[TokenConstraint] = []
        self.runs: list[ConstraintRun] = []

    def start(self, batch: int, generation_tokens: torch.Tensor, device: torch.device
              ) -> ConstraintRun:
        """A run over a new micro-batch of `batch` samples whose tokens are produced in the
        order `generation_tokens` (token indices, e.g. `order.plan.target_indices`)."""
        constraint = self.make_constraint(batch, device)
        self.constraints.append(constraint)
        self.runs.append(ConstraintRun(constraint, generation_tokens, batch, device))
        return self.runs[-1]

    @property
    def masked_mass(self) -> torch.Tensor:
        """(samples,) probability mass the mask removed, summed over each sample's positions."""
        return torch.cat([run.masked_mass.cpu() for run in self.runs]) if self.runs else torch.zeros(0)

    @property
    def overrides(self) -> torch.Tensor:
        """(samples,) number of positions where the most likely id was disallowed."""
        if not self.runs:
            return torch.zeros(0, dtype=torch.long)
        return torch.cat([run.overrides.cpu() for run in self.runs])
