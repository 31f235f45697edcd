"""ZipAR: start the next row of a 2D raster grid before the current one is finished.

He et al., "ZipAR: Parallel Auto-regressive Image Generation through Spatial Locality" (2024).
Training-free and approximate: a token no longer sees the end of the rows above it.

Schedule. Row 0 starts with the prefix pass. Row r+1 starts once row r has `window` tokens;
from then on every started, unfinished row gains one token per forward pass. Token (r, c) is
therefore produced by pass r * window + c, and an R x C grid takes (R - 1) * window + C passes
instead of R * C. With window = C (the row length) this is sequential raster decoding.

What is fed. Each token is predicted as in sequential raster decoding: from the slot that feeds
its raster predecessor, (r, c) from a slot holding token (r, c-1) at that token's position, with
rank r * C + c, the raster step that produces (r, c). Ranks are raster steps, so a query sees
exactly the written tokens that come before it in raster order: rows above only as far as they
have been generated (the rest has no slot yet; the cache holds nothing but written slots), the
tokens fed in the same pass for the rows above (lower ranks), never a row below. The reference
implementation instead indexes a static cache by raster position and lets queries see slots of
tokens not generated yet; here those slots do not exist.

The first token of a new row r. Its raster predecessor (r-1, C-1), the end of the row above,
usually does not exist yet. The first token is then predicted from a *stand-in* slot fed at
the coordinates of (r-1, C-1), with rank r * C, holding the generated token nearest to that
spot: the latest token of row r-2 (which is ahead of row r-1), or of row 0 when r = 1 (the
reference implementation's "last token of the row above"). Once (r-1, C-1) is generated, the
next pass also feeds it at the same coordinates and rank (its output unused) and marks the
stand-in slot invalid, so every later token sees the real token and not the stand-in. When
(r-1, C-1) already exists as row r starts (window = C), it is fed directly and no stand-in is
made.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from omniar.models.ar_model import AutoregressiveModel
from omniar.orders.base import Order
from omniar.samplers.condition import Condition
from omniar.samplers.constraints import ConstraintProcessor
from omniar.samplers.decode import DecodingState
from omniar.samplers.driver import DecodeStats, StepCallback, drive
from omniar.samplers.guidance import GuidanceSchedule
from omniar.samplers.processors import SamplingConfig, sample
from omniar.samplers.stopping import StopCondition

PLAIN_SAMPLING = SamplingConfig()
NO_GUIDANCE = GuidanceSchedule()


def raster_grid(order: Order) -> tuple[int, int]:
    """(rows, cols) of an order whose schedule is raster decoding of a 2D grid, else ValueError."""
    problem = None
    if order.num_axes != 2:
        problem = f"it has {order.num_axes} coordinate axes"
    else:
        positions = order.positions
        rows, cols = int(positions[:, 0].max()) + 1, int(positions[:, 1].max()) + 1
        index = torch.arange(order.num_tokens)
        grid = torch.stack([index // cols, index % cols], dim=-1).float()
        if rows * cols != order.num_tokens or not torch.equal(positions, grid):
            problem = "its token positions are not a row-major grid"
        else:
            for step_index, step in enumerate(order.steps):
                inputs = [] if step_index == 0 else [step_index - 1]
                if step.targets.tolist() != [step_index] or step.inputs.tolist() != inputs:
                    problem = f"step {step_index} is not one raster token"
                    break
    if problem is not None:
        raise ValueError(f"zipar decodes 2D raster grids (e.g. RasterOrder((rows, cols))); "
                         f"order {order.name!r} does not qualify: {problem}")
    return rows, cols


class _ZipARSchedule:
    """Which tokens each pass feeds: one per active row, stand-ins, and real row ends."""

    def __init__(self, rows: int, cols: int, window: int):
        self.rows, self.cols, self.window = rows, cols, window
        self.done = [0] * rows
        self.stand_in_slot: dict[int, int] = {}
        self.replace: list[int] = []

    @property
    def finished(self) -> bool:
        return self.done[-1] == self.cols

    def stand_in_source(self, row: int) -> int:
        """Token index of the generated token nearest the end of row `row - 1`."""
        above = [r for r in (row - 1, row - 2) if r >= 0]
        source = max(above, key=lambda r: (self.done[r], r == row - 1))
        return source * self.cols + self.done[source] - 1

    def plan(self, first_slot: int) -> tuple[list[tuple[int, int, int, int | None]], list[int]]:
        """Feeds (content token, coordinate token, rank, produced token) and slots to invalidate."""
        cols = self.cols
        feeds: list[tuple[int, int, int, int | None]] = []
        invalid = []
        for row in self.replace:
            last = row * cols + cols - 1
            feeds.append((last, last, (row + 1) * cols, None))
            invalid.append(self.stand_in_slot.pop(row))
        self.replace = []
        for row in range(self.rows):
            col = self.done[row]
            if col == cols or (col == 0 and (row == 0 or self.done[row - 1] < self.window)):
                continue
            token = row * cols + col
            content = token - 1
            if col == 0 and self.done[row - 1] < cols:
                content = self.stand_in_source(row)
                self.stand_in_slot[row - 1] = first_slot + len(feeds)
            feeds.append((content, token - 1, token, token))
        return feeds, invalid

    def produced(self, token: int) -> None:
        row = token // self.cols
        self.done[row] += 1
        if self.done[row] == self.cols and row in self.stand_in_slot:
            self.replace.append(row)


class ZipARStrategy:
    """ZipAR as a strategy of the decode driver (`omniar.samplers.driver`): the prefix pass
    samples the first token, every later pass one token of each started, unfinished row."""

    def __init__(self, state: DecodingState, sampling: SamplingConfig,
                 generator: torch.Generator | None, context: Any, schedule: _ZipARSchedule):
        self.state, self.sampling, self.generator = state, sampling, generator
        self.context, self.schedule = context, schedule
        self.started = False

    @property
    def finished(self) -> bool:
        return self.started and self.schedule.finished

    def step(self) -> list[int]:
        """One pass; returns the tokens (raster steps) it produced, for every sample."""
        state, order, schedule = self.state, self.state.order, self.schedule
        if not self.started:
            self.started = True
            output = state.prefill()
            logits = state.guided_logits(order.step_logits(output.logits, 0, output), 0)
            targets = order.steps[0].targets.to(state.device)
            state.tokens[:, targets] = sample(logits, self.sampling, self.generator)
            schedule.produced(0)
            return [0]
        feeds, invalid = schedule.plan(int(state.cache.lengths[0]))
        if invalid:
            state.cache.valid[:, invalid] = False
        content, coords, ranks, targets = (list(column) for column in zip(*feeds))
        output = state.run(_inputs(state, order, content, coords, ranks, self.context))
        predicting = [i for i, target in enumerate(targets) if target is not None]
        produced = [targets[i] for i in predicting]
        steps = torch.tensor(produced, device=state.device)[None]
        logits = state.guided_logits(output.logits[:, predicting], steps)
        state.tokens[:, produced] = sample(logits, self.sampling, self.generator)
        for token in produced:
            schedule.produced(token)
        return produced

    def summary(self) -> tuple[int, int, dict[str, float]]:
        batch = self.state.batch
        extra = {"window": float(self.schedule.window)}
        return self.state.order.num_tokens * batch, self.state.forward_passes * batch, extra


@torch.no_grad()
def decode_zipar(
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
    window: int | None = None,
) -> tuple[torch.Tensor, DecodeStats]:
    """Generate a 2D raster grid with ZipAR (see the module doc).

    Args:
        window: tokens a row must have before the next row starts; None = half the row length
            (rounded up); values >= the row length give sequential raster decoding.

    Returns tokens (B, N) or (B, N, K) and stats (`extra["window"]` is the window used). Every
    sample follows the same schedule; `on_step` is called once per produced token.
    """
    if stop is not None:
        raise ValueError("zipar decodes fixed-size 2D grids and does not support stop (eos) "
                         "conditions; use decoding='sequential' or 'jacobi'")
    if constraint is not None:
        raise ValueError("zipar decodes the rows of a 2D grid in parallel, so a token's raster "
                         "prefix is not generated when it is sampled and a token constraint "
                         "cannot be applied; use decoding='sequential' or 'jacobi'")
    rows, cols = raster_grid(order)
    if window is None:
        window = -(-cols // 2)
    if not isinstance(window, int) or isinstance(window, bool) or window < 1:
        raise ValueError(f"window must be an integer >= 1 (tokens per row before the next starts), "
                         f"got {window!r}")
    window = min(window, cols)
    started = time.perf_counter()
    state = DecodingState(model, order, condition, guidance, extra_slots=rows, compile=compile)
    strategy = ZipARStrategy(state, sampling, generator, context, _ZipARSchedule(rows, cols, window))
    return drive(strategy, on_step, started)


def _inputs(state: DecodingState, order: Order, content: list[int], coords: list[int],
            ranks: list[int], context: Any) -> dict[str, torch.Tensor]:
    device = state.device
    fed = state.rows(state.tokens)
    inputs = order.feed(fed, torch.tensor(content, device=device), context)
    positions = order.positions[torch.tensor(coords)].to(device)
    inputs["position_ids"] = positions.expand(fed.shape[0], -1, -1)
    inputs["ranks"] = torch.tensor(ranks, device=device).expand(fed.shape[0], -1)
    return inputs

