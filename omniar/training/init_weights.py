"""Starting a training from saved weights (a further stage, or more steps on a new schedule)."""

from __future__ import annotations

import json
from pathlib import Path

from diffusers import ModelMixin


def public_config(model: ModelMixin) -> dict:
    """The architecture arguments of a diffusers model (its config without `_` bookkeeping), as
    config.json holds them, so that a tuple built in memory equals the list read from disk."""
    config = json.loads(model.to_json_string())
    return {key: value for key, value in config.items() if not key.startswith("_")}


def check_saved_folder(folder: str | Path, kind: str, hint: str = "") -> Path:
    """`folder` as a Path if it holds a saved model (`save_pretrained` wrote its config.json),
    else a ValueError naming `init_from`, the folder and the `kind` of model expected."""
    if not (Path(folder) / "config.json").is_file():
        raise ValueError(f"init_from: {folder} is not a saved {kind} folder (no config.json){hint}")
    return Path(folder)


def load_initial_weights(model: ModelMixin, folder: str | Path | None) -> ModelMixin:
    """`model` with the weights saved in `folder` (its class's `save_pretrained` folder, e.g. a
    pipeline's `transformer/`), or unchanged for None. The recipe still builds the model, so the
    saved config must match it: a silent partial load would train a different network."""
    if folder is None:
        return model
    check_saved_folder(folder, type(model).__name__)
    saved = type(model).from_pretrained(str(folder))
    built, stored = public_config(model), public_config(saved)
    differing = sorted(
        key for key in built.keys() | stored.keys() if built.get(key) != stored.get(key)
    )
    if differing:
        details = ", ".join(
            f"{key}: recipe {built.get(key)!r}, saved {stored.get(key)!r}" for key in differing
        )
        raise ValueError(f"init_from: {folder} holds a different architecture ({details})")
    model.load_state_dict(saved.state_dict())
    return model
