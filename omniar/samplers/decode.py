"""The decoding state every strategy shares, and sequential decoding (one step per pass).

`DecodingState` holds the KV cache, the tokens, classifier-free guidance and the constraint of
one micro-batch; `decode_sequential` runs any order's schedule one step per forward pass through
the decode driver (`omniar.samplers.driver`), which the parallel decodings share.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import torch

from omniar.models.ar_model import AutoregressiveModel
from omniar.orders.base import Order
from omniar.samplers.compiled_step import compiled_step
from omniar.samplers.condition import Condition
from omniar.samplers.constraints import ConstraintProcessor
from omniar.samplers.driver import DecodeStats, StepCallback, drive
from omniar.samplers.guidance import GuidanceSchedule, combine_guided_rows
from omniar.samplers.processors import SamplingConfig, sample
from omniar.samplers.stopping import StopCondition


class DecodingState:
    """The cache, tokens and guidance bookkeeping shared by every decoding strategy."""

    def __init__(self, model: AutoregressiveModel, order: Order, condition: Condition,
                 guidance: GuidanceSchedule, extra_slots: int = 0, compile: bool = False,
                 constraint: ConstraintProcessor | None = None):
        self.model, self.order, self.condition, self.guidance = model, order, condition, guidance
        self.guided = guidance.enabled
        self.batch = condition.batch_size
        device = model.device
        rows = 2 * self.batch if self.guided else self.batch
        length = condition.prefix_length + len(order.plan.feed_indices) + extra_slots
        self.step = compiled_step(model) if compile else None
        if self.step is not None:
            self.cache = model.new_cache(rows, length, fixed_shape=True)
        else:
            self.cache = model.new_cache(rows, length)
        shape = (self.batch, order.num_tokens)
        if model.config.num_codebooks > 1:
            shape += (model.config.num_codebooks,)
        self.tokens = torch.zeros(shape, dtype=torch.long, device=device)
        self.adaln_cond = None
        self.forward_passes = 0
        self.device = device
        self.scales = guidance.scale_table(order.num_steps, device) if self.guided else None
        self.constraint = None if constraint is None else constraint.start(
            self.batch, order.plan.target_indices, device)

    def rows(self, tokens: torch.Tensor) -> torch.Tensor:
        """Tokens as fed to the model: duplicated for the unconditional half under guidance."""
        return torch.cat([tokens, tokens]) if self.guided else tokens

    def prefill(self):
        output = self.model(**self.condition.model_kwargs(self.guided, self.device), cache=self.cache)
        self.adaln_cond = output.adaln_cond
        self.forward_passes += 1
        return output

    def run(self, inputs: dict[str, Any]):
        """One forward pass of `inputs` after what the cache holds (compiled if asked)."""
        if self.step is not None:
            output = self.step(self.model, self.cache, inputs, self.adaln_cond)
        else:
            output = self.model(**inputs, cache=self.cache, adaln_cond=self.adaln_cond)
        self.forward_passes += 1
        return output

    def guided_logits(self, logits: torch.Tensor, steps: int | torch.Tensor,
                      batch: int | None = None) -> torch.Tensor:
        """Combine the two halves of a guided batch, every decoding calls this (CFG in one place).

        `steps` is the step index all slots produce, or a tensor of step indices per slot shaped
        like the slot dimensions of one half ((B, W), (1, W), ...): each slot gets its step's scale.
        `batch` is the size of one half when `logits` hold a subset of the samples.
        """
        if not self.guided:
            return logits
        if isinstance(steps, int):
            scale = self.guidance.scale_at(steps, self.order.num_steps)
        else:
            scale = self.scales[steps]
        return combine_guided_rows(logits, self.batch if batch is None else batch, scale)

    def constrain(self, logits: torch.Tensor, tokens: torch.Tensor, start: torch.Tensor | int
                  ) -> torch.Tensor:
        """Mask guided `logits` (B, W, ...) of generation positions `start + j` to what the
        constraint allows after each position's prefix in `tokens` (final tokens and drafts)."""
        if self.constraint is None:
            return logits
        if isinstance(start, int):
            start = torch.full((self.batch,), start, dtype=torch.long, device=self.device)
        return self.constraint(logits, tokens, start)

    def commit(self, tokens: torch.Tensor, frontier: torch.Tensor | int) -> None:
        """Every sample's tokens before generation position `frontier` are final."""
        if self.constraint is None:
            return
        if isinstance(frontier, int):
            frontier = torch.full((self.batch,), frontier, dtype=torch.long, device=self.device)
        self.constraint.commit(tokens, frontier)


class SequentialStrategy:
    """One schedule step per forward pass: the prefix pass samples step 0, pass i step i."""

    def __init__(self, state: DecodingState, sampling: SamplingConfig,
                 generator: torch.Generator | None, context: Any, stop: StopCondition | None):
        self.state, self.sampling, self.generator = state, sampling, generator
        self.context, self.stop = context, stop
        self.steps = state.order.steps
        self.index = 0
        self.produced = 0
        self.stopped = False

    @property
    def finished(self) -> bool:
        return self.stopped or self.index >= len(self.steps)

    def step(self) -> Iterable[int]:
        state, order, index, stop = self.state, self.state.order, self.index, self.stop
        if index == 0:
            output = state.prefill()
        else:
            output = state.run(order.step_inputs(state.rows(state.tokens), index, self.context))
        logits = state.guided_logits(order.step_logits(output.logits, index, output), index)
        logits = state.constrain(logits, state.tokens, self.produced)
        targets = self.steps[index].targets.to(state.device)
        new = sample(logits, self.sampling, self.generator)
        if stop is not None:
            new = stop.update(new)
        state.tokens[:, targets] = new
        self.produced += len(targets)
        state.commit(state.tokens, self.produced)
        self.index += 1
        if stop is not None and stop.all_done:
            state.tokens[:, self.produced:] = stop.pad_token_id
            self.stopped = True
        return (index,)

    def summary(self) -> tuple[int, int, dict[str, float]]:
        batch = self.state.batch
        return self.produced * batch, self.state.forward_passes * batch, {}


@torch.no_grad()
def decode_sequential(
    model: AutoregressiveModel,
    order: Order,
    condition: Condition,
    sampling: SamplingConfig = SamplingConfig(),
    guidance: GuidanceSchedule = GuidanceSchedule(),
    generator: torch.Generator | None = None,
    context: Any = None,
    on_step: StepCallback | None = None,
    stop: StopCondition | None = None,
    compile: bool = False,
    constraint: ConstraintProcessor | None = None,
) -> tuple[torch.Tensor, DecodeStats]:
    """Generate all tokens of `order` for each sample, one schedule step per forward pass.

    Returns tokens (B, N) or (B, N, K) and the decoding stats. `context` is handed to the order's
    feed (next-scale orders need the tokenizer there). With `stop`, variable-length sequences
    end at their end-of-sequence token and decoding ends once every sample has. `compile` runs
    the steps after the prefill through `torch.compile` (`omniar.samplers.compiled_step`);
    `constraint` masks every step to the ids its rule allows (`omniar.samplers.constraints`).
    """
    started = time.perf_counter()
    state = DecodingState(model, order, condition, guidance, compile=compile, constraint=constraint)
    return drive(SequentialStrategy(state, sampling, generator, context, stop), on_step, started)
