"""Speculative Jacobi decoding (SJD): draft a window of future steps and verify them in one pass.

Teng et al., "Accelerating Auto-regressive Text-to-Image Generation with Training-free
Speculative Jacobi Decoding" (2024). It works for any order whose schedule steps are token
positions or groups of them (raster 1D/2D, block orders, neighbor diagonals, the audio, mesh and
graph sequences); it only uses the `Order` interface (schedule, teacher-forcing feed, ranks,
positions, `step_logits`), never a particular order.

One forward pass, for a sample whose first `a` steps are final (its *frontier*) and a window of
`L` draft steps:

1. Drafts. Steps a .. a+L-1 hold draft tokens, each with the distribution `q` it was drawn from.
   Steps entering the window are initialised (`init`, below); every other draft is a fresh draw
   from the model's distribution for that step in the previous pass (`q` = that distribution).
2. Feed. The inputs of steps a .. a+L at their ranks and positions: a contiguous slice of the
   order's teacher-forcing feed. The inputs of step a are final tokens ("the last accepted"),
   later steps' inputs contain drafts. The first pass also feeds the condition prefix (step 0's
   feed), so it verifies drafts too. Samples with shorter slices are padded with invalid slots.
3. Target distribution `p` of every fed step: `order.step_logits` on the slots fed at that step,
   classifier-free guidance at that step's scale, then `sampling_probabilities` (temperature,
   top-k, top-p, min-p): the functions and the order of sequential decoding.
4. Verify (`omniar.samplers.speculative`): every drafted variable (token, codebook) is accepted
   with probability min(1, p/q). The leading run of fully accepted steps is kept; the first step
   that is not fully accepted keeps its accepted variables and redraws the others from
   normalise(max(0, p - q)); if all L drafts pass, the bonus step a+L is drawn from `p`. Each
   pass therefore gains 1 .. L+1 steps per sample, each sample its own number.
5. The computed steps after the new frontier become the next drafts (fresh draws from `p`); the
   cache of each sample is rolled back to the prefix plus the inputs of its final steps (its own
   length, not the batch minimum). Under guidance the conditional and null rows of a sample share
   that length, so they stay in lockstep.

Why the output distribution is the sequential one: the inputs that produced `p` for the first
unfinished step are final tokens, so `p` is the sequential distribution there; the draft was
drawn from `q` independently of everything the acceptance test looks at, so the speculative
rule outputs a token distributed as `p`. A later step is only verified once the earlier ones are
accepted, i.e. when its inputs are the final tokens too. Greedy decoding (temperature 0) has
one-hot `p`: a draft is accepted exactly when it is the argmax, so the result equals sequential
greedy decoding token for token (the plain Jacobi fixed point).

Draft initialisation (`init`):

- "random": uniform over the vocabulary; `q` is uniform (1/V per token).
- "left": a copy of the token's left neighbour: the token one column to the left in the order's
  coordinates, else the one above (previous row), else the last token of the previous step, and
  only if that token belongs to an earlier step. The copy is fixed when the draft is made, so
  `q` is the point mass at the copied value: the draft is accepted with probability p(x) and
  otherwise replaced by a draw from `p` with x removed (renormalised), which is exact. Tokens
  without such a neighbour (the first one) start uniform, as with "random".

With `constraint` (`omniar.samplers.constraints`), the target `p` of every window position is
masked to what the constraint allows after that position's prefix (final tokens, then the drafts
before it); a position is only accepted once its prefix is final, so the output distribution is
that of constrained sequential decoding.

With `stop` (`omniar.samplers.stopping`), the stop condition reads each sample's newly final
tokens; a sample ends at the step of its last token (by default the first `eos_token_id`) once
that token is final, and its later tokens become `pad_token_id`, as in sequential decoding.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from omniar.models.ar_model import ARModelOutput, AutoregressiveModel
from omniar.orders.base import Order
from omniar.samplers.condition import Condition
from omniar.samplers.constraints import ConstraintProcessor
from omniar.samplers.decode import DecodingState
from omniar.samplers.driver import DecodeStats, StepCallback, drive
from omniar.samplers.guidance import GuidanceSchedule
from omniar.samplers.processors import (
    SamplingConfig,
    sample_from_probabilities,
    sampling_probabilities,
)
from omniar.samplers.speculative import speculative_accept
from omniar.samplers.stopping import StopCondition

INITS = ("random", "left")
PLAIN_SAMPLING = SamplingConfig()
NO_GUIDANCE = GuidanceSchedule()


class JacobiLayout:
    """Per-order bookkeeping: cumulative feed/target offsets of each step and draft sources.

    Targets are indexed in *generation order* (`order.plan.target_indices`), where every step's
    targets are contiguous, so a window of steps is a contiguous range of generation positions.
    """

    def __init__(self, order: Order, window: int):
        steps = order.steps
        num_steps = len(steps)
        zero = torch.zeros(1, dtype=torch.long)
        self.input_counts = torch.tensor([len(step.inputs) for step in steps], dtype=torch.long)
        self.target_counts = torch.tensor([len(step.targets) for step in steps], dtype=torch.long)
        self.input_offsets = torch.cat([zero, self.input_counts.cumsum(0)])
        self.target_offsets = torch.cat([zero, self.target_counts.cumsum(0)])
        self.num_steps = num_steps
        self.num_tokens = order.num_tokens
        self.gen_token = order.plan.target_indices.clone()
        self.predictor = order.plan.predictor_slots.clone()
        step_of_gen = torch.repeat_interleave(torch.arange(num_steps), self.target_counts)
        self.step_of_gen = torch.cat([step_of_gen, torch.tensor([num_steps])])
        ends = (torch.arange(num_steps + 1) + window + 1).clamp(max=num_steps)
        self.feed_width = int((self.input_offsets[ends] - self.input_offsets).max())
        self.target_width = int((self.target_offsets[ends] - self.target_offsets).max())
        self.left_source = self._left_sources(order, step_of_gen)

    def _left_sources(self, order: Order, step_of_gen: torch.Tensor) -> torch.Tensor:
        """Per generation position, the token index a "left" draft copies (-1: none)."""
        step_of_token = torch.empty(self.num_tokens, dtype=torch.long)
        step_of_token[self.gen_token] = step_of_gen
        positions = order.positions
        where = {tuple(p.tolist()): index for index, p in enumerate(positions)}
        sources = torch.full((self.num_tokens,), -1, dtype=torch.long)
        for gen, token in enumerate(self.gen_token.tolist()):
            step = int(step_of_gen[gen])
            candidates = []
            for axis in range(positions.shape[1] - 1, max(positions.shape[1] - 3, -1), -1):
                moved = positions[token].clone()
                moved[axis] -= 1
                candidates.append(where.get(tuple(moved.tolist())))
            if step > 0:
                candidates.append(int(self.gen_token[self.target_offsets[step] - 1]))
            for candidate in candidates:
                if candidate is not None and int(step_of_token[candidate]) < step:
                    sources[gen] = candidate
                    break
        return sources

    def to(self, device: torch.device) -> JacobiLayout:
        for name, value in vars(self).items():
            if isinstance(value, torch.Tensor):
                setattr(self, name, value.to(device))
        return self


class _JacobiRun:
    """The per-sample state of one batch being decoded (frontiers, drafts and their q): the
    jacobi strategy of the decode driver (`omniar.samplers.driver`)."""

    def __init__(self, state: DecodingState, layout: JacobiLayout, sampling: SamplingConfig,
                 generator: torch.Generator | None, context: Any, stop: StopCondition | None,
                 init: str, window: int, max_iterations: int | None):
        self.state, self.layout, self.sampling = state, layout, sampling
        self.generator, self.context, self.stop, self.init = generator, context, stop, init
        self.window, self.max_iterations = window, max_iterations
        self.passes = 0
        self.reported = 0
        self.order = state.order
        device = state.device
        self.batch = state.batch
        self.vocab = state.model.config.vocab_size
        self.work = state.tokens.clone()
        self.frontier = torch.zeros(self.batch, dtype=torch.long, device=device)
        self.draft_end = torch.zeros(self.batch, dtype=torch.long, device=device)
        code_shape = tuple(state.tokens.shape[2:])
        self.q = torch.zeros(
            self.batch, layout.target_width, *code_shape, self.vocab, device=device
        )
        self.default_wiring = type(self.order).step_logits is Order.step_logits
        self.rows = torch.arange(self.batch, device=device)[:, None]
        self.prefix_length = 0
        self.kept_length = torch.zeros(self.batch, dtype=torch.long, device=device)
        self.tokens_generated = 0
        self.sample_passes = 0
        self.accepted_drafts = 0

    # ---- the driver's strategy interface ------------------------------------------------

    @property
    def finished(self) -> bool:
        return not bool((self.frontier < self.layout.num_steps).any())

    def step(self) -> range:
        """One pass: draft, feed, verify, commit; returns the steps now final for all samples."""
        layout, state, num_steps = self.layout, self.state, self.layout.num_steps
        first = self.passes == 0
        late = self.max_iterations is not None and self.passes >= self.max_iterations
        size = 0 if late else self.window
        active = self.frontier < num_steps
        draft_limit = (self.frontier + size).clamp(max=num_steps)
        end = (self.frontier + size + 1).clamp(max=num_steps)
        self.draft_end = torch.maximum(self.draft_end, self.frontier)
        self.init_drafts(draft_limit)
        output = self.forward(end, first)
        logits = self.target_logits(output, end, first)
        logits = state.constrain(logits, self.work, layout.target_offsets[self.frontier])
        frontier = self.verify(sampling_probabilities(logits, self.sampling), draft_limit, end)
        state.commit(self.work, layout.target_offsets[frontier])
        self.rollback(frontier, end, active)
        self.sample_passes += int(active.sum())
        self.frontier = frontier
        self.passes += 1
        done = int(frontier.min())
        reported, self.reported = self.reported, done
        return range(reported, done)

    def summary(self) -> tuple[int, int, dict[str, float]]:
        passes_per_sample = max(self.sample_passes, 1)
        extra = {
            "window": float(self.window),
            "mean_accepted_tokens_per_pass": round(self.tokens_generated / passes_per_sample, 4),
            "mean_accepted_draft_steps_per_pass": round(self.accepted_drafts / passes_per_sample, 4),
        }
        return self.tokens_generated, self.sample_passes, extra

    # ---- per-sample windows -------------------------------------------------------------

    def window_positions(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Generation positions of each sample's window (B, W) and their clamped version."""
        width = torch.arange(self.layout.target_width, device=self.frontier.device)
        gen = self.layout.target_offsets[self.frontier][:, None] + width
        return gen, gen.clamp(max=self.layout.num_tokens - 1)

    def init_drafts(self, draft_limit: torch.Tensor) -> None:
        """Draft every step in [draft_end, draft_limit) of each sample with the `init` rule."""
        offsets = self.layout.target_offsets
        gen, clamped = self.window_positions()
        need = (gen >= offsets[self.draft_end][:, None]) & (gen < offsets[draft_limit][:, None])
        if not bool(need.any()):
            return
        slots = clamped % self.layout.target_width
        tokens = self.layout.gen_token[clamped]
        code_shape = tuple(self.work.shape[2:])
        uniform = torch.randint(
            0, self.vocab, (*need.shape, *code_shape), generator=self.generator, device=need.device
        )
        if self.init == "random":
            rows, cols = need.nonzero(as_tuple=True)
            self.work[rows, tokens[rows, cols]] = uniform[rows, cols]
            self.q[rows, slots[rows, cols]] = 1.0 / self.vocab
            return
        sources = self.layout.left_source[clamped]
        for column in need.any(0).nonzero().flatten().tolist():
            rows = need[:, column].nonzero().flatten()
            source = sources[rows, column]
            has = (source >= 0).view(-1, *([1] * len(code_shape)))
            value = torch.where(has, self.work[rows, source.clamp(min=0)], uniform[rows, column])
            self.work[rows, tokens[rows, column]] = value
            point = torch.nn.functional.one_hot(value, self.vocab).float()
            flat = torch.full_like(point, 1.0 / self.vocab)
            self.q[rows, slots[rows, column]] = torch.where(has[..., None], point, flat)

    # ---- one forward pass ---------------------------------------------------------------

    def feed(self, end: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each sample's slice of the teacher-forcing feed: inputs of steps [frontier, end)."""
        offsets = self.layout.input_offsets
        width = self.layout.feed_width
        count = offsets[end] - offsets[self.frontier]
        arange = torch.arange(width, device=count.device)
        index = (offsets[self.frontier][:, None] + arange).clamp(max=max(int(offsets[-1]) - 1, 0))
        valid = arange < count[:, None]
        state = self.state
        full = self.order.teacher_forcing_inputs(state.rows(self.work), self.context)
        index, valid = state.rows(index), state.rows(valid)
        rows = torch.arange(index.shape[0], device=index.device)[:, None]
        inputs = {name: value[rows, index] for name, value in full.items()}
        inputs["valid"] = valid
        return inputs

    def forward(self, end: torch.Tensor, first: bool) -> ARModelOutput:
        state = self.state
        inputs = self.feed(end) if self.layout.feed_width else {}
        if not first:
            return state.run(inputs)
        kwargs = state.condition.model_kwargs(state.guided, state.device)
        output = state.model(**kwargs, **inputs, cache=state.cache)
        state.adaln_cond = output.adaln_cond
        state.forward_passes += 1
        self.prefix_length = output.prefix_length
        return output

    def target_logits(self, output: ARModelOutput, end: torch.Tensor, first: bool) -> torch.Tensor:
        """Guided logits (B, W, [K,] V) per window position (garbage outside [frontier, end))."""
        base = self.prefix_length if first else 0
        if self.default_wiring:
            return self._logits_from_predictors(output, base)
        return self._logits_by_step(output, end, base)

    def _logits_from_predictors(self, output: ARModelOutput, base: int) -> torch.Tensor:
        """Default wiring: a step's targets come from the last slots fed in it (plan slots)."""
        _, clamped = self.window_positions()
        layout = self.layout
        slot = base + layout.predictor[clamped] - layout.input_offsets[self.frontier][:, None]
        slot = self.state.rows(slot.clamp(0, output.logits.shape[1] - 1))
        fed_rows = torch.arange(slot.shape[0], device=slot.device)[:, None]
        return self.state.guided_logits(output.logits[fed_rows, slot], layout.step_of_gen[clamped])

    def _logits_by_step(self, output: ARModelOutput, end: torch.Tensor, base: int) -> torch.Tensor:
        """Orders with their own `step_logits`: call it per step on exactly that step's slots."""
        layout, state = self.layout, self.state
        shape = (self.batch, layout.target_width, *output.logits.shape[2:])
        logits = output.logits.new_zeros(shape, dtype=torch.float32)
        for step in range(int(self.frontier.min()), int(end.max())):
            rows = ((self.frontier <= step) & (step < end)).nonzero().flatten()
            if not len(rows):
                continue
            if step == 0:
                start, count = torch.zeros_like(rows), self.prefix_length
            else:
                offset = layout.input_offsets[step] - layout.input_offsets[self.frontier[rows]]
                start = base + offset
                count = int(layout.input_counts[step])
            slots = start[:, None] + torch.arange(count, device=rows.device)
            fed_rows = torch.cat([rows, rows + self.batch]) if state.guided else rows
            fed_slots = torch.cat([slots, slots]) if state.guided else slots
            adaln = None if output.adaln_cond is None else output.adaln_cond[fed_rows]
            index = (fed_rows[:, None], fed_slots)
            vertical = output.vertical_logits
            part = ARModelOutput(
                output.logits[index], output.hidden[index], adaln,
                self.prefix_length if step == 0 else 0,
                None if vertical is None else vertical[index],
            )
            step_logits = self.order.step_logits(part.logits, step, part)
            step_logits = state.guided_logits(step_logits, step, batch=len(rows))
            first = layout.target_offsets[step] - layout.target_offsets[self.frontier[rows]]
            count = int(layout.target_counts[step])
            where = first[:, None] + torch.arange(count, device=rows.device)
            logits[rows[:, None], where] = step_logits.to(logits.dtype)
        return logits

    def verify(self, probs: torch.Tensor, draft_limit: torch.Tensor,
               end: torch.Tensor) -> torch.Tensor:
        """Accept/replace drafts, write final tokens and next drafts; returns the new frontiers."""
        layout = self.layout
        offsets = layout.target_offsets
        gen, clamped = self.window_positions()
        code_dims = self.work.ndim - 2
        slots = clamped % layout.target_width
        tokens = layout.gen_token[clamped]
        drafted = gen < offsets[draft_limit][:, None]
        computed = gen < offsets[end][:, None]
        draft = self.work[self.rows, tokens]
        q = self.q[self.rows, slots]
        mask = drafted.view(*drafted.shape, *([1] * code_dims)).expand(draft.shape)
        accepted, final = speculative_accept(probs, q, draft, self.generator, mask)
        whole = accepted.flatten(2).all(-1) if code_dims else accepted
        bad = ~whole | ~computed
        bad = torch.cat([bad, torch.ones_like(bad[:, :1])], dim=1)
        first_bad = offsets[self.frontier] + bad.int().argmax(1)
        stuck = layout.step_of_gen[first_bad.clamp(max=layout.num_tokens)]
        frontier = torch.where(stuck < layout.num_steps, stuck + 1, stuck)
        frontier = torch.where(self.frontier < layout.num_steps, frontier, self.frontier)
        self.accepted_drafts += int((torch.minimum(stuck, draft_limit) - self.frontier).sum())
        produced = gen < offsets[frontier][:, None]
        rows, cols = produced.nonzero(as_tuple=True)
        self.work[rows, tokens[rows, cols]] = final[rows, cols]
        self.state.tokens[rows, tokens[rows, cols]] = final[rows, cols]
        fresh = computed & ~produced
        if bool(fresh.any()):
            redraw = sample_from_probabilities(probs, self.generator)
            rows, cols = fresh.nonzero(as_tuple=True)
            self.work[rows, tokens[rows, cols]] = redraw[rows, cols]
            self.q[rows, slots[rows, cols]] = probs[rows, cols].to(self.q.dtype)
        self.draft_end = torch.maximum(end, frontier)
        counted = frontier
        if self.stop is not None:
            frontier, counted = self.apply_stop(frontier, produced, gen, final)
        self.tokens_generated += int((offsets[counted] - offsets[self.frontier]).sum())
        return frontier

    def apply_stop(self, frontier, produced, gen, final) -> tuple[torch.Tensor, torch.Tensor]:
        """Samples whose last token (as the stop condition reads it) is now final end at that
        token's step; their later tokens become pad, as in sequential decoding.

        Returns the frontiers (ended samples: all steps) and the steps actually decoded.
        """
        stop, layout = self.stop, self.layout
        last = stop.observe(final, produced, gen)
        ended = (last < layout.target_offsets[frontier]) & ~stop.done
        if not bool(ended.any()):
            return frontier, frontier
        last_step = layout.step_of_gen[last.clamp(max=layout.num_tokens)]
        cut = layout.target_offsets[(last_step + 1).clamp(max=layout.num_steps)]
        after = torch.arange(layout.num_tokens, device=cut.device)[None] >= cut[:, None]
        rows, cols = (ended[:, None] & after).nonzero(as_tuple=True)
        self.work[rows, layout.gen_token[cols]] = stop.pad_token_id
        self.state.tokens[rows, layout.gen_token[cols]] = stop.pad_token_id
        stop.done |= ended
        counted = torch.where(ended, last_step + 1, frontier)
        return torch.where(ended, torch.full_like(frontier, layout.num_steps), frontier), counted

    def rollback(self, frontier: torch.Tensor, end: torch.Tensor, active: torch.Tensor) -> None:
        """Keep the prefix and the inputs of each sample's final steps; drop the rest.

        Samples that had already finished keep their length (their pass fed only padding).
        """
        kept = self.prefix_length + self.layout.input_offsets[torch.minimum(frontier, end)]
        self.kept_length = torch.where(active, kept, self.kept_length)
        self.state.cache.rollback(self.state.rows(self.kept_length))


@torch.no_grad()
def decode_jacobi(
    model: AutoregressiveModel,
    order: Order,
    condition: Condition,
    sampling: SamplingConfig = PLAIN_SAMPLING,
    guidance: GuidanceSchedule = NO_GUIDANCE,
    generator: torch.Generator | None = None,
    context: Any = None,
    on_step: StepCallback | None = None,
    stop: StopCondition | None = None,
    compile: bool = False,
    constraint: ConstraintProcessor | None = None,
    window: int = 16,
    init: str = "random",
    max_iterations: int | None = None,
) -> tuple[torch.Tensor, DecodeStats]:
    """Generate all tokens of `order` with speculative Jacobi decoding (see the module doc).

    Args:
        window: draft steps verified per pass (L); 0 decodes one step per pass (sequential).
        init: how steps entering the window are drafted: "random" or "left".
        max_iterations: passes with drafts; later passes use window 0, so decoding always
            completes and stays exact. None = no limit.

    Returns tokens (B, N) or (B, N, K), distributed as with `decode_sequential`, and stats whose
    `extra` holds the window, the mean tokens each sample gains per pass
    (`mean_accepted_tokens_per_pass`, the prefix pass included) and the mean accepted draft steps
    per pass. `on_step` is called once per step, when every sample of the batch has it final.
    """
    if not isinstance(window, int) or isinstance(window, bool) or window < 0:
        raise ValueError(f"window must be an integer >= 0 (draft steps per pass), got {window!r}")
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    if max_iterations is not None and (not isinstance(max_iterations, int) or max_iterations < 0):
        raise ValueError(f"max_iterations must be None or an integer >= 0, got {max_iterations!r}")
    started = time.perf_counter()
    layout = JacobiLayout(order, window).to(model.device)
    state = DecodingState(model, order, condition, guidance, extra_slots=layout.feed_width,
                          compile=compile, constraint=constraint)
    run = _JacobiRun(state, layout, sampling, generator, context, stop, init, window, max_iterations)
    return drive(run, on_step, started)
