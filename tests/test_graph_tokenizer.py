"""GraphTokenizer: round trips, BFS order, Eulerian walks, repairs and bad input."""

import itertools
import random

import networkx as nx
import pytest
import torch

from omniar.tokenizers.graph import (
    TOKEN_KIND_EDGE_TYPE,
    TOKEN_KIND_INDEX,
    TOKEN_KIND_NODE_TYPE,
    TOKEN_KIND_SPECIAL,
    GraphTokenizer,
    semi_eulerian_walk,
)

SERIALIZATIONS = ["g2pt", "eulerian"]


def _triangle_with_tail() -> nx.Graph:
    """Triangle 0-1-2, tail 1-3-4, isolated node 5."""
    graph = nx.Graph([(0, 1), (0, 2), (1, 2), (1, 3), (3, 4)])
    graph.add_node(5)
    return graph


def _small_graphs() -> dict[str, nx.Graph]:
    two_parts = nx.disjoint_union(nx.cycle_graph(4), nx.path_graph(3))
    return {
        "empty": nx.Graph(),
        "single": nx.empty_graph(1),
        "edge": nx.path_graph(2),
        "path": nx.path_graph(6),
        "cycle": nx.cycle_graph(7),
        "star": nx.star_graph(5),
        "k4": nx.complete_graph(4),
        "k7": nx.complete_graph(7),
        "triangle_tail": _triangle_with_tail(),
        "two_components": two_parts,
        "petersen": nx.petersen_graph(),
        "tree": nx.random_labeled_tree(12, seed=3),
        "grid": nx.convert_node_labels_to_integers(nx.grid_2d_graph(3, 4)),
    }


@pytest.mark.parametrize("serialization", SERIALIZATIONS)
@pytest.mark.parametrize("name", sorted(_small_graphs()))
def test_round_trip_is_isomorphic(serialization, name):
    graph = _small_graphs()[name]
    tokenizer = GraphTokenizer(max_nodes=16, serialization=serialization)
    for generator in (None, torch.Generator().manual_seed(7)):
        tokens = tokenizer.encode(graph, generator=generator)
        assert len(tokens) <= tokenizer.max_sequence_length
        assert all(0 <= t < tokenizer.vocab_size for t in tokens)
        decoded, problems = tokenizer.decode(tokens, return_report=True)
        assert problems == []
        assert nx.is_isomorphic(decoded, graph)
        assert sorted(decoded.nodes) == list(range(graph.number_of_nodes()))


def test_g2pt_bfs_edge_order_matches_hand_written_sequence():
    tokenizer = GraphTokenizer(max_nodes=8)
    tokens = tokenizer.encode(_triangle_with_tail())
    bos, sep, eos = 1, 2, 3
    node = 5  # the single node-type token
    idx = 6  # index token 0
    expected = [bos] + [node] * 6 + [sep]
    for u, v in [(0, 1), (0, 2), (1, 2), (1, 3), (3, 4)]:
        expected += [idx + u, idx + v]
    expected.append(eos)
    assert tokens == expected
    assert tokenizer.describe(tokens) == ("<bos> N0 N0 N0 N0 N0 N0 <sep> 0 1 0 2 1 2 1 3 3 4 <eos>")


def test_g2pt_restarts_bfs_in_each_component():
    graph = nx.Graph([(2, 3), (0, 4), (3, 5)])
    graph.add_nodes_from(range(6))
    tokenizer = GraphTokenizer(max_nodes=8)
    described = tokenizer.describe(tokenizer.encode(graph))
    assert described.endswith("<sep> 0 4 2 3 3 5 <eos>")


def test_eulerian_walk_matches_hand_written_sequence():
    tokenizer = GraphTokenizer(max_nodes=8, serialization="eulerian")
    described = tokenizer.describe(tokenizer.encode(_triangle_with_tail()))
    # odd vertices 1 and 4: the walk starts at 1 and ends at 4, no edge duplicated
    assert described == "<bos> N0 N0 N0 N0 N0 N0 <sep> 1 0 2 1 3 4 <eos>"


def test_eulerian_components_are_separated_by_jump():
    graph = nx.disjoint_union(nx.cycle_graph(3), nx.path_graph(2))
    tokenizer = GraphTokenizer(max_nodes=8, serialization="eulerian")
    described = tokenizer.describe(tokenizer.encode(graph))
    assert described == "<bos> N0 N0 N0 N0 N0 <sep> 0 1 2 0 <jump> 3 4 <eos>"


def test_semi_eulerian_walk_covers_every_edge_at_most_twice():
    for seed in range(5):
        tree = nx.random_labeled_tree(40, seed=seed)
        adjacency = [sorted(tree[v]) for v in range(40)]
        walk = semi_eulerian_walk(list(range(40)), adjacency)
        steps = [tuple(sorted(pair)) for pair in itertools.pairwise(walk)]
        assert set(steps) == {tuple(sorted(e)) for e in tree.edges}
        assert all(steps.count(e) <= 2 for e in set(steps))
        assert len(steps) <= 2 * tree.number_of_edges()


