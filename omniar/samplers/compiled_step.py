"""Decode steps through `torch.compile`: one graph per step size, reused across calls.

A step (tokens or features at positions and ranks, appended to the static KV cache) is free of
host reads (`omniar.models.kv_cache`), so it compiles with `fullgraph=True`; with
`dynamic=False` and a fixed-shape cache every step size (one token, a Jacobi window) gets one
graph. On CUDA the mode is "reduce-overhead" (CUDA graphs), as in gpt-fast. The prefill (the
condition prefix) stays eager: it runs once per sample and its length varies with the caption.

The compiled function is kept per model, so a pipeline compiles on its first call and later
calls (and later micro-batches of the same size) reuse the graphs; `compile_seconds` reports what
the first steps of each size cost.
"""

from __future__ import annotations

import time
import weakref
from typing import Any

import torch

from omniar.models.ar_model import ARModelOutput, AutoregressiveModel
from omniar.models.kv_cache import StaticKVCache

_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
RECOMPILE_LIMIT = 256


def _step(model: AutoregressiveModel, cache: StaticKVCache, inputs: dict[str, Any],
          adaln_cond: torch.Tensor | None) -> ARModelOutput:
    return model(**inputs, cache=cache, adaln_cond=adaln_cond)


class CompiledStep:
    """`model(**inputs, cache=..., adaln_cond=...)` compiled once per input shape."""

    def __init__(self, model: AutoregressiveModel):
        mode = "reduce-overhead" if model.device.type == "cuda" else None
        # Dynamo counts graphs per code object: every model, batch and step size of a process
        # shares `_step`, and fullgraph=True turns the default limit (8) into a hard failure.
        config = torch._dynamo.config
        config.recompile_limit = max(config.recompile_limit, RECOMPILE_LIMIT)
        self.function = torch.compile(_step, fullgraph=True, dynamic=False, mode=mode)
        self.seen: set[tuple] = set()
        self.compile_seconds = 0.0

    def __call__(self, model: AutoregressiveModel, cache: StaticKVCache, inputs: dict[str, Any],
                 adaln_cond: torch.Tensor | None) -> ARModelOutput:
        cache.reserve(_new_slots(inputs))
        key = tuple((name, tuple(value.shape), value.dtype) for name, value in sorted(inputs.items()))
        if key in self.seen:
            return self.function(model, cache, inputs, adaln_cond)
        start = time.perf_counter()
        output = self.function(model, cache, inputs, adaln_cond)
        self.compile_seconds += time.perf_counter() - start
        self.seen.add(key)
        return output


def _new_slots(inputs: dict[str, Any]) -> int:
    return inputs["ranks"].shape[1]


def compiled_step(model: AutoregressiveModel) -> CompiledStep:
    """The model's compiled step (made on first use, then shared by every decode call)."""
    if model not in _COMPILED:
        _COMPILED[model] = CompiledStep(model)
    return _COMPILED[model]
