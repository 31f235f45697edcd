"""GraphPipeline, its grammar mask, the graph training task, drawing and the graph CLI."""

import json
from pathlib import Path

import networkx as nx
import pytest
import torch
from safetensors.torch import load_file

from omniar.cli import main as cli_main
from omniar.data.graph_files import load_graph_jsonl, save_graph_jsonl
from omniar.eval.graph_draw import draw_graphs
from omniar.models.ar_model import AutoregressiveModel
from omniar.pipelines.graph import GraphGrammar, GraphPipeline, GraphPipelineOutput
from omniar.tokenizers.graph import GraphTokenizer
from omniar.training.tasks.graph_ar import build as build_task
from omniar.training.tasks.graph_ar import random_bfs_relabel

REPO = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def tiny_pipeline(seed: int = 0, **tokenizer_args) -> GraphPipeline:
    torch.manual_seed(seed)
    tokenizer = GraphTokenizer(**{"max_nodes": 8, "max_edges": 12, **tokenizer_args})
    model = AutoregressiveModel(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_layers=2, num_heads=2,
        condition="none", rope_axes=1,
    ).eval()
    pipe = GraphPipeline(
        model, tokenizer, family="planar",
        sampling_presets={"default": {"temperature": 1.0}, "greedy": {"temperature": 0.0}},
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="module")
def pipe() -> GraphPipeline:
    return tiny_pipeline()


def records(graphs):
    return [(g.number_of_nodes(), sorted(map(tuple, map(sorted, g.edges)))) for g in graphs]


def test_call_returns_graphs_stats_and_reports(pipe):
    out = pipe(num_graphs=5, batch_size=2, generator=torch.Generator().manual_seed(1))
    assert isinstance(out, GraphPipelineOutput)
    assert len(out.graphs) == 5 and all(isinstance(g, nx.Graph) for g in out.graphs)
    assert len(out.reports) == 5 and all(report == [] for report in out.reports)
    assert out.stats["samples"] == 5 and out.stats["num_repaired"] == 0
    assert out.stats["sampling"] == {"temperature": 1.0, "top_k": 0, "top_p": 1.0}
    for graph in out.graphs:
        assert 1 <= graph.number_of_nodes() <= 8 and graph.number_of_edges() <= 12
        assert nx.number_of_selfloops(graph) == 0


def test_output_types(pipe):
    gen = torch.Generator().manual_seed(2)
    tokens = pipe(num_graphs=3, generator=gen, output_type="tokens").graphs
    assert tokens.shape == (3, pipe.tokenizer.max_sequence_length) and tokens.dtype == torch.long
    assert (tokens[:, 0] == pipe.tokenizer.bos_token_id).all()
    recs = pipe(num_graphs=3, generator=torch.Generator().manual_seed(2), output_type="records").graphs
    assert [r["num_nodes"] for r in recs] == [len(pipe.tokenizer.decode(row)) for row in tokens]


def test_same_seed_same_graphs_and_greedy_preset(pipe):
    first = pipe(num_graphs=4, generator=torch.Generator().manual_seed(7)).graphs
    again = pipe(num_graphs=4, generator=torch.Generator().manual_seed(7)).graphs
    assert records(first) == records(again)
    greedy = pipe(num_graphs=3, preset="greedy", generator=torch.Generator().manual_seed(3))
    assert len(set(map(str, records(greedy.graphs)))) == 1
    assert greedy.stats["sampling"]["temperature"] == 0.0


def test_save_load_round_trip_gives_identical_samples(pipe, tmp_path):
    pipe.save_pretrained(tmp_path / "pipe")
    loaded = GraphPipeline.from_pretrained(tmp_path / "pipe")
    loaded.set_progress_bar_config(disable=True)
    assert loaded.config.family == "planar"
    assert loaded.config.sampling_presets["greedy"] == {"temperature": 0.0}
    assert not loaded.transformer.training
    a = pipe(num_graphs=4, generator=torch.Generator().manual_seed(5)).graphs
    b = loaded(num_graphs=4, generator=torch.Generator().manual_seed(5)).graphs
    assert records(a) == records(b)


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"num_graphs": 0}, "num_graphs"),
        ({"batch_size": 0}, "batch_size"),
        ({"output_type": "pil"}, "output_type"),
        ({"temperature": -1.0}, "temperature"),
        ({"top_k": -2}, "top_k"),
        ({"top_p": 0.0}, "top_p"),
        ({"decoding": "telepathy"}, "decoding"),
        ({"preset": "nope"}, "preset"),
        ({"grammar_mask": "yes"}, "grammar_mask"),
    ],
)
def test_bad_arguments_name_themselves(pipe, kwargs, name):
    with pytest.raises(ValueError, match=name):
        pipe(**kwargs)


