"""Checks of a saved pipeline folder's files before diffusers reads them.

A truncated safetensors file, a config.json that is not JSON or a config value of the wrong type
would otherwise surface as a traceback from safetensors, diffusers or torch that does not say
which file is broken. Here each becomes one `OmniarError` naming the file and what was expected.
Config values are checked against the type hints of the component class's `__init__` (the
arguments `@register_to_config` saved), so no component needs its own schema.
"""

from __future__ import annotations

import importlib
import json
import types
import typing
from pathlib import Path
from typing import Any

from omniar.errors import OmniarError


def read_json_object(path: Path) -> dict[str, Any]:
    """The JSON object in `path`, or an OmniarError naming the file and the problem."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as error:
        raise OmniarError(f"{path} is missing; expected a JSON file written by save_pretrained") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise OmniarError(f"{path} is not valid JSON ({error}); expected the file written by save_pretrained") from error
    if not isinstance(data, dict):
        raise OmniarError(f"{path} holds a JSON {type(data).__name__}; expected an object of settings")
    return data


def check_safetensors(path: Path) -> None:
    """Raise an OmniarError if `path` is not a complete safetensors file (its header is read)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as weights:
            weights.keys()
    except SafetensorError as error:
        raise OmniarError(
            f"{path} is not a complete safetensors file ({error}); it may be truncated or "
            "corrupt: save or download the model again"
        ) from error


def _matches(value: Any, hint: Any) -> bool:
    """Whether a JSON `value` fits the type hint `hint`; hints it cannot judge are accepted."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(hint))
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if hint in (list, tuple) or origin in (list, tuple):
        if not isinstance(value, list):
            return False
        items = {arg for arg in typing.get_args(hint) if arg is not Ellipsis}
        if len(items) == 1:
            (item,) = items
            return all(_matches(element, item) for element in value)
        return True
    if hint is dict or origin is dict:
        return isinstance(value, dict)
    return True


def _describe(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")


def check_config_types(path: Path, config: dict[str, Any], component: type) -> None:
    """Raise an OmniarError for the first setting in `config` (read from `path`) whose value does
    not fit the type hint of the same argument of `component.__init__`."""
    try:
        hints = typing.get_type_hints(component.__init__)
    except (NameError, TypeError):
        return
    for key, value in config.items():
        if not key.startswith("_") and key in hints and not _matches(value, hints[key]):
            raise OmniarError(f"{path}: {key}={value!r} is not valid; expected {_describe(hints[key])}")


def _component_class(module: str, name: str) -> type | None:
    """An omniar component class named in model_index.json (others are left to diffusers)."""
    if not module.startswith("omniar."):
        return None
    try:
        found = getattr(importlib.import_module(module), name, None)
    except ModuleNotFoundError as error:
        raise OmniarError(f"component module {module!r} does not exist in this omniar version") from error
    return found if isinstance(found, type) else None


def check_pipeline_folder(folder: Path) -> dict[str, Any]:
    """Check a saved pipeline folder and return its model_index.json settings.

    For each omniar component it names: config.json must be a JSON object whose values fit the
    component's arguments, and each safetensors file must be complete.
    """
    index = read_json_object(folder / "model_index.json")
    for name, entry in index.items():
        if not (isinstance(entry, list) and len(entry) == 2 and all(isinstance(e, str) for e in entry)):
            continue
        component = _component_class(*entry)
        if component is None:
            continue
        config_path = folder / name / "config.json"
        check_config_types(config_path, read_json_object(config_path), component)
        for weights in sorted((folder / name).glob("*.safetensors")):
            check_safetensors(weights)
    return index
