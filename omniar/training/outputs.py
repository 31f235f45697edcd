"""Where a training run writes: everything under its output folder, unless told otherwise.

A run writes its checkpoints, metrics, caches and `final/` under `trainer.output_dir`
(`--output-dir`), and a task that ships a pipeline writes it to `<output_dir>/pipeline`. Only an
explicit `--pipeline-dir` (`run_recipe(pipeline_dir=...)`) sends the pipeline elsewhere, for
example into `assets/NAME` to replace a shipped model; a recipe cannot, so that a user's
experiment with a shipped recipe never overwrites the embedded model.
"""

from __future__ import annotations

from pathlib import Path

PIPELINE_SUBDIR = "pipeline"


def pipeline_folder(output_dir: str | Path, pipeline_dir: str | Path | None = None) -> Path:
    """`pipeline_dir` when given, else `<output_dir>/pipeline`."""
    return Path(pipeline_dir) if pipeline_dir is not None else Path(output_dir) / PIPELINE_SUBDIR
