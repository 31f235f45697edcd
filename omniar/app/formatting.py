"""Small Markdown tables of generation stats, shared by the tabs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def format_value(value: Any) -> str:
    """Numbers rounded for reading (3 significant decimals), everything else as text."""
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table with `headers` and one line per row."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(format_value(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def stats_table(stats: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    """A two-column table of the `stats` entries named in `labels` (key -> label), in order."""
    rows = [(label, stats[key]) for key, label in labels.items() if key in stats]
    return markdown_table(("measure", "value"), rows)