def test_bad_components_are_rejected():
    tokenizer = GraphTokenizer(max_nodes=4)
    wrong_vocab = AutoregressiveModel(vocab_size=5, hidden_size=16, num_layers=1, num_heads=2,
                                      condition="none")
    with pytest.raises(ValueError, match="vocab_size"):
        GraphPipeline(wrong_vocab, tokenizer)
    conditional = AutoregressiveModel(vocab_size=tokenizer.vocab_size, hidden_size=16,
                                      num_layers=1, num_heads=2, condition="class")
    with pytest.raises(ValueError, match="condition"):
        GraphPipeline(conditional, tokenizer)
    model = AutoregressiveModel(vocab_size=tokenizer.vocab_size, hidden_size=16, num_layers=1,
                                num_heads=2, condition="none")
    with pytest.raises(ValueError, match="family"):
        GraphPipeline(model, tokenizer, family="molecules")


@pytest.mark.parametrize(
    "serialization,edge_types", [("g2pt", 1), ("g2pt", 3), ("eulerian", 1), ("eulerian", 2)]
)
def test_grammar_only_allows_well_formed_sequences(serialization, edge_types):
    """Uniform sampling among the allowed tokens always decodes without problems."""
    tokenizer = GraphTokenizer(max_nodes=6, serialization=serialization,
                               num_edge_types=edge_types, max_edges=9)
    batch, generator = 64, torch.Generator().manual_seed(0)
    grammar = GraphGrammar(tokenizer, batch, torch.device("cpu"))
    rows = []
    for _ in range(tokenizer.max_sequence_length):
        allowed = grammar.allowed()
        assert allowed.any(1).all()
        token = torch.multinomial(allowed.float(), 1, generator=generator)[:, 0]
        rows.append(token)
        grammar.advance(token)
    sequences = torch.stack(rows, 1)
    finished = (sequences == tokenizer.eos_token_id).any(1)
    assert finished.float().mean() > 0.5
    for row, done in zip(sequences, finished):
        graph, problems = tokenizer.decode(row, return_report=True)
        if serialization == "g2pt":
            assert done  # the edge budget forces <eos> within max_sequence_length
        if done:
            assert [p for p in problems if "repeated with another type" not in p] == []
        if serialization == "g2pt":
            assert graph.number_of_edges() <= 9


def test_jacobi_decoding_keeps_the_mask(pipe):
    out = pipe(num_graphs=3, decoding="jacobi", generator=torch.Generator().manual_seed(0))
    assert len(out.graphs) == 3 and out.stats["grammar_mask"] is True
    assert out.stats["decoding"] == "jacobi" and not any(out.reports)


def test_greedy_jacobi_with_the_mask_equals_greedy_sequential(pipe):
    kwargs = {"num_graphs": 3, "temperature": 0.0, "output_type": "tokens"}
    sequential = pipe(**kwargs)
    parallel = pipe(decoding="jacobi", decoding_options={"window": 5}, **kwargs)
    assert torch.equal(sequential.graphs, parallel.graphs)


def test_unmasked_sampling_reports_instead_of_failing(pipe):
    out = pipe(num_graphs=3, grammar_mask=False, generator=torch.Generator().manual_seed(0))
    assert len(out.graphs) == 3 and out.stats["grammar_mask"] is False
    assert out.stats["num_repaired"] == sum(1 for report in out.reports if report)