def test_worst_case_lengths_fit_max_sequence_length():
    for serialization in SERIALIZATIONS:
        tokenizer = GraphTokenizer(max_nodes=10, serialization=serialization)
        for graph in (nx.complete_graph(10), nx.star_graph(9), nx.path_graph(10)):
            assert len(tokenizer.encode(graph)) <= tokenizer.max_sequence_length
        matching = nx.Graph([(2 * i, 2 * i + 1) for i in range(5)])
        assert len(tokenizer.encode(matching)) <= tokenizer.max_sequence_length


def test_vocabulary_layout_and_token_kinds():
    tokenizer = GraphTokenizer(max_nodes=5, num_node_types=2, num_edge_types=3)
    assert (tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.sep_token_id) == (0, 1, 2)
    assert (tokenizer.eos_token_id, tokenizer.jump_token_id) == (3, 4)
    assert [tokenizer.node_type_token(t) for t in range(2)] == [5, 6]
    assert [tokenizer.index_token(i) for i in range(5)] == [7, 8, 9, 10, 11]
    assert [tokenizer.edge_type_token(e) for e in range(3)] == [12, 13, 14]
    assert tokenizer.vocab_size == 15
    kinds = tokenizer.token_kinds.tolist()
    assert (
        kinds
        == [TOKEN_KIND_SPECIAL] * 5
        + [TOKEN_KIND_NODE_TYPE] * 2
        + [TOKEN_KIND_INDEX] * 5
        + [TOKEN_KIND_EDGE_TYPE] * 3
    )
    plain = GraphTokenizer(max_nodes=5)
    assert plain.vocab_size == 5 + 1 + 5
    with pytest.raises(ValueError, match="num_edge_types=1"):
        plain.edge_type_token(0)
    with pytest.raises(ValueError, match="index"):
        plain.index_token(5)


@pytest.mark.parametrize("serialization", SERIALIZATIONS)
def test_typed_graph_round_trip_keeps_types(serialization):
    graph = nx.Graph()
    for node, node_type in enumerate([0, 2, 1, 1, 0]):
        graph.add_node(node, type=node_type)
    for u, v, edge_type in [(0, 1, 0), (1, 2, 1), (2, 3, 0), (3, 4, 1), (4, 0, 1), (1, 3, 0)]:
        graph.add_edge(u, v, type=edge_type)
    tokenizer = GraphTokenizer(
        max_nodes=8, serialization=serialization, num_node_types=3, num_edge_types=2
    )
    for generator in (None, torch.Generator().manual_seed(3)):
        decoded, problems = tokenizer.decode(
            tokenizer.encode(graph, generator=generator), return_report=True
        )
        assert problems == []
        same_type = nx.isomorphism.categorical_node_match("type", None)
        same_edge_type = nx.isomorphism.categorical_edge_match("type", None)
        assert nx.is_isomorphic(decoded, graph, node_match=same_type, edge_match=same_edge_type)


def test_permutation_is_reproducible_and_varies():
    graph = nx.random_labeled_tree(12, seed=0)
    tokenizer = GraphTokenizer(max_nodes=12)
    first = tokenizer.encode(graph, generator=torch.Generator().manual_seed(5))
    again = tokenizer.encode(graph, generator=torch.Generator().manual_seed(5))
    others = {
        tuple(tokenizer.encode(graph, generator=torch.Generator().manual_seed(s))) for s in range(6)
    }
    assert first == again
    assert len(others) > 1
    torch.manual_seed(0)
    assert nx.is_isomorphic(tokenizer.decode(tokenizer.encode(graph, permute=True)), graph)


@pytest.mark.parametrize("serialization", SERIALIZATIONS)
def test_decode_never_crashes_on_garbage(serialization):
    tokenizer = GraphTokenizer(max_nodes=6, serialization=serialization, num_edge_types=2)
    rng = random.Random(0)
    sequences = [
        [],
        [tokenizer.bos_token_id],
        [tokenizer.eos_token_id],
        [tokenizer.pad_token_id] * 5,
        [-3, 10_000, 2**40],
        ["a", None, 1.5, 3.0],
        [tokenizer.bos_token_id] + [tokenizer.node_type_token(0)] * 20,
    ]
    sequences += [
        [rng.randrange(-2, tokenizer.vocab_size + 3) for _ in range(rng.randrange(1, 60))]
        for _ in range(300)
    ]
    for tokens in sequences:
        graph, problems = tokenizer.decode(tokens, return_report=True)
        assert isinstance(graph, nx.Graph)
        assert graph.number_of_nodes() <= tokenizer.max_nodes
        assert nx.number_of_selfloops(graph) == 0
        assert len(problems) <= 21
    assert tokenizer.decode([], return_report=True)[1]
    assert any("not an integer" in p for p in tokenizer.decode(["a"], return_report=True)[1])


