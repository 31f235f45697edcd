"""One result schema for every ``omniar eval`` command, so that results can be compared.

Every command returns and writes (``--out-json``) the same structure::

    {
      "model": "emoji-vq",                 # what was evaluated (name or folder)
      "data": "/path/to/images",           # what it was evaluated on ("generated" for samplers)
      "n": 22,                             # items scored (images, clips, meshes, graphs)
      "groups": {                          # figures per group of items; "all" comes first
        "all": {"n": 22, "psnr": 23.1, ...},
        "heldout": {"n": 3, "psnr": 21.9, ...},
      },
      "skipped": [{"file": "bad.png", "reason": "..."}],   # items left out, and why
      "settings": {...},                   # what the figures depend on (seed, sampling, split)
      "details": {...}                     # command-specific extras (per-bitrate rows, samples)
    }

and prints the groups as a fixed-width table (:meth:`EvalReport.table`), one row per group and
one column per metric. Groups are what the data offers: the Noto split (train / held-out, i.e.
in-domain / out-of-domain) or the source folder for images, the speaker and the take split for
FSDD audio, the class for meshes and generated audio.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ALL = "all"


@dataclass
class EvalReport:
    """The result of one evaluation (see the module docstring for the fields)."""

    model: str
    data: str
    n: int
    groups: dict[str, dict[str, Any]]
    skipped: list[dict[str, str]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The JSON-ready dict, keys in schema order."""
        return {
            "model": self.model,
            "data": self.data,
            "n": self.n,
            "groups": self.groups,
            "skipped": self.skipped,
            "settings": self.settings,
            "details": self.details,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvalReport:
        """The report of an :meth:`as_dict` dict (e.g. read back from a JSON file)."""
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})

    def write_json(self, path: str | Path) -> Path:
        """Write :meth:`as_dict` as indented JSON (NaN and infinity as null) and return the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(_finite(self.as_dict()), indent=2) + "\n", encoding="utf-8")
        return path

    def table(self, metrics: Sequence[str] | None = None) -> str:
        """The groups as a fixed-width table: one row per group, one column per metric.

        ``metrics`` picks and orders the columns (default: every scalar metric, in the order
        they first appear); a group without a metric shows ``-``.
        """
        columns = list(metrics) if metrics is not None else _scalar_columns(self.groups)
        cells = [["group", *columns]]
        cells += [[name, *(_cell(row.get(key)) for key in columns)] for name, row in self.groups.items()]
        widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
        lines = [
            "  ".join(
                text.ljust(width) if i == 0 else text.rjust(width)
                for i, (text, width) in enumerate(zip(row, widths))
            )
            for row in cells
        ]
        return "\n".join(lines)

    def summary(self, columns: Sequence[str] | None = None) -> str:
        """The table (``columns`` as in :meth:`table`), preceded by what was evaluated on what,
        and followed by the skipped items."""
        if columns is not None:
            columns = [c for c in columns if any(c in row for row in self.groups.values())]
        lines = [f"{self.model} on {self.data}: {self.n} scored", self.table(columns)]
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)}:")
            lines += [f"  {item['file']}: {item['reason']}" for item in self.skipped]
        return "\n".join(lines)


def print_report(
    report: EvalReport | Mapping[str, Any],
    out_json: str | Path | None = None,
    notes: str = "",
    columns: Sequence[str] | None = None,
) -> EvalReport:
    """What every eval command prints: the summary table (``columns``: the metrics to show, of
    those present; default all), ``notes``, and where the JSON went."""
    if not isinstance(report, EvalReport):
        report = EvalReport.from_dict(report)
    print(report.summary(columns))
    if notes:
        print(notes.rstrip("\n"))
    if out_json:
        print(f"wrote {report.write_json(out_json)}")
    return report


def skipped_item(file: str | Path, reason: str) -> dict[str, str]:
    """One entry of :attr:`EvalReport.skipped`."""
    return {"file": str(file), "reason": reason}


def grouped_means(
    values: Mapping[str, Sequence[float] | np.ndarray], groups: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Mean of each per-item metric over all items and over each group of items.

    ``values`` maps a metric name to one value per item; ``groups`` gives each item's group.
    Returns ``{"all": {"n": N, metric: mean, ...}, group: {...}, ...}`` with the groups sorted;
    the per-group rows are left out when there is only one group (it would repeat "all").
    """
    labels = np.asarray(list(groups), dtype=object)
    arrays = {name: np.asarray(column, dtype=np.float64) for name, column in values.items()}
    for name, column in arrays.items():
        if len(column) != len(labels):
            raise ValueError(f"values[{name!r}]: {len(column)} values for {len(labels)} items")

    def row(mask: np.ndarray) -> dict[str, Any]:
        return {"n": int(mask.sum()), **{k: float(v[mask].mean()) for k, v in arrays.items()}}

    out = {ALL: row(np.ones(len(labels), dtype=bool))}
    names = sorted(set(labels.tolist()))
    if len(names) > 1:
        out.update({name: row(labels == name) for name in names})
    return out


def _scalar_columns(groups: Mapping[str, Mapping[str, Any]]) -> list[str]:
    columns: list[str] = []
    for row in groups.values():
        for key, value in row.items():
            if key not in columns and _is_scalar(value):
                columns.append(key)
    return columns


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (int, float, np.integer, np.floating, str))


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"
    return str(value)


def _finite(value: Any) -> Any:
    """``value`` with NaN / infinite floats replaced by None (strict JSON has neither)."""
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value