def test_random_bfs_relabel_numbers_nodes_in_discovery_order():
    tree = nx.random_labeled_tree(20, seed=1)
    relabelled = random_bfs_relabel(tree, torch.Generator().manual_seed(0))
    assert nx.is_isomorphic(tree, relabelled)
    tokenizer = GraphTokenizer(max_nodes=20)
    ids = tokenizer.encode(relabelled)
    edges = ids[ids.index(tokenizer.sep_token_id) + 1 : -1]
    targets = [t - tokenizer.index_offset for t in edges[1::2]]
    assert targets == list(range(1, 20))  # in a tree every BFS edge discovers the next node


def write_tree_splits(root: Path) -> None:
    graphs = [nx.random_labeled_tree(8, seed=i) for i in range(6)]
    (root / "graphs").mkdir(parents=True)
    for split, part in (("train", graphs[:4]), ("val", graphs[4:5]), ("test", graphs[5:])):
        save_graph_jsonl(part, root / "graphs" / f"tree_{split}.jsonl")


def test_training_task_builds_trains_and_finalizes(tmp_path):
    write_tree_splits(tmp_path)
    recipe = {
        "task": "graph_ar", "family": "tree",
        "data": {"train": "graphs/tree_train.jsonl"},
        "tokenizer": {"max_nodes": 8, "max_edges": 7},
        "model": {"hidden_size": 16, "num_layers": 1, "num_heads": 2},
        "eval": {"num_graphs": 3},
        "sampling_presets": {"default": {"temperature": 0.9}},
        "weights_dtype": "float16",
        "trainer": {"output_dir": str(tmp_path / "run"), "max_steps": 2, "batch_size": 2},
    }
    setup = build_task(recipe, str(tmp_path), pipeline_dir=str(tmp_path / "pipe"))
    batch = setup.collate_fn([setup.train_dataset[0], setup.train_dataset[1]])
    assert batch["input_ids"].shape == (2, 3 + 8 + 2 * 7)
    loss, logs = setup.loss_fn(setup.model, batch, 0)
    assert torch.isfinite(loss) and 0.0 <= logs["accuracy"] <= 1.0
    metrics = setup.eval_fn(setup.model.eval())
    assert 0.0 <= metrics["validity"] <= 1.0 and "vun" in metrics
    setup.finalize(setup.model, str(tmp_path / "run"))
    saved = json.loads((tmp_path / "pipe" / "model_index.json").read_text())
    assert saved["family"] == "tree" and saved["sampling_presets"]["default"]["temperature"] == 0.9
    stored = load_file(tmp_path / "pipe" / "transformer" / "diffusion_pytorch_model.safetensors")
    assert {value.dtype for value in stored.values()} == {torch.float16}
    with pytest.raises(ValueError, match="weights_dtype"):
        build_task({**recipe, "weights_dtype": "float8"}, str(tmp_path))

    continued = build_task({**recipe, "init_from": str(tmp_path / "pipe" / "transformer")}, str(tmp_path))
    for name, value in continued.model.state_dict().items():
        torch.testing.assert_close(value, setup.model.state_dict()[name].half().float())
    wider = {**recipe, "model": {**recipe["model"], "hidden_size": 32}}
    with pytest.raises(ValueError, match="hidden_size: recipe 32, saved 16"):
        build_task({**wider, "init_from": str(tmp_path / "pipe" / "transformer")}, str(tmp_path))
    with pytest.raises(ValueError, match="no config.json"):
        build_task({**recipe, "init_from": str(tmp_path / "missing")}, str(tmp_path))
    with pytest.raises(ValueError, match="relabel"):
        build_task({**recipe, "relabel": "shuffle"}, str(tmp_path))
    with pytest.raises(ValueError, match="data.train"):
        build_task({**recipe, "data": {"train": "missing.jsonl"}}, str(tmp_path))


def test_draw_graphs_writes_png(tmp_path):
    path = draw_graphs([nx.cycle_graph(5), nx.path_graph(4), nx.empty_graph(0)], tmp_path / "g.png")
    assert path.read_bytes()[:8] == PNG_MAGIC
    with pytest.raises(ValueError, match="png"):
        draw_graphs([nx.cycle_graph(3)], tmp_path / "g.jpg")
    with pytest.raises(ValueError, match="titles"):
        draw_graphs([nx.cycle_graph(3)], tmp_path / "h.png", titles=["a", "b"])


