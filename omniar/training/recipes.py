"""`omniar train RECIPE.yaml`: a recipe names a task; the task builds the model, data and loss.

A recipe is YAML with `task` (a module of `omniar.training.tasks`), `trainer` (TrainerConfig
fields) and the task's own keys, which each task declares with their types (`RECIPE`, a
`TaskRecipe`). Loading checks all of them: an unknown key (with the closest known one), a value
of the wrong type, or broken YAML is reported as one line with the file and line number. Data
paths inside a recipe are relative to the data root (`../shared/data` beside the repository
unless given). A recipe says how to train, not where to write: see `omniar.training.outputs`.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Any

import yaml
from accelerate.utils import set_seed

import omniar.training.tasks as tasks_package
from omniar.errors import OmniarError, bad_value, did_you_mean
from omniar.training.config import TrainerConfig
from omniar.training.recipe_schema import KeyPath, Locate, TaskRecipe, check_section, dataclass_keys
from omniar.training.setup import TrainingSetup
from omniar.training.trainer import Trainer

DEFAULT_DATA_ROOT = Path(__file__).resolve().parents[2].parent / "shared" / "data"
_RETIRED = {
    "pipeline_dir": "a run writes its pipeline to <output_dir>/pipeline; to write it elsewhere "
    "(e.g. into assets/NAME) pass --pipeline-dir PATH (run_recipe(..., pipeline_dir=PATH))",
}


def available_tasks() -> list[str]:
    """Names a recipe's `task:` may take."""
    return sorted(module.name for module in pkgutil.iter_modules(tasks_package.__path__))


def task_recipe(task: str) -> TaskRecipe:
    """The keys task `task` accepts."""
    return importlib.import_module(f"omniar.training.tasks.{task}").RECIPE


def _key_lines(node: yaml.Node | None, path: KeyPath = (), lines: dict | None = None) -> dict[KeyPath, int]:
    """1-based line of every mapping key of a composed YAML document, by key path."""
    lines = {} if lines is None else lines
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            where = (*path, str(key_node.value))
            lines[where] = key_node.start_mark.line + 1
            _key_lines(value_node, where, lines)
    return lines


def _parse(path: Path) -> tuple[Any, dict[KeyPath, int]]:
    text = path.read_text()
    try:
        return yaml.safe_load(text), _key_lines(yaml.compose(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = " ".join(
            str(part) for part in (getattr(error, "context", None), getattr(error, "problem", None)) if part
        ) or str(error)
        raise OmniarError(f"{where}: not valid YAML: {' '.join(problem.split())}") from None


def check_recipe(recipe: Any, locate: Locate) -> None:
    """Raise an OmniarError, located by `locate(key path)`, for the first thing wrong in `recipe`:
    not a mapping, a missing or unknown task, an unknown key, a value of the wrong type."""
    if not isinstance(recipe, dict) or "task" not in recipe or "trainer" not in recipe:
        raise OmniarError(f"{locate(())}: a recipe must be a mapping with at least `task` and `trainer` keys")
    task = recipe["task"]
    if task not in available_tasks():
        raise OmniarError(
            f"{locate(('task',))}: task={task!r} is not valid{did_you_mean(str(task), available_tasks())}; "
            f"expected one of {available_tasks()}"
        )
    for key, reason in _RETIRED.items():
        if key in recipe:
            raise OmniarError(f"{locate((key,))}: {key!r} is not a recipe key: {reason}")
    schema = task_recipe(task)
    keys = {"task": str, "trainer": dataclass_keys(TrainerConfig), **schema.keys}
    check_section(recipe, keys, (), locate)
    missing = [key for key in schema.required if key not in recipe]
    if missing:
        raise OmniarError(f"{locate(('task',))}: task {task} needs the key(s) {missing}")
    try:
        # Placeholders for the two settings the command line may supply.
        TrainerConfig.from_dict({"output_dir": ".", "max_steps": 1, **recipe["trainer"]})
    except OmniarError as error:
        key = getattr(error, "key", None)
        raise OmniarError(f"{locate(('trainer', key) if key else ('trainer',))}: {error}") from None


def load_recipe(path: str | Path) -> dict[str, Any]:
    """Read and check a recipe file (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise bad_value("recipe", str(path), "an existing YAML file such as recipes/emoji_vq.yaml")
    recipe, lines = _parse(path)

    def locate(where: KeyPath) -> str:
        for end in range(len(where), 0, -1):
            if where[:end] in lines:
                return f"{path}:{lines[where[:end]]}"
        return str(path)

    check_recipe(recipe, locate)
    return recipe


def build_setup(
    recipe: dict[str, Any],
    data_root: str | Path | None = None,
    output_dir: str | None = None,
    max_steps: int | None = None,
    pipeline_dir: str | Path | None = None,
) -> TrainingSetup:
    """Let the recipe's task build its TrainingSetup, applying command-line overrides.

    `pipeline_dir` sends a task's finished pipeline there instead of `<output_dir>/pipeline`.
    The recipe's keys are checked by `load_recipe` (or `check_recipe`), not here.
    """
    recipe = dict(recipe)
    recipe["trainer"] = {
        **recipe["trainer"],
        **{k: v for k, v in {"output_dir": output_dir, "max_steps": max_steps}.items() if v is not None},
    }
    module = importlib.import_module(f"omniar.training.tasks.{recipe['task']}")
    extra: dict[str, Any] = {}
    if module.RECIPE.writes_pipeline:
        extra["pipeline_dir"] = None if pipeline_dir is None else str(pipeline_dir)
    elif pipeline_dir is not None:
        raise bad_value(
            "--pipeline-dir", str(pipeline_dir),
            f"no value: task {recipe['task']} writes no pipeline (its model goes to <output_dir>/final)",
        )
    # Seed before the task builds its model, so the initial weights follow from the recipe.
    set_seed(int(recipe["trainer"].get("seed", 0)))
    return module.build(recipe, str(data_root if data_root is not None else DEFAULT_DATA_ROOT), **extra)


def run_recipe(
    path: str | Path,
    data_root: str | Path | None = None,
    output_dir: str | None = None,
    max_steps: int | None = None,
    show_progress: bool = True,
    stop_after: int | None = None,
    pipeline_dir: str | Path | None = None,
):
    """Train what the recipe describes; rerunning the same command resumes it.

    `stop_after` pauses at that step (checkpointed), for training in chunks; `pipeline_dir`
    names where a pipeline-writing task puts its result (default `<output_dir>/pipeline`).
    """
    setup = build_setup(load_recipe(path), data_root, output_dir, max_steps, pipeline_dir)
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
