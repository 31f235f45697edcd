"""The shipped recipes: each one loads, and the staged ones chain up.

Some assets are trained in stages (`init_from:` names the weights an earlier recipe writes);
a renamed output folder would break such a chain without any training run noticing until it
starts. These checks read the YAML only and train nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from omniar.training.config import TrainerConfig
from omniar.training.recipes import load_recipe

REPO = Path(__file__).resolve().parents[1]
RECIPES = sorted((REPO / "recipes").glob("*.yaml"))


def produced_folders(recipe: dict) -> set[str]:
    """Folders a finished run of `recipe` writes: `<output_dir>/final` and `<pipeline_dir>/*`."""
    folders = {str(Path(recipe["trainer"]["output_dir"]) / "final")}
    if "pipeline_dir" in recipe:
        pipeline = Path(recipe["pipeline_dir"])
        folders |= {str(pipeline / part) for part in ("transformer", "tokenizer", "codec")}
    return folders


def test_there_are_recipes() -> None:
    assert len(RECIPES) >= 10


@pytest.mark.parametrize("path", RECIPES, ids=lambda path: path.stem)
def test_recipe_loads_with_known_trainer_settings(path: Path) -> None:
    recipe = load_recipe(path)
    config = TrainerConfig.from_dict(recipe["trainer"])
    assert config.max_steps > 0 and config.output_dir


def test_output_folders_are_not_shared() -> None:
    recipes = {path.stem: load_recipe(path) for path in RECIPES}
    for key in ("output_dir", "pipeline_dir"):
        owners: dict[str, str] = {}
        for name, recipe in recipes.items():
            folder = recipe["trainer"]["output_dir"] if key == "output_dir" else recipe.get(key)
            if folder is None:
                continue
            assert folder not in owners, f"{name} and {owners[folder]} both write {key} {folder}"
            owners[folder] = name


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


def test_graphs_planar_stages_chain_into_the_asset() -> None:
    recipes = {path.stem: load_recipe(path) for path in RECIPES}
    stages = [f"graphs_planar{suffix}" for suffix in ("", "_stage2", "_stage3", "_stage4", "_stage5")]
    for earlier, later in zip(stages, stages[1:]):
        assert recipes[later]["init_from"] == f"{recipes[earlier]['pipeline_dir']}/transformer"
        assert recipes[later]["model"] == recipes[earlier]["model"]
    assert recipes[stages[-1]]["pipeline_dir"] == "assets/graphs-planar"
