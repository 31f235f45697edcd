"""The demo's models: which embedded pipelines are shipped, each loaded once and shared.

Every request of every user goes through `get_pipeline`, so a model is read from disk the first
time a tab needs it and then reused; a lock keeps two first requests from loading it twice.
"""

from __future__ import annotations

import functools
import json
import threading
from typing import Any

import torch

from omniar.assets import asset_path, embedded_models
from omniar.pipelines.base import DEFAULT_SAMPLING

_LOAD_LOCK = threading.Lock()


def embedded_pipelines(kind: str) -> list[str]:
    """Names of the embedded models whose pipeline class is `kind` (e.g. "GraphPipeline")."""
    return [name for name, info in embedded_models().items() if info["kind"] == kind]


def pipeline_config(name: str) -> dict[str, Any]:
    """An embedded pipeline's model_index.json, read without loading any weights."""
    return json.loads((asset_path(name) / "model_index.json").read_text())


def default_sampling(name: str) -> dict[str, Any]:
    """The sampling settings a plain call of the embedded pipeline `name` uses (its preset)."""
    presets = pipeline_config(name).get("sampling_presets") or {}
    return {**DEFAULT_SAMPLING, **presets.get("default", {})}


@functools.cache
def _load(name: str) -> Any:
    from omniar.commands.generate_graph import default_device
    from omniar.loading import load

    return load(name, device=default_device())


def get_pipeline(name: str) -> Any:
    """The embedded pipeline `name`, loaded on first use and shared by all later requests."""
    with _LOAD_LOCK:
        return _load(name)


def seeded_generator(pipe: Any, seed: int) -> torch.Generator:
    """A random generator on the pipeline's device, so the same seed gives the same samples."""
    return torch.Generator(device=pipe.device).manual_seed(seed)
