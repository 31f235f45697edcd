"""Metrics as JSON lines, one object per logged step."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class MetricsLog:
    """Appends `{"step": ..., ...}` lines; on resume drops lines past the resumed step."""

    def __init__(self, path: Path, resume_step: int) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            kept = [
                line
                for line in path.read_text().splitlines()
                if line.strip() and json.loads(line).get("step", 0) <= resume_step
            ]
            path.write_text("".join(line + "\n" for line in kept))

    def discard(self, step: int, prefix: str) -> None:
        """Drop the entries of `step` that hold a key starting with `prefix`: a rerun of a
        finished training evaluates its final model again, and that result replaces the old."""
        if not self.path.exists():
            return
        kept = [
            line
            for line in self.path.read_text().splitlines()
            if line.strip() and not _logs(json.loads(line), step, prefix)
        ]
        self.path.write_text("".join(line + "\n" for line in kept))

    def write(self, step: int, values: dict[str, Any]) -> None:
        with self.path.open("a") as handle:
            handle.write(json.dumps({"step": step, **values}) + "\n")


def _logs(entry: dict[str, Any], step: int, prefix: str) -> bool:
    return entry.get("step") == step and any(key.startswith(prefix) for key in entry)


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """All logged entries of a run's metrics.jsonl."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
