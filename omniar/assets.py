"""The embedded default models: folders with a model_index.json (pipelines) or config.json
(components) in the `omniar_models` data package.

`omniar_models` is the repository's top-level assets/ folder installed as a package (see
setup.py), so the models are found the same way in an editable install (the checkout's assets/)
and in a wheel install (site-packages/omniar_models).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from omniar.errors import OmniarError


def _locate_assets() -> Path:
    """The folder of the installed `omniar_models` package; the checkout's assets/ beside the
    `omniar` package when omniar runs from a source tree that was never installed."""
    try:
        return Path(str(resources.files("omniar_models")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[1] / "assets"


ASSETS = _locate_assets()


def embedded_models() -> dict[str, dict[str, str]]:
    """name -> {"kind": pipeline class or component class, "path": folder}."""
    found = {}
    if not ASSETS.is_dir():
        return found
    for folder in sorted(ASSETS.iterdir()):
        for index in ("model_index.json", "config.json"):
            path = folder / index
            if path.is_file():
                kind = json.loads(path.read_text()).get("_class_name", "?")
                found[folder.name] = {"kind": kind, "path": str(folder)}
                break
    return found


def models_with_order(order: str) -> list[str]:
    """Embedded image pipelines that generate with `order` (from their model_index.json)."""
    names = []
    for name, info in embedded_models().items():
        index = Path(info["path"]) / "model_index.json"
        if info["kind"] == "ImagePipeline" and order in json.loads(index.read_text()).get("orders", []):
            names.append(name)
    return names


def asset_path(name: str) -> Path:
    """Folder of the embedded model `name`, with a clear error listing the valid names."""
    models = embedded_models()
    if name not in models:
        raise OmniarError(f"unknown embedded model {name!r}; available: {sorted(models) or 'none'}")
    return Path(models[name]["path"])
