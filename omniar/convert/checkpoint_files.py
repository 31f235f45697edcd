"""Reading published PyTorch checkpoints without running their pickles.

Files are read with `torch.load(weights_only=True)`, which only rebuilds tensors and plain
containers; `argparse.Namespace` (the training arguments LlamaGen stores beside the weights) is
the one extra class allowed. Anything else the pickle asks for is refused, and every failure is
an `OmniarError` naming the file and what was expected.
"""

from __future__ import annotations

import argparse
import pickle
import re
from collections.abc import Mapping
from pathlib import Path

import torch

from omniar.errors import OmniarError

WRAPPER_KEYS = ("model", "module", "state_dict", "ema")
KEY_PREFIXES = ("module.", "_orig_mod.")


def _is_state_dict(value: object) -> bool:
    return isinstance(value, Mapping) and bool(value) and all(
        isinstance(key, str) and isinstance(tensor, torch.Tensor) for key, tensor in value.items()
    )


def _read(path: Path, argument: str) -> object:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as error:  # safetensors raises its own SafetensorError
            raise OmniarError(f"{argument} {path}: not a readable safetensors file ({error})") from error
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError as error:
        refused = re.search(r"(?:[Uu]nsupported global:? GLOBAL|unsupported GLOBAL) ([\w.]+)", str(error))
        if refused:
            raise OmniarError(
                f"{argument} {path}: the file asks to unpickle {refused.group(1)}, which omniar does "
                "not run; expected a checkpoint of tensors (optionally with argparse.Namespace arguments)"
            ) from error
        raise OmniarError(f"{argument} {path}: not a PyTorch checkpoint ({_first_line(error)})") from error
    except (RuntimeError, EOFError, OSError, ValueError) as error:
        raise OmniarError(
            f"{argument} {path}: not a readable PyTorch checkpoint, or truncated ({_first_line(error)})"
        ) from error


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__


def _strip_prefixes(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    for prefix in KEY_PREFIXES:
        if all(key.startswith(prefix) for key in state):
            state = {key[len(prefix):]: value for key, value in state.items()}
    return state


def load_state_dict(path: str | Path, argument: str) -> dict[str, torch.Tensor]:
    """The weights in a checkpoint file: under `model`, `module`, `state_dict` or `ema`, or at
    top level (FSDP files); `module.`/`_orig_mod.` key prefixes are removed.

    `argument` names the option the file came from (e.g. "--gpt") in error messages.
    """
    path = Path(path)
    if not path.is_file():
        raise OmniarError(f"{argument} {path}: no such file")
    content = _read(path, argument)
    if _is_state_dict(content):
        return _strip_prefixes(dict(content))
    if isinstance(content, Mapping):
        for key in WRAPPER_KEYS:
            if _is_state_dict(content.get(key)):
                return _strip_prefixes(dict(content[key]))
        found = ", ".join(sorted(str(key) for key in content)[:10])
        raise OmniarError(
            f"{argument} {path}: holds no weights under {', '.join(WRAPPER_KEYS)} or at top level "
            f"(found keys: {found or 'none'})"
        )
    raise OmniarError(f"{argument} {path}: expected a dict of weights, got a {type(content).__name__}")
