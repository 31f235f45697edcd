"""Writing a converted pipeline folder all at once: a temporary sibling folder, then a rename.

Nothing appears at the destination unless the whole folder was written; an existing folder is
kept unless the caller asks to replace it. `write_pipeline` is what every converter writes: the
saved pipeline, its transformer weights in the precision asked for, and a model card.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omniar.errors import OmniarError

DTYPES = ("float32", "bfloat16", "float16")


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


def check_dtype(dtype: str) -> None:
    """An OmniarError unless `dtype` is one of DTYPES."""
    if dtype not in DTYPES:
        raise OmniarError(f"--dtype {dtype} is not valid; expected one of {DTYPES}")


def write_pipeline(out: str | Path, pipeline: Any, model_card: str, dtype: str = "float32",
                   force: bool = False) -> Path:
    """Save `pipeline` at `out` atomically, its transformer weights stored as `dtype`, with
    `model_card` as README.md."""
    from omniar.training.storage import cast_saved_weights

    def write(folder: Path) -> None:
        pipeline.save_pretrained(folder)
        if dtype != "float32":
            cast_saved_weights(folder / "transformer", dtype)
        (folder / "README.md").write_text(model_card)

    return write_atomically(out, write, force)
