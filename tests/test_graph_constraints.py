"""Structure constraints of graph sampling: planar and acyclic edges, in the grammar and pipeline."""

import networkx as nx
import pytest
import torch

from omniar.models.ar_model import AutoregressiveModel
from omniar.pipelines.graph import GraphPipeline
from omniar.pipelines.graph_constraints import AcyclicEdges, PlanarEdges, make_edge_constraint
from omniar.tokenizers.graph import GraphTokenizer


def with_edges(constraint, edges, row=0):
    for u, v in edges:
        constraint.add_edge(row, u, v)
    return constraint


def test_planar_edges_refuse_the_edge_that_completes_k5_and_k33():
    k5_minus = [(u, v) for u in range(5) for v in range(u + 1, 5) if (u, v) != (3, 4)]
    planar = with_edges(PlanarEdges(1, 6), k5_minus)
    assert not planar.allows(0, 3, 4) and not planar.allows(0, 4, 3)
    assert planar.allows(0, 4, 5)
    k33_minus = [(u, v) for u in range(3) for v in range(3, 6) if (u, v) != (2, 5)]
    planar = with_edges(PlanarEdges(1, 6), k33_minus)
    assert planar.allowed_targets(0, 2, [0, 1, 5]) == [0, 1]
    assert planar.has_allowed_target(0, 2, [5, 0]) and not planar.has_allowed_target(0, 2, [5])


def test_planar_edges_remember_refusals_and_keep_samples_apart():
    k5_minus = [(u, v) for u in range(5) for v in range(u + 1, 5) if (u, v) != (3, 4)]
    planar = with_edges(PlanarEdges(2, 5), k5_minus, row=0)
    assert not planar.allows(0, 3, 4)
    assert (3, 4) in planar.breaking[0]
    assert planar.allows(1, 3, 4)
    assert planar.graphs[0].num_edges() == len(k5_minus)


def test_acyclic_edges_allow_only_edges_between_components():
    forest = with_edges(AcyclicEdges(1, 6), [(0, 1), (1, 2), (3, 4)])
    assert not forest.allows(0, 0, 2) and not forest.allows(0, 2, 0)
    assert forest.allows(0, 2, 3) and forest.allows(0, 5, 0)
    forest.add_edge(0, 2, 3)
    assert not forest.allows(0, 0, 4)


def test_unknown_family_is_refused():
    with pytest.raises(ValueError, match="sbm"):
        make_edge_constraint("sbm", 1, 4)


def random_pipeline(family: str) -> GraphPipeline:
    torch.manual_seed(0)
    tokenizer = GraphTokenizer(max_nodes=8, max_edges=18)
    model = AutoregressiveModel(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_layers=2, num_heads=2,
        condition="none", rope_axes=1,
    ).eval()
    penalty = torch.zeros(tokenizer.vocab_size)
    penalty[[tokenizer.sep_token_id, tokenizer.eos_token_id]] = 4.0
    # Late <sep> and <eos>: samples with all 8 nodes and many edges, which leave the family.
    model.head.register_forward_hook(lambda module, inputs, logits: logits - penalty)
    pipe = GraphPipeline(model, tokenizer, family=family)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.mark.parametrize(
    ("family", "in_family"),
    [("planar", lambda g: nx.check_planarity(g)[0]), ("tree", nx.is_forest)],
)
def test_constrained_samples_stay_in_the_family(family, in_family):
    pipe = random_pipeline(family)
    kwargs = {"num_graphs": 24, "batch_size": 8, "temperature": 1.0}
    free = pipe(generator=torch.Generator().manual_seed(0), **kwargs)
    assert not all(in_family(g) for g in free.graphs)  # the random model leaves the family
    out = pipe(generator=torch.Generator().manual_seed(0), structure_constraint=True, **kwargs)
    assert all(in_family(g) for g in out.graphs)
    assert out.stats["structure_constraint"] == family and free.stats["structure_constraint"] is None
    assert not any(out.reports)
    parallel = pipe(generator=torch.Generator().manual_seed(0), structure_constraint=True,
                    decoding="jacobi", decoding_options={"window": 4}, **kwargs)
    assert all(in_family(g) for g in parallel.graphs) and not any(parallel.reports)
    assert out.stats["mean_edges"] > 0


def test_structure_constraint_needs_a_family_and_the_grammar_mask():
    pipe = random_pipeline("planar")
    with pytest.raises(ValueError, match="grammar mask"):
        pipe(num_graphs=1, grammar_mask=False, structure_constraint=True)
    with pytest.raises(ValueError, match="True or False"):
        pipe(num_graphs=1, structure_constraint="planar")
    pipe.register_to_config(family="sbm")
    with pytest.raises(ValueError, match="family is 'sbm'"):
        pipe(num_graphs=1, structure_constraint=True)


def test_structure_constraint_needs_the_g2pt_serialisation():
    pipe = random_pipeline("tree")
    tokenizer = GraphTokenizer(max_nodes=8, serialization="eulerian")
    pipe.register_modules(tokenizer=tokenizer)
    with pytest.raises(ValueError, match="G2PT"):
        pipe(num_graphs=1, structure_constraint=True)
