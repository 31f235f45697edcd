"""Output files of the commands, checked before any work and prepared just before writing.

A command that writes files calls `check_output_file` for each one before it loads a model
or generates anything, so a bad path fails in a second, not after minutes of generation.
Missing parent folders are created (like `mkdir -p`), but only by `prepare_output_file`, when
the file is written: a command that fails earlier leaves nothing behind.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from omniar.errors import OmniarError


def check_output_file(option: str, path: str | os.PathLike, suffixes: Sequence[str]) -> Path:
    """`path` as a Path if a file with one of `suffixes` (".png", ...) can be written there.

    An OmniarError naming `option` when the suffix is not accepted, the path is an existing
    folder, a parent is an existing file, or the nearest existing folder is not writable.
    """
    path = Path(path)
    accepted = " or ".join(suffixes)
    if path.is_dir():
        raise OmniarError(f"{option} {str(path)!r} is an existing folder; expected a file name "
                          f"ending in {accepted}")
    if path.suffix.lower() not in suffixes:
        raise OmniarError(f"{option} {str(path)!r} is not valid; expected a file name ending in "
                          f"{accepted}")
    folder = path.absolute().parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise OmniarError(f"{option} {str(path)!r} is not valid: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OmniarError(f"{option} {str(path)!r} is not valid: cannot write in {folder} "
                          "(permission denied)")
    return path


def prepare_output_file(path: str | os.PathLike) -> Path:
    """Create the missing parent folders of a checked output file; returns it as a Path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
