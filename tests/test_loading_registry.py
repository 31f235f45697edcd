"""The modality registry is the one list of pipelines and components that exports and loading read."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import omniar
from omniar.assets import embedded_models
from omniar.modalities import MODALITIES, component_classes, component_modules, pipeline_modules
from omniar.pipelines.base import COMPONENT_MODULES, AutoregressivePipeline


def test_registered_classes_exist_and_are_exported():
    for name, module in {**pipeline_modules(), **component_classes()}.items():
        cls = getattr(importlib.import_module(module), name)
        assert getattr(omniar, name) is cls and name in omniar.__all__
    for modality in MODALITIES:
        assert issubclass(getattr(omniar, modality.pipeline), AutoregressivePipeline)


def test_pipeline_loading_imports_the_registered_component_modules():
    assert COMPONENT_MODULES == component_modules()
    assert len(set(component_modules())) == len(component_modules())


def test_shipped_pipelines_use_registered_classes_only():
    registered = {(module, name) for name, module in component_classes().items()}
    for info in embedded_models().values():
        index_path = Path(info["path"]) / "model_index.json"
        if not index_path.is_file():
            continue
        index = json.loads(index_path.read_text())
        assert index["_class_name"] in pipeline_modules()
        for entry in index.values():
            if isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str):
                assert tuple(entry) in registered, (index_path, entry)
