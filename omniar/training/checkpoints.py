"""Atomic checkpoint folders: written under a temporary name, renamed when complete."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

_STEP_DIR = re.compile(r"^step_(\d+)$")


def checkpoint_dirs(root: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints under `root`, oldest first."""
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        match = _STEP_DIR.match(child.name)
        if match and child.is_dir():
            found.append((int(match.group(1)), child))
    return sorted(found)


def write_atomically(target: Path, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp_dir)` and move the result to `target`; a crash leaves no half folder."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".tmp-{target.name}-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    write(tmp)
    if target.exists():
        old = target.with_name(f".old-{target.name}-{os.getpid()}")
        os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old)
    else:
        os.replace(tmp, target)
    return target


def prune(root: Path, keep: int) -> None:
    """Delete all but the `keep` newest checkpoints."""
    for _, path in checkpoint_dirs(root)[:-keep]:
        shutil.rmtree(path, ignore_errors=True)
