"""The shipped recipes load, the staged ones chain up, and a broken recipe is named to the line.

Some assets are trained in stages (`init_from:` names the weights an earlier recipe writes);
a renamed output folder would break such a chain without any training run noticing until it
starts. These checks read the YAML only and train nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from omniar.cli import main as cli_main
from omniar.errors import OmniarError
from omniar.training.config import TrainerConfig
from omniar.training.outputs import pipeline_folder
from omniar.training.recipes import load_recipe, task_recipe

REPO = Path(__file__).resolve().parents[1]
RECIPES = sorted((REPO / "recipes").glob("*.yaml"))


def produced_folders(recipe: dict) -> set[str]:
    """Folders a finished run of `recipe` writes: `<output_dir>/final` and its pipeline's parts."""
    output_dir = recipe["trainer"]["output_dir"]
    folders = {str(Path(output_dir) / "final")}
    if task_recipe(recipe["task"]).writes_pipeline:
        pipeline = pipeline_folder(output_dir)
        folders |= {str(pipeline / part) for part in ("transformer", "tokenizer", "codec")}
    return folders


def test_there_are_recipes() -> None:
    assert len(RECIPES) >= 10


@pytest.mark.parametrize("path", RECIPES, ids=lambda path: path.stem)
def test_recipe_loads_with_known_trainer_settings(path: Path) -> None:
    recipe = load_recipe(path)
    config = TrainerConfig.from_dict(recipe["trainer"])
    assert config.max_steps > 0 and config.output_dir
    assert not Path(config.output_dir).is_absolute() and Path(config.output_dir).parts[0] == "runs"


def test_output_folders_are_not_shared() -> None:
    owners: dict[str, str] = {}
    for path in RECIPES:
        folder = load_recipe(path)["trainer"]["output_dir"]
        assert folder not in owners, f"{path.stem} and {owners[folder]} both write {folder}"
        owners[folder] = path.stem


def test_init_from_names_another_recipes_output_or_a_shipped_folder() -> None:
    recipes = {path.stem: load_recipe(path) for path in RECIPES}
    produced = {
        folder: name for name, recipe in recipes.items() for folder in produced_folders(recipe)
    }
    staged = {
        name: recipe["init_from"] for name, recipe in recipes.items() if "init_from" in recipe
    }
    assert staged, "expected at least one staged recipe (init_from)"
    for name, source in staged.items():
        source = str(Path(source))
        assert source in produced or (REPO / source).is_dir(), (
            f"recipe {name}: init_from {source} is neither written by another recipe nor shipped"
        )
        assert produced.get(source) != name, f"recipe {name} starts from its own output {source}"


def test_graphs_planar_stages_chain_into_each_other() -> None:
    recipes = {path.stem: load_recipe(path) for path in RECIPES}
    stages = [f"graphs_planar{suffix}" for suffix in ("", "_stage2", "_stage3", "_stage4", "_stage5")]
    for earlier, later in zip(stages, stages[1:]):
        expected = pipeline_folder(recipes[earlier]["trainer"]["output_dir"]) / "transformer"
        assert recipes[later]["init_from"] == str(expected)
        assert recipes[later]["model"] == recipes[earlier]["model"]


GOOD = """\
task: graph_ar
data:
  train: graphs/tree_train.jsonl
model:
  hidden_size: 32
trainer:
  output_dir: runs/x
  max_steps: 10
"""

# (name, recipe text or None for a missing file, expected pieces of the one-line message)
BROKEN = [
    ("unknown_top_level_key", GOOD.replace("model:", "modle:"),
     ["recipe.yaml:4:", "'modle'", "did you mean 'model'"]),
    ("unknown_trainer_key", GOOD + "  lerning_rate: 0.1\n",
     ["recipe.yaml:9:", "'trainer.lerning_rate'", "did you mean 'learning_rate'"]),
    ("unknown_section_key", GOOD.replace("  train:", "  trian:"),
     ["recipe.yaml:3:", "'data.trian'", "did you mean 'train'"]),
    ("wrong_type", GOOD.replace("max_steps: 10", "max_steps: ten"),
     ["recipe.yaml:8:", "trainer.max_steps='ten'", "an integer"]),
    ("wrong_type_in_section", GOOD.replace("hidden_size: 32", "hidden_size: 32\neval: {num_graphs: 1.5}"),
     ["recipe.yaml:6:", "eval.num_graphs=1.5", "an integer"]),
    ("bad_trainer_value", GOOD + "  lr_schedule: linear\n",
     ["recipe.yaml:9:", "trainer.lr_schedule='linear'", "cosine"]),
    ("broken_yaml", GOOD.replace("  max_steps: 10", "  max_steps: [10"),
     ["recipe.yaml:", "not valid YAML"]),
    ("unknown_task", GOOD.replace("graph_ar", "graph_arr"),
     ["recipe.yaml:1:", "'graph_arr'", "did you mean 'graph_ar'"]),
    ("pipeline_dir_is_not_a_recipe_key", GOOD + "pipeline_dir: assets/graphs-tree\n",
     ["recipe.yaml:9:", "'pipeline_dir'", "--pipeline-dir"]),
    ("not_a_mapping", "- task\n", ["recipe.yaml", "`task` and `trainer`"]),
    ("missing_file", None, ["recipe='", "recipe.yaml", "an existing YAML file"]),
]


@pytest.mark.parametrize("text, pieces", [case[1:] for case in BROKEN], ids=[case[0] for case in BROKEN])
def test_a_broken_recipe_is_one_located_line(tmp_path, capsys, text, pieces) -> None:
    path = tmp_path / "recipe.yaml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(OmniarError) as caught:
        load_recipe(path)
    message = str(caught.value)
    assert "\n" not in message
    for piece in pieces:
        assert piece in message, message
    assert cli_main(["train", str(path), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("omniar train: error:"), err


def test_broken_yaml_names_the_line(tmp_path) -> None:
    path = tmp_path / "recipe.yaml"
    path.write_text(GOOD.replace("  max_steps: 10", "  max_steps: 10\n   bad indent: 1"))
    with pytest.raises(OmniarError, match=r"recipe\.yaml:9: not valid YAML"):
        load_recipe(path)
