"""Metrics as JSON lines, one object per logged step."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


class MetricsLog:
    """Appends `{"step": ..., ...}` lines; on resume drops lines past the resumed step."""

    def __init__(self, path: Path, resume_step: int) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._keep(lambda entry: entry.get("step", 0) <= resume_step)

    def discard(self, step: int, prefix: str) -> None:
        """Drop the entries of `step` that hold a key starting with `prefix`: a rerun of a
        finished training evaluates its final model again, and that result replaces the old."""
        self._keep(
            lambda entry: entry.get("step") != step or not any(key.startswith(prefix) for key in entry)
        )

    def _keep(self, wanted: Callable[[dict[str, Any]], bool]) -> None:
        """Rewrite the file with only the entries `wanted` accepts."""
        if not self.path.exists():
            return
        kept = [
            line for line in self.path.read_text().splitlines() if line.strip() and wanted(json.loads(line))
        ]
        self.path.write_text("".join(line + "\n" for line in kept))

    def write(self, step: int, values: dict[str, Any]) -> None:
        with self.path.open("a") as handle:
            handle.write(json.dumps({"step": step, **values}) + "\n")


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """All logged entries of a run's metrics.jsonl."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
