"""Graph metrics: orbit counts, MMDs, validity, uniqueness/novelty, report writing."""

import itertools
import json
import math
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from omniar.eval.graph_kernels import compute_mmd
from omniar.eval.graph_metrics import (
    MMD_METRICS,
    evaluate_graphs,
    graph_mmd,
    is_planar_graph,
    is_sbm_graph,
    is_tree_graph,
    uniqueness_novelty,
)
from omniar.eval.graph_orbits import _orbit_of, orbit_counts
from omniar.eval.graph_published import markdown_table, published_results, write_report


def _read_jsonl(path: Path) -> list[nx.Graph]:
    """Minimal reader (omniar.data.graph_files would import torch, slow to start on CI)."""
    graphs = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        graph = nx.empty_graph(record["num_nodes"])
        graph.add_edges_from(record["edges"])
        graphs.append(graph)
    return graphs


def _brute_force_orbits(graph: nx.Graph) -> np.ndarray:
    """Induced orbit counts by enumerating every 3- and 4-node subset (what ORCA computes)."""
    nodes = list(graph.nodes)
    row = {v: i for i, v in enumerate(nodes)}
    counts = np.zeros((len(nodes), 15), dtype=np.int64)
    for v in nodes:
        counts[row[v], 0] = graph.degree(v)
    for subset in itertools.combinations(nodes, 3):
        sub = graph.subgraph(subset)
        for v in subset:
            if sub.number_of_edges() == 3:
                counts[row[v], 3] += 1
            elif sub.number_of_edges() == 2:
                counts[row[v], 2 if sub.degree(v) == 2 else 1] += 1
    for subset in itertools.combinations(nodes, 4):
        sub = graph.subgraph(subset)
        if not nx.is_connected(sub):
            continue
        local = {v: i for i, v in enumerate(subset)}
        edges = tuple((local[u], local[v]) for u, v in sub.edges)
        for v in subset:
            counts[row[v], _orbit_of(edges, local[v])] += 1
    return counts


def test_orbit_counts_match_brute_force_enumeration():
    graphs = [nx.gnp_random_graph(11, p, seed=s) for s, p in enumerate([0.2, 0.35, 0.5, 0.8])]
    graphs += [nx.petersen_graph(), nx.random_labeled_tree(10, seed=1), nx.empty_graph(3)]
    for graph in graphs:
        assert np.array_equal(orbit_counts(graph), _brute_force_orbits(graph))


def test_orbit_counts_known_values():
    k4 = orbit_counts(nx.complete_graph(4))
    assert (k4[:, 14] == 1).all() and (k4[:, 4:14] == 0).all() and (k4[:, 3] == 3).all()
    star = orbit_counts(nx.star_graph(4))  # centre 0 with 4 leaves
    assert star[0, 7] == 4 and (star[1:, 6] == 3).all() and star[0, 2] == 6
    assert orbit_counts(nx.Graph()).shape == (0, 15)


def test_compute_mmd_basics():
    hist = [np.array([1.0, 2.0, 3.0]), np.array([0.0, 5.0])]
    assert compute_mmd(hist, hist) == pytest.approx(0.0, abs=1e-12)
    assert compute_mmd([np.array([1.0, 0.0])], [np.array([0.0, 1.0])]) == pytest.approx(
        2.0 - 2.0 * math.exp(-0.5), rel=1e-5
    )
    assert math.isnan(compute_mmd([], hist))
    with pytest.raises(ValueError, match="kernel"):
        compute_mmd(hist, hist, kernel="laplace")


def test_mmds_zero_for_identical_sets_and_large_across_families():
    trees = [nx.random_labeled_tree(30, seed=i) for i in range(8)]
    communities = [
        nx.stochastic_block_model([15, 15], [[0.7, 0.05], [0.05, 0.7]], seed=i) for i in range(8)
    ]
    for metric in MMD_METRICS:
        assert graph_mmd(metric, trees, trees) == pytest.approx(0.0, abs=1e-12)
        assert graph_mmd(metric, communities, communities) == pytest.approx(0.0, abs=1e-12)
        assert graph_mmd(metric, communities, trees) > 0.3
    with pytest.raises(ValueError, match="metric"):
        graph_mmd("betweenness", trees, trees)


def test_validity_functions():
    grid = nx.grid_2d_graph(5, 5)
    assert is_planar_graph(grid)
    assert not is_planar_graph(nx.complete_graph(5))
    assert not is_planar_graph(nx.disjoint_union(nx.path_graph(3), nx.path_graph(3)))
    assert not is_planar_graph(nx.Graph())
    assert is_tree_graph(nx.random_labeled_tree(20, seed=0))
    assert not is_tree_graph(nx.cycle_graph(5))
    assert not is_tree_graph(nx.Graph())
    sbm = nx.stochastic_block_model(
        [25, 30, 35], [[0.3, 0.005, 0.005], [0.005, 0.3, 0.005], [0.005, 0.005, 0.3]], seed=4
    )
    assert is_sbm_graph(sbm)
    assert not is_sbm_graph(nx.gnp_random_graph(90, 0.1, seed=0))
    assert not is_sbm_graph(nx.random_labeled_tree(60, seed=0))
    assert not is_sbm_graph(nx.empty_graph(40))


