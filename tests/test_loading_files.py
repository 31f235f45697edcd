"""Broken model files give one OmniarError that names the file and what was expected."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

import omniar
from omniar.assets import asset_path, embedded_models
from omniar.errors import OmniarError
from omniar.model_files import check_pipeline_folder


@pytest.fixture
def model(tmp_path) -> Path:
    """A copy of a small embedded pipeline to break."""
    folder = tmp_path / "graphs-tree"
    shutil.copytree(asset_path("graphs-tree"), folder)
    return folder


def edit_config(path: Path, **values) -> None:
    config = json.loads(path.read_text())
    config.update(values)
    path.write_text(json.dumps(config))


def load_error(folder: Path) -> str:
    with pytest.raises(OmniarError) as caught:
        omniar.load(str(folder))
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_every_shipped_pipeline_passes_the_checks():
    pipelines = [info["path"] for info in embedded_models().values() if info["kind"].endswith("Pipeline")]
    assert pipelines
    for folder in pipelines:
        assert "_class_name" in check_pipeline_folder(Path(folder))


def test_truncated_safetensors(model):
    weights = model / "transformer" / "diffusion_pytorch_model.safetensors"
    os.truncate(weights, weights.stat().st_size // 2)
    message = load_error(model)
    assert str(weights) in message and "not a complete safetensors file" in message


def test_safetensors_with_a_garbage_header(model):
    weights = model / "tokenizer" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(b"\x07\x00\x00\x00\x00\x00\x00\x00garbage")
    assert str(weights) in load_error(model)


def test_missing_weights_name_the_folder(model):
    (model / "transformer" / "diffusion_pytorch_model.safetensors").unlink()
    message = load_error(model)
    assert str(model) in message and "could not load the GraphPipeline" in message


def test_config_that_is_not_json(model):
    config = model / "transformer" / "config.json"
    config.write_text('{"hidden_size": 12')
    message = load_error(model)
    assert str(config) in message and "is not valid JSON" in message


def test_config_that_is_not_an_object(model):
    config = model / "tokenizer" / "config.json"
    config.write_text("[1, 2]")
    assert f"{config} holds a JSON list; expected an object" in load_error(model)


@pytest.mark.parametrize("key, value, expected", [
    ("hidden_size", "big", "expected int"),
    ("num_layers", [1], "expected int"),
    ("qk_norm", 1, "expected bool"),
    ("num_kv_heads", 2.5, "expected int | None"),
    ("class_sizes", ["a"], "expected tuple[int, ...] | list[int]"),
])
def test_config_value_of_the_wrong_type(model, key, value, expected):
    config = model / "transformer" / "config.json"
    edit_config(config, **{key: value})
    message = load_error(model)
    assert message.startswith(f"{config}: {key}={value!r} is not valid") and expected in message


def test_model_index_problems(model):
    index = model / "model_index.json"
    edit_config(index, _class_name="VideoPipeline")
    assert "_class_name='VideoPipeline' is not valid; expected one of" in load_error(model)
    index.write_text("not json")
    assert f"{index} is not valid JSON" in load_error(model)
