"""Training a shipped recipe writes only under --output-dir, never into the shipped assets/."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from omniar.cli import main as cli_main
from omniar.pipelines.graph import GraphPipeline
from omniar.training.recipes import DEFAULT_DATA_ROOT

REPO = Path(__file__).resolve().parents[1]


def file_hashes(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*")) if path.is_file()
    }


@pytest.mark.skipif(not (DEFAULT_DATA_ROOT / "graphs" / "tree_train.jsonl").is_file(),
                    reason="needs ../shared/data/graphs")
def test_a_shipped_recipe_leaves_assets_untouched(tmp_path, monkeypatch):
    # The cheapest shipped recipe that writes a pipeline; run from the repository root, where
    # the recipes' relative paths point.
    monkeypatch.chdir(REPO)
    before = file_hashes(REPO / "assets")
    output = tmp_path / "run"
    assert cli_main(["train", "recipes/graphs_tree.yaml", "--max-steps", "2",
                     "--output-dir", str(output), "--no-progress"]) == 0
    assert file_hashes(REPO / "assets") == before
    pipe = GraphPipeline.from_pretrained(output / "pipeline")
    assert pipe.config.family == "tree"
    assert (output / "checkpoints" / "step_2").is_dir() and (output / "metrics.jsonl").is_file()


def test_pipeline_dir_for_a_task_without_pipeline_is_refused(tmp_path, capsys):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        "task: digit_classifier\ntrainer: {output_dir: " + str(tmp_path / "run") + ", max_steps: 1}\n"
    )
    assert cli_main(["train", str(recipe), "--pipeline-dir", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert "--pipeline-dir" in err and "writes no pipeline" in err
    assert not (tmp_path / "p").exists()