def test_decode_reports_specific_repairs():
    tokenizer = GraphTokenizer(max_nodes=6)
    bos, sep, eos, node = 1, 2, 3, tokenizer.node_type_token(0)
    i = tokenizer.index_token
    tokens = [bos, node, node, node, sep, i(0), i(1), i(1), i(1), i(0), i(1), i(2), i(5), eos]
    graph, problems = tokenizer.decode(tokens, return_report=True)
    assert sorted(graph.edges) == [(0, 1)]
    assert any("self loop" in p for p in problems)
    assert any("duplicate" in p for p in problems)
    assert any("refers to a node" in p for p in problems)
    truncated, problems = tokenizer.decode(tokens[:7], return_report=True)
    assert sorted(truncated.edges) == [(0, 1)]
    assert any("without <eos>" in p for p in problems)
    nodes_only, problems = tokenizer.decode([bos, node, node, eos], return_report=True)
    assert nodes_only.number_of_nodes() == 2 and any("before <sep>" in p for p in problems)
    padded = [0, 0] + tokenizer.encode(nx.path_graph(3)) + [0, 0]
    assert tokenizer.decode(padded, return_report=True)[1] == []


def test_decode_accepts_tensors_and_batches():
    tokenizer = GraphTokenizer(max_nodes=6)
    tokens = tokenizer.encode(nx.cycle_graph(5))
    assert nx.is_isomorphic(tokenizer.decode(torch.tensor(tokens)), nx.cycle_graph(5))
    batch = torch.tensor([tokens, tokens])
    assert len(tokenizer.decode_batch(batch)) == 2
    with pytest.raises(ValueError, match="decode_batch"):
        tokenizer.decode(batch)


def test_bad_input_raises_naming_the_graph():
    tokenizer = GraphTokenizer(max_nodes=4, max_edges=4)
    with pytest.raises(ValueError, match="'g7'.*self loops"):
        tokenizer.encode(nx.Graph([(0, 0), (0, 1)]), name="g7")
    multi = nx.MultiGraph([(0, 1), (0, 1)])
    with pytest.raises(ValueError, match="parallel edges"):
        tokenizer.encode(multi, name="m")
    assert nx.is_isomorphic(
        tokenizer.decode(tokenizer.encode(nx.MultiGraph([(0, 1)]))), nx.path_graph(2)
    )
    directed = nx.DiGraph([(0, 1), (1, 0), (1, 2)])
    with pytest.raises(ValueError, match="'d'.*directed"):
        tokenizer.encode(directed, name="d")
    undirected = tokenizer.decode(tokenizer.encode(directed, to_undirected=True))
    assert nx.is_isomorphic(undirected, nx.path_graph(3))
    with pytest.raises(ValueError, match="'big' has 5 nodes.*max_nodes is 4"):
        tokenizer.encode(nx.path_graph(5), name="big")
    with pytest.raises(ValueError, match="6 edges.*max_edges is 4"):
        tokenizer.encode(nx.complete_graph(4))
    with pytest.raises(ValueError, match="networkx graph"):
        tokenizer.encode([(0, 1)])
    typed = GraphTokenizer(max_nodes=4, num_node_types=2)
    with pytest.raises(ValueError, match="node 0.*'type'"):
        typed.encode(nx.path_graph(2), name="untyped")


def test_non_contiguous_and_string_ids_are_relabelled():
    tokenizer = GraphTokenizer(max_nodes=8)
    sparse_ids = nx.Graph([(10, 30), (30, 70)])
    labelled = nx.Graph([("b", "c"), ("a", "b")])
    for graph in (sparse_ids, labelled):
        decoded = tokenizer.decode(tokenizer.encode(graph))
        assert sorted(decoded.nodes) == [0, 1, 2]
        assert nx.is_isomorphic(decoded, graph)


def test_invalid_config_raises():
    with pytest.raises(ValueError, match="serialization"):
        GraphTokenizer(serialization="dfs")
    with pytest.raises(ValueError, match="max_nodes"):
        GraphTokenizer(max_nodes=0)
    with pytest.raises(ValueError, match="max_edges"):
        GraphTokenizer(max_edges=-1)


def test_save_and_load_round_trip(tmp_path):
    tokenizer = GraphTokenizer(
        max_nodes=20, serialization="eulerian", num_node_types=2, num_edge_types=3, max_edges=50
    )
    tokenizer.save_pretrained(tmp_path)
    loaded = GraphTokenizer.from_pretrained(tmp_path)
    for key in ("max_nodes", "serialization", "num_node_types", "num_edge_types", "max_edges"):
        assert loaded.config[key] == tokenizer.config[key]
    assert loaded.vocab_size == tokenizer.vocab_size
    assert torch.equal(loaded.token_kinds, tokenizer.token_kinds)
    graph = nx.cycle_graph(6)
    nx.set_node_attributes(graph, 1, "type")
    nx.set_edge_attributes(graph, 2, "type")
    assert loaded.encode(graph) == tokenizer.encode(graph)
