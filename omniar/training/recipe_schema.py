"""Typed recipe keys: what each key of a recipe may hold, checked with the YAML line of any error.

A spec is one of:

- a type: `str`, `int`, `float` (an integer is accepted too), `bool`, `list`, or `dict` (a
  free-form mapping, e.g. a model's keyword arguments, checked by whatever receives it);
- a dict literal `{key: spec}`: a section whose keys are all known (an unknown key is an error,
  with the closest known one suggested);
- a tuple of specs: any of them; `None` in it allows null.

Each training task declares its keys as a `TaskRecipe` (`RECIPE` in its module); the trainer's
keys come from `TrainerConfig`'s type hints (`dataclass_keys`).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Union

from omniar.errors import OmniarError, did_you_mean

Spec = Any
KeyPath = tuple[str, ...]
Locate = Callable[[KeyPath], str]


@dataclass(frozen=True)
class TaskRecipe:
    """A task's recipe keys (besides `task` and `trainer`).

    `required` keys must be present; `writes_pipeline` says that the task's `build` takes a
    `pipeline_dir` where its finished pipeline goes (see `omniar.training.outputs`).
    """

    keys: dict[str, Spec]
    required: tuple[str, ...] = ()
    writes_pipeline: bool = False


def dataclass_keys(cls: type) -> dict[str, Spec]:
    """The spec of each field of dataclass `cls`, from its type hints."""
    hints = typing.get_type_hints(cls)
    return {item.name: _spec_from_hint(hints[item.name]) for item in dataclasses.fields(cls)}


def _spec_from_hint(hint: Any) -> Spec:
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        return tuple(None if arg is type(None) else _spec_from_hint(arg) for arg in typing.get_args(hint))
    if origin in (tuple, list) or hint in (tuple, list):
        return list
    if origin is dict:
        return dict
    return hint


def describe(spec: Spec) -> str:
    """What `spec` accepts, in words."""
    if isinstance(spec, tuple):
        return " or ".join(describe(part) for part in spec)
    if isinstance(spec, dict):
        return f"a mapping with keys among {sorted(spec)}"
    return {
        None: "null", str: "a string", int: "an integer", float: "a number", bool: "true or false",
        list: "a list", dict: "a mapping",
    }.get(spec, getattr(spec, "__name__", str(spec)))


def matches(value: Any, spec: Spec) -> bool:
    """Whether `value` (as YAML loaded it) is of `spec`'s type; a section's keys are not looked at."""
    if isinstance(spec, tuple):
        return any(matches(value, part) for part in spec)
    if spec is None:
        return value is None
    if isinstance(spec, dict):
        return isinstance(value, dict)
    if isinstance(value, bool):
        return spec is bool
    if spec is float:
        return isinstance(value, (int, float))
    return isinstance(value, spec)


def _section_of(spec: Spec) -> dict[str, Spec] | None:
    if isinstance(spec, dict):
        return spec
    if isinstance(spec, tuple):
        return next((part for part in spec if isinstance(part, dict)), None)
    return None


def check_section(values: dict, keys: dict[str, Spec], path: KeyPath, locate: Locate) -> None:
    """Raise an OmniarError (located by `locate(key path)`) for the first unknown key or value of
    the wrong type in `values`, recursing into sections."""
    for key, value in values.items():
        where = (*path, str(key))
        dotted = ".".join(where)
        if key not in keys:
            raise OmniarError(
                f"{locate(where)}: unknown key {dotted!r}{did_you_mean(str(key), keys)}; "
                f"accepted keys{' of ' + '.'.join(path) if path else ''}: {sorted(keys)}"
            )
        spec = keys[key]
        if not matches(value, spec):
            raise OmniarError(
                f"{locate(where)}: {dotted}={value!r} is not valid; expected {describe(spec)}"
            )
        section = _section_of(spec)
        if section is not None and isinstance(value, dict):
            check_section(value, section, where, locate)
