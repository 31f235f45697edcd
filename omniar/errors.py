"""The one error type for bad user input, shared by the Python API and the CLI.

`OmniarError` subclasses `ValueError`, so callers that already catch `ValueError` keep working;
the CLI prints its message as one line and exits with status 2. Messages name the argument, the
bad value and what is accepted.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


class OmniarError(ValueError):
    """Bad input from a user: an argument, a file or a recipe that omniar cannot accept."""


def bad_value(argument: str, value: Any, expected: str) -> OmniarError:
    """An error naming `argument`, its bad `value` and what is `expected` (to be raised)."""
    return OmniarError(f"{argument}={value!r} is not valid; expected {expected}")


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest of `choices`, or '' when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_known_keys(argument: str, given: Iterable[str], known: Iterable[str]) -> None:
    """Raise an OmniarError for the first key of `given` that is not in `known`."""
    known = sorted(known)
    for key in given:
        if key not in known:
            raise OmniarError(
                f"{argument}: unknown key {key!r}{did_you_mean(key, known)}; accepted keys: {known}"
            )