def test_cli_generate_writes_jsonl_and_png(pipe, tmp_path, capsys):
    pipe.save_pretrained(tmp_path / "pipe")
    out, png = tmp_path / "graphs.jsonl", tmp_path / "graphs.png"
    code = cli_main(["generate", "graph", str(tmp_path / "pipe"), "--num", "3", "--seed", "4",
                     "--out", str(out), "--png", str(png), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 0, err
    graphs = load_graph_jsonl(out)
    expected = pipe(num_graphs=3, generator=torch.Generator().manual_seed(4)).graphs
    assert records(graphs) == records(expected)
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert "generated 3 graphs" in err


def test_cli_eval_writes_json_and_table(pipe, tmp_path, capsys):
    write_tree_splits(tmp_path / "data")
    pipe.save_pretrained(tmp_path / "pipe")
    args = ["eval", "graph", str(tmp_path / "pipe"), "--data-root", str(tmp_path / "data"),
            "--family", "tree", "--num", "4", "--out-json", str(tmp_path / "r.json"),
            "--out-md", str(tmp_path / "r.md"), "--device", "cpu"]
    assert cli_main(args) == 0
    results = json.loads((tmp_path / "r.json").read_text())
    overall = results["groups"]["all"]
    assert results["settings"]["family"] == "tree" and overall["num_generated"] == results["n"] == 4
    assert 0.0 <= overall["vun"] <= 1.0 and results["settings"]["split"] == "test"
    table = (tmp_path / "r.md").read_text()
    assert "DiGress" in table and "V.U.N." in table and "omniar (pipe)" in table
    assert cli_main([*args[:3], "--data-root", str(tmp_path / "nowhere"), "--family", "tree"]) == 2
    assert "tree_test.jsonl" in capsys.readouterr().err


def test_cli_eval_records_the_structure_constraint(pipe, tmp_path):
    write_tree_splits(tmp_path / "data")
    pipe.save_pretrained(tmp_path / "pipe")
    args = ["eval", "graph", str(tmp_path / "pipe"), "--data-root", str(tmp_path / "data"),
            "--family", "tree", "--num", "3", "--out-json", str(tmp_path / "r.json"),
            "--out-md", str(tmp_path / "r.md"), "--device", "cpu", "--structure-constraint"]
    assert cli_main(args) == 0
    settings = json.loads((tmp_path / "r.json").read_text())["settings"]
    assert settings["structure_constraint"] == "planar"
    assert "planar structure constraint" in (tmp_path / "r.md").read_text()


def embedded_pipeline(name: str) -> GraphPipeline:
    """A shipped graph pipeline loaded by name, as the CLI does; skips when it is not checked out."""
    from omniar.commands.generate_graph import load_pipeline

    if not (REPO / "assets" / name / "model_index.json").is_file():
        pytest.skip(f"assets/{name} is not in this checkout")
    pipe = load_pipeline(name, "cpu")
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_embedded_tree_model_generates_trees():
    """The shipped graphs-tree pipeline loads by name and samples valid 64-node trees."""
    pipe = embedded_pipeline("graphs-tree")
    out = pipe(num_graphs=4, generator=torch.Generator().manual_seed(0))
    assert out.stats["sampling"]["temperature"] == 0.7
    assert [g.number_of_nodes() for g in out.graphs] == [64] * 4
    assert sum(nx.is_tree(g) for g in out.graphs) >= 3


def test_embedded_community_model_generates_two_communities():
    """graphs-community-small loads by name and samples graphs of its data set's size range."""
    pipe = embedded_pipeline("graphs-community-small")
    out = pipe(num_graphs=8, generator=torch.Generator().manual_seed(0))
    assert out.stats["sampling"]["temperature"] == 0.9 and pipe.config.family == "community"
    assert all(12 <= g.number_of_nodes() <= 20 for g in out.graphs)
    communities = [len(nx.community.louvain_communities(g, seed=0)) for g in out.graphs]
    assert sum(count == 2 for count in communities) >= 6
