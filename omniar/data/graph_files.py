"""Graph data: readers and writers for graph files, and a token dataset for training.

Supported files (``load_graphs`` picks the reader from the suffix):

- ``.jsonl``: one graph a line, ``{"num_nodes": N, "edges": [[u, v], ...]}`` with 0-based ids
  (the format of ``../shared/data/graphs``); optional ``"node_types": [...]`` (length N) and
  ``"edge_types": [...]`` (one per edge) become ``"type"`` attributes.
- ``.edgelist``, ``.edges``, ``.txt``: one graph a file, one ``u v`` pair a line; ``#`` starts a
  comment; integer ids are relabelled to ``0..n-1`` in sorted order.
- ``.graphml``, ``.gml``, ``.adjlist``: one graph a file, read with networkx.

A folder is read file by file in sorted name order (files with other suffixes are skipped).
Every reader raises ``ValueError`` naming the file (and line) on malformed content: self loops,
repeated edges, ids outside ``0..N-1``, directed graphs in graphml/gml files.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import networkx as nx
import torch
from torch.utils.data import Dataset

from omniar.tokenizers.graph import TYPE_ATTRIBUTE, GraphTokenizer

JSONL_SUFFIXES = (".jsonl",)
EDGE_LIST_SUFFIXES = (".edgelist", ".edges", ".txt")
NETWORKX_READERS: dict[str, Callable[[str], nx.Graph]] = {
    ".graphml": nx.read_graphml,
    ".gml": nx.read_gml,
    ".adjlist": nx.read_adjlist,
}
GRAPH_SUFFIXES = JSONL_SUFFIXES + EDGE_LIST_SUFFIXES + tuple(NETWORKX_READERS)


def graph_from_record(record: object, where: str) -> nx.Graph:
    """Build a graph from one JSON-lines record; ``where`` names it in error messages."""
    if not isinstance(record, dict):
        raise ValueError(  # noqa: TRY004 - bad input is a ValueError (project convention)
            f"{where}: expected a JSON object, got {type(record).__name__}"
        )
    num_nodes = record.get("num_nodes")
    edges = record.get("edges")
    if isinstance(num_nodes, bool) or not isinstance(num_nodes, int) or num_nodes < 0:
        raise ValueError(f"{where}: 'num_nodes' must be a non-negative integer, got {num_nodes!r}")
    if not isinstance(edges, list):
        raise ValueError(  # noqa: TRY004 - bad input is a ValueError (project convention)
            f"{where}: 'edges' must be a list of [u, v] pairs, got {edges!r}"
        )
    graph = nx.Graph()
    graph.add_nodes_from(range(num_nodes))
    for i, edge in enumerate(edges):
        if (
            not isinstance(edge, list)
            or len(edge) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in edge)
        ):
            raise ValueError(f"{where}: edge {i} must be a pair of integers, got {edge!r}")
        u, v = edge
        if not (0 <= u < num_nodes and 0 <= v < num_nodes):
            raise ValueError(
                f"{where}: edge {i} {edge} has a node id outside 0..{num_nodes - 1} "
                f"(num_nodes={num_nodes})"
            )
        if u == v:
            raise ValueError(f"{where}: edge {i} {edge} is a self loop")
        if graph.has_edge(u, v):
            raise ValueError(f"{where}: edge {i} {edge} repeats an earlier edge")
        graph.add_edge(u, v)
    _attach_types(graph, record, edges, where)
    return graph


def _attach_types(graph: nx.Graph, record: dict, edges: list, where: str) -> None:
    node_types = record.get("node_types")
    if node_types is not None:
        if not isinstance(node_types, list) or len(node_types) != graph.number_of_nodes():
            raise ValueError(f"{where}: 'node_types' must be a list with one entry per node")
        for node, value in enumerate(node_types):
            graph.nodes[node][TYPE_ATTRIBUTE] = value
    edge_types = record.get("edge_types")
    if edge_types is not None:
        if not isinstance(edge_types, list) or len(edge_types) != len(edges):
            raise ValueError(f"{where}: 'edge_types' must be a list with one entry per edge")
        for (u, v), value in zip(edges, edge_types):
            graph.edges[u, v][TYPE_ATTRIBUTE] = value


def graph_to_record(graph: nx.Graph) -> dict:
    """The JSON-lines record of ``graph`` (nodes relabelled ``0..n-1`` in node order)."""
    index = {node: i for i, node in enumerate(graph.nodes)}
    edges = sorted((min(index[u], index[v]), max(index[u], index[v])) for u, v in graph.edges)
    record: dict = {"num_nodes": len(index), "edges": [list(e) for e in edges]}
    node_types = [data.get(TYPE_ATTRIBUTE) for _, data in graph.nodes(data=True)]
    if any(t is not None for t in node_types):
        record["node_types"] = node_types
    nodes = list(index)
    edge_types = [graph.edges[nodes[u], nodes[v]].get(TYPE_ATTRIBUTE) for u, v in edges]
    if any(t is not None for t in edge_types):
        record["edge_types"] = edge_types
    return record


def load_graph_jsonl(path: str | Path) -> list[nx.Graph]:
    """Read a JSON-lines graph file (one ``{"num_nodes", "edges"}`` object a line)."""
    path = Path(path)
    graphs = []
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{line_number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{where}: not valid JSON ({error.msg})") from None
            graphs.append(graph_from_record(record, where))
    return graphs


def save_graph_jsonl(graphs: Sequence[nx.Graph], path: str | Path) -> None:
    """Write graphs in the JSON-lines format that ``load_graph_jsonl`` reads."""
    with Path(path).open("w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(graph_to_record(graph)) + "\n" for graph in graphs)


def load_edge_list(path: str | Path) -> nx.Graph:
    """Read one graph from a whitespace-separated ``u v`` edge list (``#`` comments)."""
    path = Path(path)
    pairs = []
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            where = f"{path}:{line_number}"
            if len(fields) < 2:
                raise ValueError(f"{where}: expected 'u v', got {line.strip()!r}")
            try:
                u, v = int(fields[0]), int(fields[1])
            except ValueError:
                raise ValueError(
                    f"{where}: node ids must be integers, got {line.strip()!r}"
                ) from None
            if u == v:
                raise ValueError(f"{where}: edge ({u}, {v}) is a self loop")
            pairs.append((u, v, where))
    nodes = sorted({u for u, _, _ in pairs} | {v for _, v, _ in pairs})
    index = {node: i for i, node in enumerate(nodes)}
    graph = nx.Graph()
    graph.add_nodes_from(range(len(nodes)))
    for u, v, where in pairs:
        if graph.has_edge(index[u], index[v]):
            raise ValueError(f"{where}: edge ({u}, {v}) repeats an earlier edge")
        graph.add_edge(index[u], index[v])
    return graph


def _load_with_networkx(path: Path) -> nx.Graph:
    try:
        graph = NETWORKX_READERS[path.suffix.lower()](str(path))
    except Exception as error:  # noqa: BLE001 - networkx raises many types on malformed files
        raise ValueError(f"{path}: could not be read as {path.suffix} ({error})") from None
    if graph.is_directed():
        raise ValueError(f"{path}: the graph is directed; undirected graphs are expected")
    if graph.is_multigraph():
        if any(k != 0 for _, _, k in graph.edges(keys=True)):
            raise ValueError(f"{path}: the graph has repeated edges (multi-edges)")
        graph = nx.Graph(graph)
    if nx.number_of_selfloops(graph):
        raise ValueError(f"{path}: the graph has self loops")
    return nx.convert_node_labels_to_integers(graph, ordering="default")


def load_graph_file(path: str | Path) -> list[nx.Graph]:
    """Read every graph in one file (the reader is chosen by the file's suffix)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise ValueError(f"graph file {path} does not exist")
    if suffix in JSONL_SUFFIXES:
        return load_graph_jsonl(path)
    if suffix in EDGE_LIST_SUFFIXES:
        return [load_edge_list(path)]
    if suffix in NETWORKX_READERS:
        return [_load_with_networkx(path)]
    raise ValueError(
        f"graph file {path}: unknown suffix {suffix!r}; expected one of {GRAPH_SUFFIXES}"
    )


def load_graphs(path: str | Path) -> list[nx.Graph]:
    """Read graphs from a file or from every graph file in a folder (sorted by name)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in GRAPH_SUFFIXES)
        if not files:
            raise ValueError(f"graph folder {path} holds no files ending in {GRAPH_SUFFIXES}")
        return [graph for file in files for graph in load_graph_file(file)]
    if not path.exists():
        raise ValueError(f"graph path {path} does not exist")
    return load_graph_file(path)


