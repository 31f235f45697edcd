"""`omniar train RECIPE.yaml`: a recipe names a task; the task builds the model, data and loss.

A recipe is YAML with `task` (a module of `omniar.training.tasks`), `trainer` (TrainerConfig
fields) and task-specific keys. Data paths inside a recipe are relative to the data root
(`../shared/data` beside the repository unless given).
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Any

import yaml
from accelerate.utils import set_seed

import omniar.training.tasks as tasks_package
from omniar.training.setup import TrainingSetup
from omniar.training.trainer import Trainer

DEFAULT_DATA_ROOT = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def available_tasks() -> list[str]:
    """Names a recipe's `task:` may take."""
    return sorted(module.name for module in pkgutil.iter_modules(tasks_package.__path__))


def load_recipe(path: str | Path) -> dict[str, Any]:
    """Read and check a recipe file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"recipe {path} does not exist; expected a YAML file such as recipes/emoji_vq.yaml")
    recipe = yaml.safe_load(path.read_text())
    if not isinstance(recipe, dict) or "task" not in recipe or "trainer" not in recipe:
        raise ValueError(f"recipe {path} must be a mapping with at least `task` and `trainer` keys")
    if recipe["task"] not in available_tasks():
        raise ValueError(f"recipe {path}: unknown task {recipe['task']!r}; expected one of {available_tasks()}")
    return recipe


def build_setup(
    recipe: dict[str, Any],
    data_root: str | Path | None = None,
    output_dir: str | None = None,
    max_steps: int | None = None,
) -> TrainingSetup:
    """Let the recipe's task build its TrainingSetup, applying command-line overrides."""
    recipe = dict(recipe)
    recipe["trainer"] = {
        **recipe["trainer"],
        **{k: v for k, v in {"output_dir": output_dir, "max_steps": max_steps}.items() if v is not None},
    }
    module = importlib.import_module(f"omniar.training.tasks.{recipe['task']}")
    # Seed before the task builds its model, so the initial weights follow from the recipe.
    set_seed(int(recipe["trainer"].get("seed", 0)))
    return module.build(recipe, str(data_root if data_root is not None else DEFAULT_DATA_ROOT))


def run_recipe(
    path: str | Path,
    data_root: str | Path | None = None,
    output_dir: str | None = None,
    max_steps: int | None = None,
    show_progress: bool = True,
    stop_after: int | None = None,
):
    """Train what the recipe describes; rerunning the same command resumes it.

    `stop_after` pauses at that step (checkpointed), for training in chunks.
    """
    setup = build_setup(load_recipe(path), data_root, output_dir, max_steps)
    trainer = Trainer(
        setup.model,
        setup.train_dataset,
        setup.loss_fn,
        setup.config,
        collate_fn=setup.collate_fn,
        eval_fn=setup.eval_fn,
        finalize=setup.finalize,
        show_progress=show_progress,
        ema_restarts=setup.ema_restarts,
    )
    return trainer.train(stop_after=stop_after)
