"""Benchmark splits: per-split files, community-small's cut, and a recipe that names a benchmark."""

from pathlib import Path

import networkx as nx
import pytest

from omniar.data.graph_benchmarks import (
    benchmark_source,
    load_benchmark_split,
    split_indices,
)
from omniar.data.graph_files import save_graph_jsonl
from omniar.eval.graph_metrics import evaluate_graphs
from omniar.training.tasks.graph_ar import build as build_task


def two_communities(size: int) -> nx.Graph:
    """Two cliques of `size` nodes joined by one edge, numbered 0..2*size-1."""
    graph = nx.disjoint_union(nx.complete_graph(size), nx.complete_graph(size))
    graph.add_edge(0, size)
    return graph


def write_community_set(root: Path, count: int = 10) -> list[nx.Graph]:
    graphs = [two_communities(3 + i % 3) for i in range(count)]
    (root / "graphs").mkdir(parents=True, exist_ok=True)
    save_graph_jsonl(graphs, root / "graphs" / "community_small.jsonl")
    return graphs


@pytest.mark.parametrize(
    ("total", "sizes"), [(100, (64, 16, 20)), (200, (128, 32, 40)), (10, (6, 2, 2))]
)
def test_split_sizes_follow_digress_proportions(total, sizes):
    parts = split_indices(total)
    assert tuple(len(parts[name]) for name in ("train", "val", "test")) == sizes
    assert sorted(parts["train"] + parts["val"] + parts["test"]) == list(range(total))
    assert split_indices(total) == parts
    assert split_indices(total, seed=1) != parts


def test_split_needs_three_graphs():
    with pytest.raises(ValueError, match="at least 3 graphs"):
        split_indices(2)


def test_community_file_is_cut_into_disjoint_splits(tmp_path):
    graphs = write_community_set(tmp_path, count=10)
    sizes = {
        name: [g.number_of_nodes() for g in load_benchmark_split(tmp_path, "community", name)]
        for name in ("train", "val", "test")
    }
    assert [len(sizes[name]) for name in ("train", "val", "test")] == [6, 2, 2]
    expected = split_indices(10)
    for name, nodes in sizes.items():
        assert nodes == [graphs[i].number_of_nodes() for i in expected[name]]
    assert benchmark_source(tmp_path, "community", "test").endswith("community_small.jsonl[test]")


def test_per_split_file_wins_and_missing_files_are_named(tmp_path):
    write_community_set(tmp_path)
    save_graph_jsonl([nx.path_graph(4)], tmp_path / "graphs" / "community_test.jsonl")
    assert [g.number_of_nodes() for g in load_benchmark_split(tmp_path, "community", "test")] == [4]
    with pytest.raises(ValueError, match="planar_val.jsonl"):
        load_benchmark_split(tmp_path, "planar", "val")
    with pytest.raises(ValueError, match="family must be one of"):
        load_benchmark_split(tmp_path, "ego", "val")
    with pytest.raises(ValueError, match="split must be one of"):
        load_benchmark_split(tmp_path, "community", "dev")


def test_community_evaluation_has_no_validity():
    graphs = [two_communities(4), two_communities(5)]
    results = evaluate_graphs(graphs, graphs, [two_communities(3)], family="community")
    assert results["family"] == "community" and results["degree"] == pytest.approx(0.0, abs=1e-9)
    assert results["validity"] is None and results["vun"] is None
    assert results["uniqueness"] == 1.0 and results["novelty"] == 1.0


def test_recipe_can_name_a_benchmark_instead_of_files(tmp_path):
    write_community_set(tmp_path, count=10)
    recipe = {
        "task": "graph_ar",
        "family": "community",
        "data": {"benchmark": "community"},
        "tokenizer": {"max_nodes": 10, "max_edges": 21},
        "model": {"hidden_size": 16, "num_layers": 1, "num_heads": 2},
        "eval": {"num_graphs": 2},
        "trainer": {"output_dir": str(tmp_path / "run"), "max_steps": 1, "batch_size": 2},
    }
    setup = build_task(recipe, str(tmp_path))
    assert len(setup.train_dataset) == 6
    assert sorted(setup.train_dataset.names) == sorted(
        f"{tmp_path / 'graphs' / 'community_small.jsonl'}[train][{i}]" for i in range(6)
    )
    metrics = setup.eval_fn(setup.model.eval())
    assert "validity" not in metrics and 0.0 <= metrics["uniqueness"] <= 1.0
    assert "degree_mmd_val" in metrics
    with pytest.raises(ValueError, match="family must be one of"):
        build_task({**recipe, "data": {"benchmark": "lobster"}}, str(tmp_path))
    with pytest.raises(ValueError, match="data needs train"):
        build_task({**recipe, "data": {}}, str(tmp_path))
