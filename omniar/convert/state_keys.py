"""The checks every converter makes on a state dict: the keys a layout is read from are there, and
the file holds exactly the keys of the layout it claims.

Keys a converter maps are "expected"; buffers it knowingly drops are filtered out before the
check. Anything else, missing or extra, is an error naming the first few of each, so a file of
another architecture (or a truncated export) is refused instead of half-loaded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch

from omniar.errors import OmniarError

SHOWN = 6


def check_keys(expected: Iterable[str], present: Iterable[str], argument: str, path: str, layout: str) -> None:
    """An OmniarError `"{argument} {path}: not the {layout} layout: missing [...]; unknown [...]"`
    when `present` differs from `expected`."""
    expected, present = set(expected), set(present)
    missing, unknown = sorted(expected - present), sorted(present - expected)
    if missing or unknown:
        parts = [f"missing {missing[:SHOWN]}" if missing else "", f"unknown {unknown[:SHOWN]}" if unknown else ""]
        raise OmniarError(f"{argument} {path}: not the {layout} layout: " + "; ".join(p for p in parts if p))


def required_key(state: Mapping[str, torch.Tensor], key: str, argument: str, path: str,
                 checkpoint: str) -> torch.Tensor:
    """`state[key]`, or an OmniarError `"{argument} {path}: expected a {checkpoint} checkpoint, but
    {key!r} is missing"` (the file is of another kind, or truncated)."""
    if key not in state:
        raise OmniarError(f"{argument} {path}: expected a {checkpoint} checkpoint, but {key!r} is missing")
    return state[key]
