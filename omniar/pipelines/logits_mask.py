"""Grammar-constrained sampling: a model wrapper that masks logits to the tokens a grammar allows.

A pipeline wraps its transformer in `MaskedLogitsModel` and hands the wrapper to the shared
decode loop instead of the model, so constrained decoding needs no change to the loop or the
samplers. The wrapper feeds its grammar every token the loop feeds the model and masks the
logits of the last slot (the one sequential decoding samples from). A call with the condition
prefix starts a new micro-batch, and with it a new grammar.

Masked logits are set to the dtype's lowest finite value rather than ``-inf``: under
classifier-free guidance the conditional and null rows carry the same tokens, hence the same
mask, and ``uncond + scale * (cond - uncond)`` of two ``-inf`` would be NaN. The grammar runs on
the conditional rows only; the null rows of a guided batch reuse their masks.

The wrapper also counts, per sample and over the steps before its sequence ends, how much the
mask changed the model's choice: ``masked_mass`` (summed probability the model put on
disallowed tokens) and ``overrides`` (steps where its most likely token was disallowed).
Pipelines report both per sample, so what the grammar imposed is never hidden.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import torch


class TokenGrammar(Protocol):
    """Per-sample state of a token grammar over a micro-batch of sequences."""

    def advance(self, tokens: torch.Tensor) -> None:
        """Take one token per sample, shape (batch,)."""

    def allowed(self) -> torch.Tensor:
        """(batch, vocab) bool mask of the tokens allowed next; at least one per row."""

    def finished(self) -> torch.Tensor:
        """(batch,) bool: which sequences have ended (their steps are not counted)."""


GrammarFactory = Callable[[int, torch.device], TokenGrammar]


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

    def new_cache(self, batch_size: int, max_length: int) -> Any:
        return self.model.new_cache(batch_size, max_length)


class MaskedLogitsModel(WrappedModel):
    """Wraps an `AutoregressiveModel` so that its last logits obey a grammar per sample.

    Args:
        model: the wrapped model (its ``device``, ``config`` and ``new_cache`` pass through).
        make_grammar: ``(batch, device) -> TokenGrammar`` for a new micro-batch.

    ``grammars`` lists the grammar of every micro-batch decoded so far, in order;
    ``masked_mass`` and ``overrides`` give the per-sample intervention counts over all of them.
    """

    def __init__(self, model: torch.nn.Module, make_grammar: GrammarFactory) -> None:
        super().__init__(model)
        self.make_grammar = make_grammar
        self.grammars: list[TokenGrammar] = []
        self._mass: list[torch.Tensor] = []
        self._overrides: list[torch.Tensor] = []
        self._rows = 0

    @property
    def masked_mass(self) -> torch.Tensor:
        """(samples,) probability mass the mask removed, summed over each sample's steps."""
        return torch.cat(self._mass) if self._mass else torch.zeros(0)

    @property
    def overrides(self) -> torch.Tensor:
        """(samples,) number of steps where the model's most likely token was disallowed."""
        return torch.cat(self._overrides) if self._overrides else torch.zeros(0, dtype=torch.long)

    def _start(self, rows: int, drop_condition: torch.Tensor | None) -> None:
        """New micro-batch: ``rows`` model rows, of which the first half are conditional when
        ``drop_condition`` marks the second half as the null condition (guidance)."""
        guided = drop_condition is not None and bool(drop_condition.any())
        if guided:
            half = rows // 2
            expected = torch.arange(rows, device=drop_condition.device) >= half
            if rows % 2 or not torch.equal(drop_condition.bool(), expected):
                raise ValueError("MaskedLogitsModel: a guided batch must be [conditional; null]")
            rows = half
        self._rows = rows
        self.grammars.append(self.make_grammar(rows, self.device))
        self._mass.append(torch.zeros(rows))
        self._overrides.append(torch.zeros(rows, dtype=torch.long))

    def __call__(self, tokens: torch.Tensor | None = None, **kwargs: Any) -> Any:
        output = self.model(tokens=tokens, **kwargs)
        if kwargs.get("with_prefix"):
            self._start(output.logits.shape[0], kwargs.get("drop_condition"))
        if not self.grammars:
            raise RuntimeError("MaskedLogitsModel: the first call must feed the prefix")
        grammar, rows = self.grammars[-1], self._rows
        if tokens is not None:
            for column in tokens[:rows].unbind(1):
                grammar.advance(column)
        allowed = grammar.allowed()
        last = output.logits[:, -1]
        conditional = last[:rows].float()
        counted = ~grammar.finished()
        mass = (conditional.softmax(-1) * ~allowed).sum(-1)
        self._mass[-1] += (mass * counted).cpu()
        best_masked = ~allowed[torch.arange(rows, device=allowed.device), conditional.argmax(-1)]
        self._overrides[-1] += (best_masked & counted).long().cpu()
        full = allowed.repeat(last.shape[0] // rows, 1)
        output.logits[:, -1] = last.masked_fill(~full, torch.finfo(last.dtype).min)
        return output
