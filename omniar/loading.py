"""`omniar.load(name_or_path)`: a saved pipeline folder, an embedded default model or a Hugging
Face Hub repo id, loaded with the pipeline class its model_index.json names."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

from omniar.assets import asset_path, embedded_models
from omniar.errors import OmniarError
from omniar.hub import download_snapshot, is_hub_repo_id
from omniar.modalities import pipeline_modules
from omniar.model_files import check_pipeline_folder, read_json_object


def resolve_model_folder(name_or_path: str | os.PathLike, revision: str | None = None) -> Path:
    """The folder of a saved pipeline, with its files checked (`omniar.model_files`).

    `name_or_path` is tried as a local folder, then as an embedded model name (`omniar list`),
    then as a Hub repo id ("user/name", at `revision`), whose snapshot comes from the local
    Hugging Face cache or is downloaded into it.
    """
    text = os.fspath(name_or_path)
    path = Path(text)
    local = path.is_dir() or text in embedded_models()
    if revision is not None and local:
        raise OmniarError(f"revision={revision!r} applies to Hub repo ids only; {text!r} is a local model")
    if path.is_dir():
        if not (path / "model_index.json").is_file():
            raise OmniarError(f"{path} is not a saved pipeline: model_index.json is missing")
        folder = path
    elif text in embedded_models():
        folder = asset_path(text)
    elif is_hub_repo_id(text):
        folder = download_snapshot(text, revision)
        if not (folder / "model_index.json").is_file():
            raise OmniarError(f"Hub repo {text!r} is not a saved pipeline: it has no model_index.json")
    else:
        raise OmniarError(
            f"no model {text!r}: not a folder, not an embedded model ({sorted(embedded_models())}) "
            "and not a Hugging Face Hub repo id ('user/name')"
        )
    check_pipeline_folder(folder)
    return folder


def pipeline_class(folder: Path) -> type:
    """The omniar pipeline class that the model_index.json in `folder` names."""
    index_path = folder / "model_index.json"
    class_name = read_json_object(index_path).get("_class_name")
    modules = pipeline_modules()
    if class_name not in modules:
        raise OmniarError(f"{index_path}: _class_name={class_name!r} is not valid; expected one of {sorted(modules)}")
    return getattr(importlib.import_module(modules[class_name]), class_name)


def load(name_or_path: str | os.PathLike, device: str | None = None, revision: str | None = None,
         **kwargs: Any):
    """Load a pipeline from a saved folder, an embedded name (see `omniar list`) or a Hub repo id.

    `revision` (a branch, tag or commit) applies to Hub repo ids; `kwargs` go to the pipeline's
    `from_pretrained`. A file that cannot be read raises an OmniarError naming it.
    """
    from safetensors import SafetensorError

    folder = resolve_model_folder(name_or_path, revision)
    cls = pipeline_class(folder)
    try:
        pipeline = cls.from_pretrained(str(folder), **kwargs)
    except (OSError, TypeError, SafetensorError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise OmniarError(
            f"{folder}: could not load the {cls.__name__} ({reason}); expected the files that "
            "save_pretrained writes"
        ) from error
    pipeline.set_progress_bar_config(leave=False)
    return pipeline.to(device) if device else pipeline
