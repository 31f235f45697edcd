"""Class labels given by name or id, read the same way by data sets and class-conditional pipelines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from omniar.errors import OmniarError


def label_id(value: Any, names: Sequence[str], field_name: str, count: int | None = None) -> int:
    """The id of `value` among `names`: a name (exact, else case-insensitive), an id or its digits.

    `count` is the number of valid ids when the model has more classes than named ones (or no
    names); it defaults to `len(names)`. Anything else is an OmniarError (a ValueError) naming
    `field_name`, the value and what is expected.
    """
    count = len(names) if count is None else count
    if isinstance(value, str):
        text = value.strip()
        if text in names:
            return list(names).index(text)
        lowered = [name.lower() for name in names]
        if text.lower() in lowered:
            return lowered.index(text.lower())
        if text.isdigit():
            value = int(text)
    is_id = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if is_id and 0 <= int(value) < count:
        return int(value)
    named = f"one of {', '.join(names)} or " if names else ""
    problem = ": id out of range" if is_id else ""
    raise OmniarError(f"unknown {field_name} {value!r}{problem}; expected {named}an id 0-{count - 1}")


def label_ids(given: Any, names: Sequence[str], field_name: str, count: int | None = None) -> list[int]:
    """Ids for one label or a sequence of them (`label_id` each); an empty sequence is an error."""
    values = [given] if isinstance(given, (str, int, np.integer)) else list(given)
    if not values:
        raise OmniarError(f"{field_name}: give at least one label ({', '.join(names) or 'ids'})")
    return [label_id(value, names, field_name, count) for value in values]
