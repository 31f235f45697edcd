"""Atomic checkpoint folders: written under a temporary name, renamed when complete.

A write that is killed part-way leaves `.tmp-NAME-PID` (an unfinished folder) or, when it was
replacing an existing folder, `.old-NAME-PID` (the previous, complete one). `clean_orphans`
tidies both at the next start: temporary folders are deleted, and an old folder whose
replacement never arrived is put back under its name.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

_STEP_DIR = re.compile(r"^step_(\d+)$")
_ORPHAN = re.compile(r"^\.(tmp|old)-(.+)-(\d+)$")


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


def clean_orphans(root: Path) -> str | None:
    """Tidy what interrupted `write_atomically` calls left in `root`; a one-line notice, or None.

    Meant for the start of a run, before anything writes into `root` again.
    """
    if not root.is_dir():
        return None
    removed, restored = [], []
    for child in sorted(root.iterdir()):
        match = _ORPHAN.match(child.name)
        if not match:
            continue
        kind, name = match.group(1), match.group(2)
        target = root / name
        if kind == "old" and not target.exists():
            os.replace(child, target)
            restored.append(name)
        else:
            _remove(child)
            removed.append(child.name)
    if not removed and not restored:
        return None
    parts = []
    if removed:
        parts.append(f"removed {len(removed)} unfinished temporary folder(s) ({', '.join(removed)})")
    if restored:
        parts.append(f"restored {', '.join(restored)} from its backup")
    return f"{root}: an earlier run was interrupted while writing; " + "; ".join(parts)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def prune(root: Path, keep: int) -> None:
    """Delete all but the `keep` newest checkpoints."""
    for _, path in checkpoint_dirs(root)[:-keep]:
        shutil.rmtree(path, ignore_errors=True)
