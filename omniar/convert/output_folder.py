"""Writing a converted pipeline folder all at once: a temporary sibling folder, then a rename.

Nothing appears at the destination unless the whole folder was written; an existing folder is
kept unless the caller asks to replace it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from omniar.errors import OmniarError


def check_destination(out: str | Path, force: bool) -> Path:
    """`out` as a Path; an OmniarError if it exists and `force` is not set."""
    out = Path(out)
    if out.exists() and not force:
        raise OmniarError(f"--out {out}: already exists; pass --force to replace it, or choose another folder")
    if out.exists() and not out.is_dir():
        raise OmniarError(f"--out {out}: exists and is not a folder; expected a folder to write the pipeline to")
    return out


def write_atomically(out: str | Path, write: Callable[[Path], None], force: bool = False) -> Path:
    """Call `write(folder)` on a fresh temporary folder beside `out`, then move it to `out`.

    On any error the temporary folder is removed and `out` is left as it was.
    """
    out = check_destination(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        partial.mkdir()
        write(partial)
        if out.exists():
            previous = out.with_name(f".{out.name}.previous-{os.getpid()}")
            os.replace(out, previous)
            os.replace(partial, out)
            shutil.rmtree(previous, ignore_errors=True)
        else:
            os.replace(partial, out)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return out
