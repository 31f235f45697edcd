"""The decode driver: the one pass loop every decoding strategy runs in.

A strategy (sequential, jacobi, zipar) says how one forward pass proposes and accepts tokens;
what the strategies share lives elsewhere once: the decoding state (`DecodingState`: cache,
prefill, tokens, classifier-free guidance, constraint) and, here, the loop itself, the step
callbacks and the stats.

A strategy runs passes until it is `finished`; each `step` is one forward pass (the first one
feeds the condition prefix) and returns the schedule steps that pass made final for every
sample, which the driver reports to `on_step` in that order. Stop conditions are applied by the
strategy where its tokens become final (`omniar.samplers.stopping`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import torch

if TYPE_CHECKING:
    from omniar.samplers.decode import DecodingState

StepCallback = Callable[[int, int, torch.Tensor], None]


@dataclass
class DecodeStats:
    """What decoding cost: forward passes, tokens produced (all samples), samples, wall time."""

    forward_passes: int = 0
    tokens_generated: int = 0
    seconds: float = 0.0
    samples: int = 0
    sample_passes: int = 0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def tokens_per_pass(self) -> float:
        """Tokens each sample gains per forward pass (1 for sequential raster decoding)."""
        return self.tokens_generated / max(self.sample_passes, 1)

    def as_dict(self) -> dict[str, float]:
        return {
            "forward_passes": self.forward_passes,
            "tokens_generated": self.tokens_generated,
            "samples": self.samples,
            "seconds": round(self.seconds, 4),
            "tokens_per_pass": round(self.tokens_per_pass, 3),
            **self.extra,
        }


class DecodeStrategy(Protocol):
    """How one forward pass proposes and accepts tokens (see the module docstring)."""

    state: DecodingState

    @property
    def finished(self) -> bool:
        """Whether every sample has all its tokens (or has stopped)."""

    def step(self) -> Iterable[int]:
        """One forward pass; the schedule steps it made final for every sample."""

    def summary(self) -> tuple[int, int, dict[str, float]]:
        """(tokens generated over all samples, passes summed over the samples still decoding
        in each, strategy figures for `DecodeStats.extra`)."""


def drive(strategy: DecodeStrategy, on_step: StepCallback | None, started: float
          ) -> tuple[torch.Tensor, DecodeStats]:
    """Run `strategy` to the end; returns its tokens and stats (wall time since `started`)."""
    state = strategy.state
    while not strategy.finished:
        for index in strategy.step():
            if on_step is not None:
                on_step(index, state.order.num_steps, state.tokens)
    tokens_generated, sample_passes, extra = strategy.summary()
    stats = DecodeStats(state.forward_passes, tokens_generated, time.perf_counter() - started,
                        state.batch, sample_passes, extra)
    return state.tokens, stats
