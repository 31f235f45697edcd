"""omniar: autoregressive multimodal generation with one transformer and many orders.

Heavy modules load on first use, so `import omniar` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from omniar.modalities import component_classes, pipeline_modules

__version__ = "0.1.0"

# Pipelines, tokenizers and shared components come from the modality registry.
_EXPORTS = {
    "load": "omniar.loading",
    **pipeline_modules(),
    **component_classes(),
    "Transformer": "omniar.models.transformer",
    "RasterOrder": "omniar.orders.raster",
    "SamplingConfig": "omniar.samplers.processors",
    "GuidanceSchedule": "omniar.samplers.guidance",
    "Trainer": "omniar.training.trainer",
    "TrainerConfig": "omniar.training.config",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'omniar' has no attribute {name!r}")