def test_uniqueness_and_novelty_fractions():
    train = [nx.cycle_graph(6), nx.path_graph(6)]
    relabelled_cycle = nx.relabel_nodes(nx.cycle_graph(6), {i: (i * 5) % 6 for i in range(6)})
    star = nx.star_graph(5)
    spider = nx.Graph([(0, 1), (1, 2), (2, 3), (1, 4), (4, 5)])
    generated = [relabelled_cycle, star, nx.star_graph(5), spider, nx.complete_graph(6)]
    scores = uniqueness_novelty(generated, train, is_tree_graph)
    assert scores["uniqueness"] == pytest.approx(4 / 5)  # the second star repeats
    assert scores["novelty"] == pytest.approx(4 / 5)  # the cycle is a training graph
    assert scores["unique_novel"] == pytest.approx(3 / 5)
    assert scores["validity"] == pytest.approx(3 / 5)
    assert scores["vun"] == pytest.approx(2 / 5)  # star and spider
    assert uniqueness_novelty(generated, train)["vun"] is None
    assert uniqueness_novelty([], train)["uniqueness"] is None


def test_evaluate_graphs_and_report(tmp_path):
    train = [nx.random_labeled_tree(16, seed=i) for i in range(6)]
    reference = [nx.random_labeled_tree(16, seed=10 + i) for i in range(6)]
    generated = [nx.random_labeled_tree(16, seed=20 + i) for i in range(5)] + [nx.Graph()]
    results = evaluate_graphs(generated, reference, train, family="tree")
    assert results["num_generated"] == 6 and results["num_empty"] == 1
    assert results["validity"] == pytest.approx(5 / 6)
    assert all(results[m] >= 0.0 for m in MMD_METRICS)
    with pytest.raises(ValueError, match="family"):
        evaluate_graphs(generated, reference, train, family="lobster")
    with pytest.raises(ValueError, match="reference"):
        evaluate_graphs(generated, [], train)
    untyped = evaluate_graphs([nx.Graph()], reference, train, metrics=("degree",))
    assert math.isnan(untyped["degree"]) and untyped["vun"] is None

    table = markdown_table(results, "tree", model_name="ours")
    assert table.splitlines()[0].startswith("| Model | Deg.")
    assert "| **ours** |" in table and "n/a" in table
    assert len(table.splitlines()) >= len(published_results("tree")) + 3
    write_report(untyped | {"family": "tree"}, tmp_path / "r.json", tmp_path / "r.md")
    assert json.loads((tmp_path / "r.json").read_text())["degree"] is None
    assert (tmp_path / "r.md").read_text().count("\n| ") >= 2
    with pytest.raises(ValueError, match="family"):
        published_results("grid")


def test_published_rows_match_the_quoted_tables():
    planar = {row.model: row for row in published_results("planar")}
    assert {"GraphRNN", "GRAN", "SPECTRE", "DiGress", "G2PT-small", "G2PT-base"} <= set(planar)
    assert (planar["DiGress"].degree, planar["DiGress"].clustering) == (0.0007, 0.0780)
    assert planar["DiGress"].vun == pytest.approx(0.775)
    assert planar["G2PT-small"].vun == pytest.approx(0.95)
    sbm = {row.model: row for row in published_results("sbm")}
    assert sbm["DiGress"].degree == 0.0018 and sbm["DiGress"].vun == pytest.approx(0.60)
    tree = {row.model: row for row in published_results("tree")}
    assert tree["DiGress"].vun == pytest.approx(0.90) and "GraphRNN" not in tree
    for row in published_results("planar") + published_results("sbm") + published_results("tree"):
        figures = [row.degree, row.clustering, row.orbit, row.spectral]
        assert all(value is not None and value >= 0.0 for value in figures), row
        assert row.vun is not None and 0.0 <= row.vun <= 1.0, row


def test_community_table_has_only_our_row():
    assert published_results("community") == []
    table = markdown_table({"degree": 0.01, "vun": None}, "community", model_name="ours")
    assert "| **ours** | 0.0100 |" in table and "No published rows for community" in table
    assert table.count("\n| ") == 1


def test_shared_planar_validation_split_scores_like_real_data(shared_data):
    folder = shared_data / "graphs"
    train = _read_jsonl(folder / "planar_train.jsonl")
    test = _read_jsonl(folder / "planar_test.jsonl")
    val = _read_jsonl(folder / "planar_val.jsonl")[:16]
    results = evaluate_graphs(val, test, train, family="planar")
    assert results["vun"] == 1.0
    assert results["degree"] < 0.005 and results["orbit"] < 0.01
    assert results["clustering"] < 0.1 and results["spectral"] < 0.05
