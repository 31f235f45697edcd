"""Where the demo writes files it hands to the browser (drawings, GLB/OBJ meshes, WAV audio).

One temporary folder per server process, removed at exit, with a fresh sub-folder per request so
that concurrent users never overwrite each other's files. Gradio serves files from the system
temporary folder, so nothing else has to be allowed.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path


@functools.cache
def _root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="omniar-demo-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root


def request_folder(kind: str) -> Path:
    """A new, empty folder for one request's files; `kind` prefixes its name."""
    return Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=_root()))
