"""Task `graph_ar`: train an unconditional autoregressive graph model and ship a `GraphPipeline`.

Recipe keys (besides `task` and `trainer`):

- `data: {train: graphs/planar_train.jsonl, val: graphs/planar_val.jsonl}`: graph files (any
  format `omniar.data.graph_files.load_graphs` reads), relative to the data root; or
  `data: {benchmark: community}`: the train and val splits of a benchmark family
  (`omniar.data.graph_benchmarks`, which also cuts community-small's single file).
- `tokenizer:` `GraphTokenizer` arguments (`max_nodes`, `serialization`, `max_edges`, ...).
- `relabel:` node relabelling drawn afresh every time a graph is read (augmentation):
  `"bfs"` (default) numbers the nodes in the discovery order of a breadth-first search from a
  random root with neighbours visited in random order, as GraphRNN does, so the node indices
  of the BFS-ordered edge list count up as new nodes appear; `"random"` draws a uniform
  permutation (`GraphTokenDataset`); `"none"` keeps the file's numbering.
- `model:` `AutoregressiveModel` arguments (`vocab_size`, `condition="none"` and `rope_axes=1`
  are set by the task).
- `init_from:` a saved transformer folder (e.g. `assets/graphs-planar/transformer`) whose
  weights the model starts from, to train a shipped model further on a new schedule; its
  config must match `model:` (`omniar.training.init_weights`).
- `family:` the benchmark family (`planar`, `tree`, `sbm`, `community`) for validity during
  evaluation (community-small has no validity test).
- `eval: {num_graphs: 32}`: graphs sampled at each `trainer.eval_every` to report validity,
  uniqueness, novelty and V.U.N. against the training set, and degree and clustering MMD
  against `data.val` when given.
- `sampling_presets:` the presets written into the pipeline config (the one measured best on
  the validation split as "default").
- `weights_dtype:` storage precision of the shipped transformer (e.g. `float16`, half the
  bytes; it loads as float32), see `omniar.training.storage`.

`finalize` writes the whole pipeline (`save_pretrained`) to `<output_dir>/pipeline`, or to
`--pipeline-dir` when given (`omniar.training.outputs`), e.g. `assets/graphs-planar`.

Sequences are padded with `<pad>` after `<eos>` to the longest in the batch; padded targets
are not scored (`autoregressive_loss(..., pad_token_id=...)`). Raster orders of different
lengths share positions 0..L-1, so training on the batch's length is the same as training on
the full `max_sequence_length` layout the pipeline decodes with.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

import networkx as nx
import torch
from torch.utils.data import Dataset

from omniar.data.graph_benchmarks import (
    BENCHMARK_FAMILIES,
    benchmark_source,
    load_benchmark_split,
)
from omniar.data.graph_files import GraphTokenDataset, PadCollate, load_graphs
from omniar.eval.graph_metrics import VALIDITY, graph_mmd, uniqueness_novelty
from omniar.models.ar_model import AutoregressiveModel
from omniar.orders.raster import RasterOrder
from omniar.pipelines.graph import GraphPipeline
from omniar.tokenizers.graph import GraphTokenizer
from omniar.training.ar_loss import autoregressive_loss
from omniar.training.config import TrainerConfig
from omniar.training.init_weights import load_initial_weights
from omniar.training.outputs import pipeline_folder
from omniar.training.recipe_schema import TaskRecipe
from omniar.training.setup import TrainingSetup
from omniar.training.storage import cast_saved_weights, storage_dtype

RELABELLINGS = ("bfs", "random", "none")
RECIPE = TaskRecipe(
    {
        "data": {"train": str, "val": str, "benchmark": str},
        "tokenizer": (dict, None),
        "relabel": str,
        "model": (dict, None),
        "init_from": (str, None),
        "family": (str, None),
        "eval": ({"num_graphs": int}, None),
        "sampling_presets": (dict, None),
        "weights_dtype": (str, None),
    },
    required=("data",),
    writes_pipeline=True,
)


def random_bfs_relabel(graph: nx.Graph, generator: torch.Generator | None = None) -> nx.Graph:
    """A copy of `graph` with nodes numbered 0..n-1 in the order a randomised BFS finds them.

    The root of each component is the first unvisited node in a random priority order, and
    each node's neighbours are visited in that random order too. Attributes are kept.
    """
    nodes = list(graph.nodes)
    priority = dict(zip(nodes, torch.randperm(len(nodes), generator=generator).tolist()))
    order: list = []
    seen: set = set()
    for root in sorted(nodes, key=priority.__getitem__):
        if root in seen:
            continue
        seen.add(root)
        queue = deque([root])
        while queue:
            node = queue.popleft()
            order.append(node)
            for neighbour in sorted(graph.neighbors(node), key=priority.__getitem__):
                if neighbour not in seen:
                    seen.add(neighbour)
                    queue.append(neighbour)
    return nx.relabel_nodes(graph, {node: i for i, node in enumerate(order)}, copy=True)


class BFSRelabelledGraphs(Dataset):
    """Token sequences of graphs relabelled by `random_bfs_relabel` on every access."""

    def __init__(self, graphs: list[nx.Graph], tokenizer: GraphTokenizer, names: list[str]):
        # Encoding every graph once up front makes bad graphs fail at start, named.
        GraphTokenDataset(graphs, tokenizer, permute=False, names=names)
        self.graphs, self.tokenizer, self.names = graphs, tokenizer, names

    def __len__(self) -> int:
        return len(self.graphs)

    def __getitem__(self, index: int) -> torch.Tensor:
        graph = random_bfs_relabel(self.graphs[index])
        return torch.tensor(self.tokenizer.encode(graph, name=self.names[index]), dtype=torch.long)


def _data_path(value: str, data_root: str | None, key: str) -> Path:
    path = Path(value)
    if not path.is_absolute() and data_root is not None and not path.exists():
        path = Path(data_root) / path
    if not path.exists():
        raise ValueError(f"recipe data.{key}: {path} does not exist")
    return path


def build_dataset(
    graphs: list[nx.Graph], tokenizer: GraphTokenizer, relabel: str, source: str
) -> Dataset:
    """The training set for `relabel` in `RELABELLINGS`."""
    names = [f"{source}[{i}]" for i in range(len(graphs))]
    if relabel == "bfs":
        return BFSRelabelledGraphs(graphs, tokenizer, names)
    if relabel in ("random", "none"):
        return GraphTokenDataset(graphs, tokenizer, permute=relabel == "random", names=names)
    raise ValueError(f"recipe relabel must be one of {RELABELLINGS}, got {relabel!r}")


class GraphLoss:
    """Next-token loss on a padded batch; raster orders are cached per batch length."""

    def __init__(self, pad_token_id: int):
        self.pad_token_id = pad_token_id
        self.orders: dict[int, RasterOrder] = {}

    def __call__(self, model, batch: dict[str, torch.Tensor], step: int):
        tokens = batch["input_ids"]
        length = tokens.shape[1]
        if length not in self.orders:
            self.orders[length] = RasterOrder(length)
        return autoregressive_loss(
            model, self.orders[length], tokens, {}, pad_token_id=self.pad_token_id
        )


def build_pipeline(
    model: AutoregressiveModel, tokenizer: GraphTokenizer, recipe: dict[str, Any]
) -> GraphPipeline:
    """The pipeline a trained model ships as, with the recipe's presets and family."""
    pipe = GraphPipeline(
        model, tokenizer, sampling_presets=recipe.get("sampling_presets"),
        family=recipe.get("family"),
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _recipe_graphs(
    data: dict[str, Any], data_root: str | None, split: str
) -> tuple[list[nx.Graph], str] | None:
    """The graphs of `split` named by the recipe's `data:` and where they came from."""
    if "benchmark" in data:
        if data_root is None:
            raise ValueError("recipe data.benchmark needs a data root (--data-root)")
        source = benchmark_source(data_root, data["benchmark"], split)
        return load_benchmark_split(data_root, data["benchmark"], split), source
    if split not in data:
        return None
    path = _data_path(data[split], data_root, split)
    return load_graphs(path), str(path)


def build(
    recipe: dict[str, Any], data_root: str | None, pipeline_dir: str | None = None
) -> TrainingSetup:
    data = recipe.get("data") or {}
    if "train" not in data and "benchmark" not in data:
        raise ValueError(
            "recipe data needs train (a graph file, e.g. graphs/planar_train.jsonl) or "
            f"benchmark (one of {BENCHMARK_FAMILIES}; its train and val splits are used)"
        )
    train_graphs, train_source = _recipe_graphs(data, data_root, "train")
    tokenizer = GraphTokenizer(**(recipe.get("tokenizer") or {}))
    dataset = build_dataset(train_graphs, tokenizer, recipe.get("relabel", "bfs"), train_source)
    model_args = {**(recipe.get("model") or {}), "vocab_size": tokenizer.vocab_size,
                  "condition": "none", "rope_axes": 1}
    model = load_initial_weights(AutoregressiveModel(**model_args), recipe.get("init_from"))
    family = recipe.get("family")
    if family is not None and family not in BENCHMARK_FAMILIES:
        raise ValueError(f"recipe family must be one of {BENCHMARK_FAMILIES}, got {family!r}")
    val_graphs = (_recipe_graphs(data, data_root, "val") or ([], ""))[0]
    num_eval = int((recipe.get("eval") or {}).get("num_graphs", 32))
    storage_dtype(recipe.get("weights_dtype"))  # a bad name fails now, not after the training

    def eval_fn(trained: AutoregressiveModel) -> dict[str, float]:
        pipe = build_pipeline(trained, tokenizer, recipe)
        generator = torch.Generator(trained.device).manual_seed(0)
        out = pipe(num_graphs=num_eval, generator=generator, batch_size=num_eval)
        scores = uniqueness_novelty(out.graphs, train_graphs, VALIDITY.get(family))
        metrics = {key: value for key, value in scores.items() if value is not None}
        metrics["mean_edges"] = out.stats["mean_edges"]
        for name in ("degree", "clustering") if val_graphs else ():
            metrics[f"{name}_mmd_val"] = graph_mmd(name, out.graphs, val_graphs)
        return metrics

    def finalize(trained: AutoregressiveModel, output_dir: str) -> None:
        target = pipeline_folder(output_dir, pipeline_dir)
        build_pipeline(trained, tokenizer, recipe).save_pretrained(target)
        cast_saved_weights(target / "transformer", recipe.get("weights_dtype"))

    config = TrainerConfig.from_dict(recipe["trainer"])
    return TrainingSetup(
        model, dataset, GraphLoss(tokenizer.pad_token_id), config,
        collate_fn=PadCollate(tokenizer.pad_token_id), eval_fn=eval_fn, finalize=finalize,
    )
