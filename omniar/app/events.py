"""How the tabs wire their generation events: one job at a time, and errors shown in the UI.

All generation events share one concurrency group, so the demo runs a single job at a time
across tabs (the models share the CPU or GPU) and queues the rest. Generation functions raise
ValueError for input they cannot use (the library's convention); `shows_errors` re-raises it as
`gr.Error`, which Gradio displays in the page and reports to API clients, and the app keeps
serving.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import gradio as gr

Handler = TypeVar("Handler", bound=Callable[..., Any])

GENERATION_JOB: dict[str, Any] = {"concurrency_id": "generation", "concurrency_limit": 1}
"""Keyword arguments for every event that runs a model: one such job at a time."""


def shows_errors(handler: Handler) -> Handler:
    """Wrap an event handler so that a ValueError becomes a visible `gr.Error`."""

    @functools.wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        except ValueError as error:
            raise gr.Error(str(error.args[0] if error.args else error)) from error

    return wrapper  # type: ignore[return-value]