class GraphTokenDataset(Dataset):
    """Token sequences of graphs for next-token training.

    Each item is a 1-D ``LongTensor`` from ``tokenizer.encode``. With ``permute=True`` the
    nodes are relabelled by a fresh random permutation on every access (torch's global RNG,
    which DataLoader seeds per worker), so each epoch sees a different node order and BFS
    start. Every graph is encoded once at construction so that bad graphs fail early, with the
    graph named as ``names[i]`` (or ``"graph i"``).
    """

    def __init__(
        self,
        graphs: Sequence[nx.Graph],
        tokenizer: GraphTokenizer,
        permute: bool = True,
        names: Sequence[str] | None = None,
    ) -> None:
        if names is not None and len(names) != len(graphs):
            raise ValueError(f"names has {len(names)} entries for {len(graphs)} graphs")
        self.graphs = list(graphs)
        self.tokenizer = tokenizer
        self.permute = permute
        self.names = (
            list(names) if names is not None else [f"graph {i}" for i in range(len(graphs))]
        )
        self._fixed = [tokenizer.encode(g, name=n) for g, n in zip(self.graphs, self.names)]

    @classmethod
    def from_path(
        cls, path: str | Path, tokenizer: GraphTokenizer, permute: bool = True
    ) -> GraphTokenDataset:
        """Dataset over the graphs of a file or folder (see ``load_graphs``)."""
        graphs = load_graphs(path)
        return cls(
            graphs, tokenizer, permute=permute, names=[f"{path}[{i}]" for i in range(len(graphs))]
        )

    def __len__(self) -> int:
        return len(self.graphs)

    def __getitem__(self, index: int) -> torch.Tensor:
        if self.permute:
            tokens = self.tokenizer.encode(self.graphs[index], permute=True, name=self.names[index])
        else:
            tokens = self._fixed[index]
        return torch.tensor(tokens, dtype=torch.long)


class PadCollate:
    """Collate 1-D token tensors into ``{"input_ids", "attention_mask"}`` padded on the right.

    Args:
        pad_token_id: id written into padded positions (``tokenizer.pad_token_id``).
        pad_to: pad every batch to this length instead of the longest sequence in the batch
            (fixed shapes for compiled models); longer sequences raise ``ValueError``.
    """

    def __init__(self, pad_token_id: int, pad_to: int | None = None) -> None:
        self.pad_token_id = pad_token_id
        self.pad_to = pad_to

    def __call__(self, batch: Sequence[torch.Tensor]) -> dict[str, torch.Tensor]:
        if not batch:
            raise ValueError("cannot collate an empty batch")
        longest = max(len(seq) for seq in batch)
        length = longest if self.pad_to is None else self.pad_to
        if longest > length:
            raise ValueError(f"a sequence of length {longest} exceeds pad_to={self.pad_to}")
        input_ids = torch.full((len(batch), length), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(batch), length), dtype=torch.bool)
        for row, seq in enumerate(batch):
            input_ids[row, : len(seq)] = seq
            attention_mask[row, : len(seq)] = True
        return {"input_ids": input_ids, "attention_mask": attention_mask}
