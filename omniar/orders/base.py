"""Generation orders as data.

An `Order` lays out the tokens of one sample (a grid, scales, a sequence) and says, for each
generation step, which token positions are fed (their content) and which are produced. From that
schedule follow, without any order-specific model code:

- ranks: a token fed at step s has rank s, the condition prefix rank 0, so attention is causal
  across steps and bidirectional within one (`omniar.models.attention_mask`);
- position ids: the order's coordinates of each fed token (identity rotation for the prefix);
- teacher forcing: the whole schedule fed at once, with the logits of each step's targets read
  from the same slots that produce them during decoding.

By default the targets of a step are predicted by the last `len(targets)` slots fed in that step
(the prefix counts as step 0's feed). Orders with other wiring (neighbor's two heads, next-scale's
feature inputs) override `feed` or `step_logits`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import torch


@dataclass(frozen=True)
class Step:
    """Token indices fed at a step (empty at step 0: only the prefix) and produced by it."""

    inputs: torch.Tensor
    targets: torch.Tensor


@dataclass(frozen=True)
class TeacherForcingPlan:
    """The whole schedule flattened: what is fed, at which rank, and which slot predicts what.

    `predictor_slots` index the fed sequence *after* the prefix; -k means the k-th prefix slot
    from the end.
    """

    feed_indices: torch.Tensor
    feed_ranks: torch.Tensor
    predictor_slots: torch.Tensor
    target_indices: torch.Tensor


class Order(ABC):
    """A token layout and its generation schedule."""

    name: str = "order"

    @property
    @abstractmethod
    def num_tokens(self) -> int:
        """Tokens per sample."""

    @property
    @abstractmethod
    def num_axes(self) -> int:
        """Coordinates per token (the transformer's `rope_axes`)."""

    @abstractmethod
    def build_steps(self) -> list[Step]:
        """The schedule; step 0 feeds nothing but the prefix."""

    @abstractmethod
    def token_positions(self) -> torch.Tensor:
        """(num_tokens, num_axes) float coordinates of each token when it is fed."""

    @cached_property
    def steps(self) -> list[Step]:
        steps = self.build_steps()
        produced = torch.cat([step.targets for step in steps])
        if produced.sort().values.tolist() != list(range(self.num_tokens)):
            raise ValueError(f"{self.name}: the schedule must produce every token exactly once")
        return steps

    @property
    def num_steps(self) -> int:
        """Forward passes of sequential decoding."""
        return len(self.steps)

    @cached_property
    def plan(self) -> TeacherForcingPlan:
        feeds, ranks, predictors, targets = [], [], [], []
        fed = 0
        for rank, step in enumerate(self.steps):
            feeds.append(step.inputs)
            ranks.append(torch.full((len(step.inputs),), rank, dtype=torch.long))
            fed += len(step.inputs)
            predictors.append(torch.arange(fed - len(step.targets), fed))
            targets.append(step.targets)
        return TeacherForcingPlan(
            torch.cat(feeds).long(), torch.cat(ranks), torch.cat(predictors), torch.cat(targets).long()
        )

    @cached_property
    def positions(self) -> torch.Tensor:
        positions = self.token_positions().float()
        if tuple(positions.shape) != (self.num_tokens, self.num_axes):
            raise ValueError(f"{self.name}: token_positions must be ({self.num_tokens}, {self.num_axes})")
        return positions

    def feed(self, tokens: torch.Tensor, indices: torch.Tensor, context: Any = None) -> dict[str, torch.Tensor]:
        """Model inputs for the tokens at `indices`: their ids (orders may feed features instead)."""
        return {"tokens": tokens[:, indices.to(tokens.device)]}

    def step_inputs(self, tokens: torch.Tensor, step_index: int, context: Any = None) -> dict[str, torch.Tensor]:
        """Everything the model needs to run decoding step `step_index` (> 0) after the cache."""
        step = self.steps[step_index]
        batch = tokens.shape[0]
        device = tokens.device
        inputs = self.feed(tokens, step.inputs, context)
        inputs["position_ids"] = self.positions[step.inputs].to(device).expand(batch, -1, -1)
        inputs["ranks"] = torch.full((batch, len(step.inputs)), step_index, dtype=torch.long, device=device)
        return inputs

    def step_logits(self, logits: torch.Tensor, step_index: int, output: Any = None) -> torch.Tensor:
        """Logits of this step's targets from the logits of the slots fed in it."""
        return logits[:, logits.shape[1] - len(self.steps[step_index].targets):]

    def teacher_forcing_inputs(self, tokens: torch.Tensor, context: Any = None) -> dict[str, torch.Tensor]:
        """Model inputs that feed the whole schedule at once (the prefix is added by the model)."""
        plan = self.plan
        batch = tokens.shape[0]
        inputs = self.feed(tokens, plan.feed_indices, context)
        inputs["position_ids"] = self.positions[plan.feed_indices].to(tokens.device).expand(batch, -1, -1)
        inputs["ranks"] = plan.feed_ranks.to(tokens.device).expand(batch, -1)
        return inputs

    def training_logits(self, logits: torch.Tensor, prefix_length: int, output: Any = None) -> torch.Tensor:
        """Logits aligned with `plan.target_indices`, from a teacher-forced forward pass."""
        slots = self.plan.predictor_slots.to(logits.device) + prefix_length
        if int(slots.min()) < 0:
            raise ValueError(f"{self.name}: the prefix is too short for the first step's targets")
        return logits[:, slots]

    def training_targets(self, tokens: torch.Tensor) -> torch.Tensor:
        """The tokens each training logit should predict."""
        return tokens[:, self.plan.target_indices.to(tokens.device)]

    def check_tokens(self, tokens: torch.Tensor) -> None:
        if tokens.ndim < 2 or tokens.shape[1] != self.num_tokens:
            raise ValueError(
                f"{self.name}: expected tokens of shape (batch, {self.num_tokens}[, codebooks]), "
                f"got {tuple(tokens.shape)}"
            )
