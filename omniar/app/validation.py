"""Checks of what users type or send to the demo's API, before any model runs.

Each check returns the cleaned value or raises a ValueError that names the field and the range
it expected; the tabs turn that into a message in the UI (`omniar.app.errors`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MAX_SEED = 2**31 - 1


def check_prompt(prompt: Any) -> str:
    """A prompt with its surrounding spaces removed; empty prompts are refused."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("The prompt is empty: type what to draw, e.g. 'grinning face'.")
    return prompt.strip()


def check_integer(name: str, value: Any, low: int, high: int) -> int:
    """`value` as an int in [low, high]; whole floats (what number widgets send) are accepted."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise ValueError(f"{name} must be a whole number between {low} and {high}, got {value!r}.")
    if not low <= int(value) <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {int(value)}.")
    return int(value)


def check_number(name: str, value: Any, low: float, high: float) -> float:
    """`value` as a float in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ValueError(f"{name} must be a number between {low} and {high}, got {value!r}.")
    if not low <= float(value) <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}.")
    return float(value)


def check_seed(value: Any) -> int:
    return check_integer("seed", value, 0, MAX_SEED)


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """`value` if it is one of `choices`."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}.")
    return value
