"""The model argument of the eval commands: a saved folder or the name of an embedded model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omniar.assets import embedded_models
from omniar.errors import OmniarError, did_you_mean


def model_folder(
    name_or_path: str | Path, argument: str = "model", kinds: Sequence[str] | None = None
) -> Path:
    """The folder of ``name_or_path``: an existing folder, else an embedded model's folder.

    ``kinds`` (class names from the folder's config, e.g. ``["ImageVQTokenizer"]``) limits which
    embedded models are accepted and listed in the error, an OmniarError naming ``argument``.
    """
    path = Path(name_or_path)
    if path.is_dir():
        return path
    models = {
        name: info
        for name, info in embedded_models().items()
        if kinds is None or info["kind"] in kinds
    }
    text = str(name_or_path)
    if text in models:
        return Path(models[text]["path"])
    what = f"{' or '.join(kinds)} model" if kinds else "model"
    raise OmniarError(
        f"{argument}={text!r} is neither a folder nor the name of an embedded {what}"
        f"{did_you_mean(text, models)}; expected a saved folder or one of {sorted(models)}"
    )
