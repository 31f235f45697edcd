"""`omniar.load(name_or_folder)`: an embedded default model or a saved pipeline folder."""

from __future__ import annotations

import json
from pathlib import Path

from omniar.assets import asset_path, embedded_models

PIPELINE_MODULES = {
    "ImagePipeline": "omniar.pipelines.image",
    "GraphPipeline": "omniar.pipelines.graph",
    "MeshPipeline": "omniar.pipelines.mesh",
    "AudioPipeline": "omniar.pipelines.audio",
}


def resolve_model_folder(name_or_path: str) -> Path:
    """An embedded model's folder, or the given folder if it holds a pipeline."""
    path = Path(name_or_path)
    if path.is_dir():
        if not (path / "model_index.json").is_file():
            raise ValueError(f"{path} is not a saved pipeline: model_index.json is missing")
        return path
    if name_or_path in embedded_models():
        return asset_path(name_or_path)
    raise ValueError(
        f"no model {name_or_path!r}: not a folder, and not an embedded model ({sorted(embedded_models())})"
    )


def load(name_or_path: str, device: str | None = None, **kwargs):
    """Load a pipeline by embedded name (see `omniar list`) or from a saved folder."""
    import importlib

    folder = resolve_model_folder(name_or_path)
    class_name = json.loads((folder / "model_index.json").read_text()).get("_class_name")
    if class_name not in PIPELINE_MODULES:
        raise ValueError(f"{folder}: unknown pipeline class {class_name!r}; expected one of {sorted(PIPELINE_MODULES)}")
    module = importlib.import_module(PIPELINE_MODULES[class_name])
    pipeline = getattr(module, class_name).from_pretrained(str(folder), **kwargs)
    pipeline.set_progress_bar_config(leave=False)
    return pipeline.to(device) if device else pipeline
