"""Graph file readers/writers, the token dataset and the padding collate."""

import json
from pathlib import Path

import networkx as nx
import pytest
import torch
from torch.utils.data import DataLoader

from omniar.data.graph_files import (
    GraphTokenDataset,
    PadCollate,
    load_edge_list,
    load_graph_jsonl,
    load_graphs,
    save_graph_jsonl,
)
from omniar.tokenizers.graph import GraphTokenizer


def _write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_jsonl_round_trip_with_types(tmp_path):
    plain = nx.petersen_graph()
    typed = nx.path_graph(4)
    nx.set_node_attributes(typed, {0: 0, 1: 1, 2: 1, 3: 0}, "type")
    nx.set_edge_attributes(typed, {(0, 1): 2, (1, 2): 0, (2, 3): 1}, "type")
    path = tmp_path / "graphs.jsonl"
    save_graph_jsonl([plain, typed, nx.empty_graph(3)], path)
    first = json.loads(path.read_text().splitlines()[0])
    assert first["num_nodes"] == 10 and len(first["edges"]) == 15
    loaded = load_graph_jsonl(path)
    assert len(loaded) == 3
    assert nx.is_isomorphic(loaded[0], plain)
    assert nx.utils.graphs_equal(loaded[1], typed)
    assert loaded[2].number_of_nodes() == 3 and loaded[2].number_of_edges() == 0


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"num_nodes": 3, "edges": [[0, 3]]}', "outside 0..2"),
        ('{"num_nodes": 3, "edges": [[1, 1]]}', "self loop"),
        ('{"num_nodes": 3, "edges": [[0, 1], [1, 0]]}', "repeats"),
        ('{"num_nodes": -1, "edges": []}', "num_nodes"),
        ('{"num_nodes": 2, "edges": [[0, "x"]]}', "pair of integers"),
        ('{"num_nodes": 2}', "'edges'"),
        ("[1, 2]", "JSON object"),
        ("{not json", "not valid JSON"),
    ],
)
def test_jsonl_errors_name_file_and_line(tmp_path, line, message):
    path = _write_lines(tmp_path / "bad.jsonl", ['{"num_nodes": 2, "edges": [[0, 1]]}', line])
    with pytest.raises(ValueError, match=message) as error:
        load_graph_jsonl(path)
    assert "bad.jsonl:2" in str(error.value)


def test_edge_list_relabels_and_rejects_bad_lines(tmp_path):
    path = _write_lines(tmp_path / "g.edgelist", ["# a comment", "10 30", "30 70  # tail", ""])
    graph = load_edge_list(path)
    assert sorted(graph.edges) == [(0, 1), (1, 2)]
    bad = _write_lines(tmp_path / "bad.edges", ["1 2", "2 2"])
    with pytest.raises(ValueError, match="bad.edges:2.*self loop"):
        load_edge_list(bad)
    words = _write_lines(tmp_path / "words.txt", ["a b"])
    with pytest.raises(ValueError, match="words.txt:1.*integers"):
        load_edge_list(words)


def test_folder_of_mixed_formats(tmp_path):
    nx.write_graphml(nx.cycle_graph(5), tmp_path / "a.graphml")
    nx.write_gml(nx.star_graph(3), tmp_path / "b.gml")
    nx.write_adjlist(nx.path_graph(4), tmp_path / "c.adjlist")
    _write_lines(tmp_path / "d.edgelist", ["0 1", "1 2", "2 0"])
    save_graph_jsonl([nx.complete_graph(4), nx.path_graph(2)], tmp_path / "e.jsonl")
    (tmp_path / "notes.md").write_text("not a graph")
    graphs = load_graphs(tmp_path)
    expected = [
        nx.cycle_graph(5),
        nx.star_graph(3),
        nx.path_graph(4),
        nx.cycle_graph(3),
        nx.complete_graph(4),
        nx.path_graph(2),
    ]
    assert len(graphs) == len(expected)
    for graph, reference in zip(graphs, expected):
        assert nx.is_isomorphic(graph, reference)
        assert sorted(graph.nodes) == list(range(reference.number_of_nodes()))


def test_path_errors(tmp_path):
    with pytest.raises(ValueError, match="holds no files"):
        load_graphs(tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        load_graphs(tmp_path / "missing.jsonl")
    (tmp_path / "x.csv").write_text("0,1\n")
    with pytest.raises(ValueError, match="unknown suffix"):
        load_graphs(tmp_path / "x.csv")
    nx.write_graphml(nx.DiGraph([(0, 1)]), tmp_path / "directed.graphml")
    with pytest.raises(ValueError, match="directed.graphml.*directed"):
        load_graphs(tmp_path / "directed.graphml")


def test_token_dataset_and_collate():
    tokenizer = GraphTokenizer(max_nodes=12)
    graphs = [nx.path_graph(3), nx.cycle_graph(8), nx.random_labeled_tree(12, seed=1)]
    fixed = GraphTokenDataset(graphs, tokenizer, permute=False)
    assert len(fixed) == 3
    assert fixed[0].tolist() == tokenizer.encode(graphs[0])
    assert fixed[0].dtype == torch.long
    augmented = GraphTokenDataset(graphs, tokenizer, permute=True)
    torch.manual_seed(0)
    views = {tuple(augmented[2].tolist()) for _ in range(8)}
    assert len(views) > 1
    assert all(nx.is_isomorphic(tokenizer.decode(list(v)), graphs[2]) for v in views)

    collate = PadCollate(tokenizer.pad_token_id)
    batch = next(iter(DataLoader(fixed, batch_size=3, collate_fn=collate)))
    lengths = [len(fixed[i]) for i in range(3)]
    assert batch["input_ids"].shape == (3, max(lengths))
    assert batch["attention_mask"].sum(1).tolist() == lengths
    assert batch["input_ids"][0, lengths[0] :].eq(tokenizer.pad_token_id).all()
    padded = PadCollate(0, pad_to=64)([fixed[0], fixed[1]])
    assert padded["input_ids"].shape == (2, 64)
    with pytest.raises(ValueError, match="pad_to=4"):
        PadCollate(0, pad_to=4)([fixed[1]])


def test_token_dataset_names_bad_graph(tmp_path):
    tokenizer = GraphTokenizer(max_nodes=4)
    with pytest.raises(ValueError, match="graph 1.*5 nodes"):
        GraphTokenDataset([nx.path_graph(3), nx.path_graph(5)], tokenizer)
    save_graph_jsonl([nx.path_graph(6)], tmp_path / "big.jsonl")
    with pytest.raises(ValueError, match=r"big.jsonl\[0\]"):
        GraphTokenDataset.from_path(tmp_path / "big.jsonl", tokenizer)


def test_shared_benchmark_files_load(shared_data):
    graphs = load_graphs(shared_data / "graphs" / "planar_train.jsonl")
    assert len(graphs) == 128
    assert all(g.number_of_nodes() == 64 for g in graphs)
    assert all(nx.check_planarity(g)[0] for g in graphs[:16])
    tokenizer = GraphTokenizer(max_nodes=64, max_edges=3 * 64 - 6)
    dataset = GraphTokenDataset(graphs, tokenizer)
    assert max(len(dataset[i]) for i in range(len(dataset))) <= tokenizer.max_sequence_length
