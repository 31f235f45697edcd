"""omniar: autoregressive multimodal generation with one transformer and many orders.

Heavy modules load on first use, so `import omniar` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "load": "omniar.loading",
    "ImagePipeline": "omniar.pipelines.image",
    "GraphPipeline": "omniar.pipelines.graph",
    "MeshPipeline": "omniar.pipelines.mesh",
    "AudioPipeline": "omniar.pipelines.audio",
    "AutoregressiveModel": "omniar.models.ar_model",
    "Transformer": "omniar.models.transformer",
    "CaptionEncoder": "omniar.models.caption_encoder",
    "ImageVQTokenizer": "omniar.tokenizers.image_vq",
    "MultiScaleVQTokenizer": "omniar.tokenizers.multiscale_vq",
    "AudioCodecTokenizer": "omniar.tokenizers.audio_codec",
    "MeshTokenizer": "omniar.tokenizers.mesh",
    "GraphTokenizer": "omniar.tokenizers.graph",
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
