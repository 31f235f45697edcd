"""The one registry of modalities: each one's pipeline class and the tokenizer classes its saved
pipelines use, with the modules that define them.

The package exports (`omniar.ImagePipeline`, ...), `omniar.load` (which pipeline class a
model_index.json may name) and pipeline loading (which component modules diffusers needs
imported) all read this table, so a new modality or tokenizer is registered here once.
Module paths are stored in saved model_index.json files: moving a class keeps a re-export.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Modality:
    """A modality's pipeline (class name and module) and its tokenizers (class name -> module)."""

    name: str
    pipeline: str
    pipeline_module: str
    tokenizers: dict[str, str] = field(default_factory=dict)


MODALITIES: tuple[Modality, ...] = (
    Modality("image", "ImagePipeline", "omniar.pipelines.image", {
        "ImageVQTokenizer": "omniar.tokenizers.image_vq",
        "MultiScaleVQTokenizer": "omniar.tokenizers.multiscale_vq",
    }),
    Modality("audio", "AudioPipeline", "omniar.pipelines.audio", {
        "AudioCodecTokenizer": "omniar.tokenizers.audio_codec",
    }),
    Modality("mesh", "MeshPipeline", "omniar.pipelines.mesh", {
        "MeshTokenizer": "omniar.tokenizers.mesh",
    }),
    Modality("graph", "GraphPipeline", "omniar.pipelines.graph", {
        "GraphTokenizer": "omniar.tokenizers.graph",
    }),
)

# Components every modality's pipelines may hold besides their tokenizer.
SHARED_COMPONENTS: dict[str, str] = {
    "AutoregressiveModel": "omniar.models.ar_model",
    "CaptionEncoder": "omniar.models.caption_encoder",
}


def pipeline_modules() -> dict[str, str]:
    """Pipeline class name -> module that defines it, for every modality."""
    return {modality.pipeline: modality.pipeline_module for modality in MODALITIES}


def component_classes() -> dict[str, str]:
    """Component class name -> module: the shared components and every modality's tokenizers."""
    found = dict(SHARED_COMPONENTS)
    for modality in MODALITIES:
        found.update(modality.tokenizers)
    return found


def component_modules() -> tuple[str, ...]:
    """The modules that define pipeline components, each once, in registry order."""
    return tuple(dict.fromkeys(component_classes().values()))
