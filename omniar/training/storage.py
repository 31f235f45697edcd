"""Storage precision of saved weights.

The embedded defaults ship inside the repository, so their folders should stay small: a
transformer stored in float16 takes half the bytes of float32. diffusers' `from_pretrained`
casts stored tensors to the model's float32 parameters unless a `torch_dtype` is given, so such
a folder loads and runs as a float32 one (with the weights rounded to float16). The saved files
are rewritten rather than the live model cast, so the trained weights in memory stay exact.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

STORAGE_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def storage_dtype(name: str | None) -> torch.dtype | None:
    """The torch dtype for a recipe's `weights_dtype` (None keeps the training precision)."""
    if name is None:
        return None
    if name not in STORAGE_DTYPES:
        raise ValueError(f"weights_dtype must be one of {sorted(STORAGE_DTYPES)}, got {name!r}")
    return STORAGE_DTYPES[name]


def cast_saved_weights(folder: str | Path, name: str | None) -> None:
    """Rewrite every safetensors file in `folder` (a saved model) with its floating-point tensors
    in `name` ("float16", ...); each file is replaced atomically. None leaves them as saved."""
    dtype = storage_dtype(name)
    if dtype is None:
        return
    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        raise ValueError(f"{folder} holds no .safetensors weights to store as {name}")
    for path in files:
        tensors = load_file(path)
        cast = {
            key: value.to(dtype) if value.is_floating_point() else value
            for key, value in tensors.items()
        }
        partial = path.with_name(path.name + ".partial")
        save_file(cast, partial, metadata={"format": "pt"})
        os.replace(partial, path)
