"""Graph tokenizer: graphs as token sequences for a decoder-only transformer.

Two serialisations are supported (``serialization=`` in the config):

``"g2pt"`` (default), after G2PT (Chen et al., 2025, "Graph Generative Pre-trained Transformer")::

    <bos> t_0 t_1 ... t_{n-1} <sep> s_1 d_1 [e_1] s_2 d_2 [e_2] ... <eos>

One node-type token per node (its index is implied by its position), then every edge once as
a (source index, target index[, edge type]) group. Edges are listed in breadth-first order:
BFS starts at node 0, visits neighbours in increasing index order, and emits each edge the
first time it is seen from the node being expanded (as G2PT's ``bfs_with_all_edges``). A
disconnected graph restarts the BFS at its smallest unvisited node (G2PT itself only walks
the component of node 0).

``"eulerian"``, after GraphGPT (Zhao et al., 2024, "Generative Pre-trained Graph Eulerian
Transformer")::

    <bos> t_0 ... t_{n-1} <sep> v_0 [e] v_1 [e] v_2 ... <jump> w_0 [e] w_1 ... <eos>

The node section is the same; the edge section is a walk that traverses every edge of each
connected component, written as node-index tokens, with ``<jump>`` between components
(isolated nodes appear only in the node section). A component that is not (semi-)Eulerian is
semi-Eulerised by duplicating edges: the odd-degree vertices other than two far-apart
endpoints are paired by a T-join on a BFS spanning tree, so each tree edge is duplicated at
most once and a walk never exceeds twice the component's edge count (networkx's ``eulerize``
finds the minimum duplication but needs an O(k^3) matching per graph, too slow for per-sample
augmentation). Duplicated edges are not marked: decoding collapses repeated edges, which is
exactly what a walk over a simple graph means.

Vocabulary layout (ids in this order)::

    0 <pad> | 1 <bos> | 2 <sep> | 3 <eos> | 4 <jump>
    5 .. 5+T-1                    node-type tokens (T = num_node_types)
    5+T .. 5+T+N-1                node-index tokens 0..N-1 (N = max_nodes)
    5+T+N .. 5+T+N+E-1            edge-type tokens, only when num_edge_types E > 1

Edge-type tokens are emitted (and present in the vocabulary) only when ``num_edge_types > 1``.
Node and edge types are read from and written to the ``"type"`` attribute.

Input normalisation (documented so that users know what ``encode`` does to their graphs):
node ids need not be ``0..n-1``; any other ids are relabelled to ``0..n-1`` in sorted order
(insertion order when the ids do not sort). Directed graphs raise ``ValueError`` unless
``to_undirected=True``. Self loops, parallel edges (a MultiGraph with a repeated pair), more
than ``max_nodes`` nodes or more than ``max_edges`` edges raise ``ValueError`` naming the graph.

The tokenizer has no weights. It is a diffusers ``ModelMixin`` so that a ``DiffusionPipeline``
can save and load it as a component; its one buffer, ``token_kinds`` (the kind of every token
id, see ``TOKEN_KIND_*``), gives ``save_pretrained`` a weights file to write, which
``from_pretrained`` requires, and lets a sampler mask logits by token kind.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Sequence

import networkx as nx
import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config

SERIALIZATIONS = ("g2pt", "eulerian")
SPECIAL_TOKENS = ("<pad>", "<bos>", "<sep>", "<eos>", "<jump>")
TYPE_ATTRIBUTE = "type"

TOKEN_KIND_SPECIAL = 0
TOKEN_KIND_NODE_TYPE = 1
TOKEN_KIND_INDEX = 2
TOKEN_KIND_EDGE_TYPE = 3

_MAX_REPORTED_PROBLEMS = 20


class _Problems:
    """Collects decode problems, keeping the report short on long garbage sequences."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.dropped = 0

    def add(self, message: str) -> None:
        if len(self.messages) < _MAX_REPORTED_PROBLEMS:
            self.messages.append(message)
        else:
            self.dropped += 1

    def finish(self) -> list[str]:
        if self.dropped:
            self.messages.append(f"... and {self.dropped} more problems")
        return self.messages


class GraphTokenizer(ModelMixin, ConfigMixin):
    """Deterministic graph <-> token-sequence codec (G2PT or Eulerian serialisation).

    Args:
        max_nodes: largest graph (node count) the vocabulary can index.
        serialization: ``"g2pt"`` (node tokens, then BFS-ordered edge pairs) or
            ``"eulerian"`` (node tokens, then a walk over the semi-Eulerised graph).
        num_node_types: number of node types (1 for plain graphs).
        num_edge_types: number of edge types (1 for plain graphs; no edge-type tokens then).
        max_edges: largest edge count accepted; sets ``max_sequence_length``. ``None`` means
            ``max_nodes * (max_nodes - 1) // 2`` (a complete graph). Planar graphs need at
            most ``3 * max_nodes - 6``, trees ``max_nodes - 1``.
    """

    @register_to_config
    def __init__(
        self,
        max_nodes: int = 64,
        serialization: str = "g2pt",
        num_node_types: int = 1,
        num_edge_types: int = 1,
        max_edges: int | None = None,
    ) -> None:
        super().__init__()
        for arg, value in (
            ("max_nodes", max_nodes),
            ("num_node_types", num_node_types),
            ("num_edge_types", num_edge_types),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{arg} must be a positive integer, got {value!r}")
        if serialization not in SERIALIZATIONS:
            raise ValueError(
                f"serialization must be one of {SERIALIZATIONS}, got {serialization!r}"
            )
        complete = max_nodes * (max_nodes - 1) // 2
        if max_edges is None:
            max_edges = complete
        if not isinstance(max_edges, int) or isinstance(max_edges, bool) or max_edges < 0:
            raise ValueError(f"max_edges must be a non-negative integer or None, got {max_edges!r}")
        self.max_nodes = max_nodes
        self.max_edges = min(max_edges, complete)
        self.serialization = serialization
        self.num_node_types = num_node_types
        self.num_edge_types = num_edge_types
        self.node_type_offset = len(SPECIAL_TOKENS)
        self.index_offset = self.node_type_offset + num_node_types
        self.edge_type_offset = self.index_offset + max_nodes
        self.emits_edge_types = num_edge_types > 1
        self._vocab_size = self.edge_type_offset + (num_edge_types if self.emits_edge_types else 0)
        kinds = torch.full((self._vocab_size,), TOKEN_KIND_SPECIAL, dtype=torch.long)
        kinds[self.node_type_offset : self.index_offset] = TOKEN_KIND_NODE_TYPE
        kinds[self.index_offset : self.edge_type_offset] = TOKEN_KIND_INDEX
        kinds[self.edge_type_offset :] = TOKEN_KIND_EDGE_TYPE
        self.register_buffer("token_kinds", kinds, persistent=True)

    # ------------------------------------------------------------------ vocabulary

    @property
    def vocab_size(self) -> int:
        return self._vocab_size

    @property
    def pad_token_id(self) -> int:
        return 0

    @property
    def bos_token_id(self) -> int:
        return 1

    @property
    def sep_token_id(self) -> int:
        return 2

    @property
    def eos_token_id(self) -> int:
        return 3

    @property
    def jump_token_id(self) -> int:
        return 4

    @property
    def max_sequence_length(self) -> int:
        """Longest sequence ``encode`` can return (with <bos>, <sep> and <eos>)."""
        n, m = self.max_nodes, self.max_edges
        if self.serialization == "g2pt":
            return 3 + n + (3 if self.emits_edge_types else 2) * m
        # A walk has at most 2m steps (T-join duplicates each tree edge at most once); each
        # component adds one start token and one <jump>, and there are at most n/2 of them.
        return 3 + n + (4 if self.emits_edge_types else 2) * m + n

    def node_type_token(self, node_type: int) -> int:
        if not 0 <= node_type < self.num_node_types:
            raise ValueError(f"node_type must be in [0, {self.num_node_types}), got {node_type}")
        return self.node_type_offset + node_type

    def index_token(self, index: int) -> int:
        if not 0 <= index < self.max_nodes:
            raise ValueError(f"index must be in [0, {self.max_nodes}), got {index}")
        return self.index_offset + index

    def edge_type_token(self, edge_type: int) -> int:
        if not self.emits_edge_types:
            raise ValueError("this tokenizer has num_edge_types=1 and emits no edge-type tokens")
        if not 0 <= edge_type < self.num_edge_types:
            raise ValueError(f"edge_type must be in [0, {self.num_edge_types}), got {edge_type}")
        return self.edge_type_offset + edge_type

    def token_to_string(self, token: int) -> str:
        """Readable name of a token id (``<bos>``, ``N0`` node type, ``7`` index, ``E1``)."""
        if not isinstance(token, int) or not 0 <= token < self._vocab_size:
            return f"<invalid {token!r}>"
        if token < self.node_type_offset:
            return SPECIAL_TOKENS[token]
        if token < self.index_offset:
            return f"N{token - self.node_type_offset}"
        if token < self.edge_type_offset:
            return str(token - self.index_offset)
        return f"E{token - self.edge_type_offset}"

    def describe(self, tokens: Iterable[int]) -> str:
        """The sequence as space-separated token names, for logs and debugging."""
        return " ".join(self.token_to_string(t) for t in _as_int_list(tokens))

    # ------------------------------------------------------------------ encode

    def encode(
        self,
        graph: nx.Graph,
        *,
        generator: torch.Generator | None = None,
        permute: bool = False,
        to_undirected: bool = False,
        name: str | None = None,
    ) -> list[int]:
        """Serialise ``graph`` to token ids.

        Args:
            graph: an undirected networkx graph (see the module docstring for normalisation).
            generator: relabel the nodes with a random permutation drawn from this generator
                (training augmentation). Implies ``permute=True``.
            permute: relabel the nodes randomly (torch's global RNG when no generator).
            to_undirected: accept a directed graph by dropping edge directions.
            name: how error messages refer to the graph (e.g. ``"planar_train.jsonl:12"``).
        """
        label = repr(name) if name is not None else "(unnamed)"
        num_nodes, edges, node_types = self._normalise(graph, label, to_undirected)
        if generator is not None or permute:
            perm = torch.randperm(num_nodes, generator=generator).tolist()
            permuted_types = [0] * num_nodes
            for old, new in enumerate(perm):
                permuted_types[new] = node_types[old]
            node_types = permuted_types
            edges = [(min(perm[u], perm[v]), max(perm[u], perm[v]), t) for u, v, t in edges]
        tokens = [self.bos_token_id]
        tokens += [self.node_type_offset + t for t in node_types]
        tokens.append(self.sep_token_id)
        if self.serialization == "g2pt":
            tokens += self._g2pt_edge_tokens(num_nodes, edges)
        else:
            tokens += self._eulerian_edge_tokens(num_nodes, edges)
        tokens.append(self.eos_token_id)
        return tokens

    def _normalise(
        self, graph: nx.Graph, label: str, to_undirected: bool
    ) -> tuple[int, list[tuple[int, int, int]], list[int]]:
        """Check ``graph`` and return (n, [(u, v, edge type)] with u < v, node types)."""
        if not isinstance(graph, nx.Graph):
            raise ValueError(  # noqa: TRY004 - bad input is a ValueError (project convention)
                f"graph {label} must be a networkx graph, got {type(graph).__name__}"
            )
        if graph.is_directed():
            if not to_undirected:
                raise ValueError(
                    f"graph {label} is directed; GraphTokenizer encodes undirected graphs "
                    "(pass to_undirected=True to drop edge directions)"
                )
            graph = graph.to_undirected()
        if graph.is_multigraph():
            parallel = [(u, v) for u, v, k in graph.edges(keys=True) if k != 0]
            if parallel:
                raise ValueError(
                    f"graph {label} has {len(parallel)} parallel edges (multi-edges), e.g. "
                    f"{parallel[0]}; GraphTokenizer encodes simple graphs"
                )
        loops = list(nx.selfloop_edges(graph))
        if loops:
            raise ValueError(
                f"graph {label} has {len(loops)} self loops, e.g. {loops[0]}; "
                "GraphTokenizer encodes simple graphs"
            )
        num_nodes = graph.number_of_nodes()
        if num_nodes > self.max_nodes:
            raise ValueError(
                f"graph {label} has {num_nodes} nodes; this tokenizer's max_nodes is "
                f"{self.max_nodes}"
            )
        num_edges = graph.number_of_edges()
        if num_edges > self.max_edges:
            raise ValueError(
                f"graph {label} has {num_edges} edges; this tokenizer's max_edges is "
                f"{self.max_edges}"
            )
        nodes = list(graph.nodes)
        if set(nodes) != set(range(num_nodes)):
            try:
                nodes = sorted(nodes)
            except TypeError:
                pass
        else:
            nodes = list(range(num_nodes))
        index = {node: i for i, node in enumerate(nodes)}
        node_types = [
            self._read_type(graph.nodes[node], self.num_node_types, f"node {node!r}", label)
            for node in nodes
        ]
        edges = []
        for u, v, data in graph.edges(data=True):
            t = self._read_type(data, self.num_edge_types, f"edge {(u, v)!r}", label)
            a, b = index[u], index[v]
            edges.append((min(a, b), max(a, b), t))
        return num_nodes, edges, node_types

    @staticmethod
    def _read_type(attributes: dict, num_types: int, what: str, label: str) -> int:
        if num_types == 1:
            return 0
        value = attributes.get(TYPE_ATTRIBUTE)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < num_types:
            raise ValueError(
                f"graph {label}: {what} needs an integer '{TYPE_ATTRIBUTE}' attribute in "
                f"[0, {num_types}), got {value!r}"
            )
        return value

    @staticmethod
    def _adjacency(num_nodes: int, edges: Sequence[tuple[int, int, int]]) -> list[list[int]]:
        adjacency: list[list[int]] = [[] for _ in range(num_nodes)]
        for u, v, _ in edges:
            adjacency[u].append(v)
            adjacency[v].append(u)
        for neighbours in adjacency:
            neighbours.sort()
        return adjacency

    def _g2pt_edge_tokens(self, num_nodes: int, edges: list[tuple[int, int, int]]) -> list[int]:
        types = {(u, v): t for u, v, t in edges}
        tokens = []
        for u, v in bfs_edge_order(num_nodes, self._adjacency(num_nodes, edges)):
            tokens += [self.index_offset + u, self.index_offset + v]
            if self.emits_edge_types:
                tokens.append(self.edge_type_offset + types[(min(u, v), max(u, v))])
        return tokens

    def _eulerian_edge_tokens(self, num_nodes: int, edges: list[tuple[int, int, int]]) -> list[int]:
        types = {(u, v): t for u, v, t in edges}
        adjacency = self._adjacency(num_nodes, edges)
        view = nx.Graph((u, v) for u, v, _ in edges)
        tokens: list[int] = []
        seen = [False] * num_nodes
        for root in range(num_nodes):
            if seen[root] or not adjacency[root]:
                continue
            component = sorted(nx.node_connected_component(view, root))
            for node in component:
                seen[node] = True
            walk = semi_eulerian_walk(component, adjacency)
            if tokens:
                tokens.append(self.jump_token_id)
            tokens.append(self.index_offset + walk[0])
            for a, b in itertools.pairwise(walk):
                if self.emits_edge_types:
                    tokens.append(self.edge_type_offset + types[(min(a, b), max(a, b))])
                tokens.append(self.index_offset + b)
        return tokens

    # ------------------------------------------------------------------ decode

    def decode(
        self, tokens: Iterable[int] | torch.Tensor, return_report: bool = False
    ) -> nx.Graph | tuple[nx.Graph, list[str]]:
        """Rebuild a graph from token ids, repairing what it can.

        Never raises on bad token values: unknown ids, tokens of the wrong kind, edges to
        nodes that do not exist, self loops, duplicate edges, missing separators or a missing
        ``<eos>`` are skipped and described in the report. Leading ``<pad>`` tokens (left
        padding) and everything after ``<eos>`` are ignored.

        Returns:
            The graph (nodes ``0..n-1``; ``"type"`` attributes when there are several types),
            or ``(graph, problems)`` when ``return_report`` is true; ``problems`` is empty for
            a well-formed sequence.
        """
        problems = _Problems()
        ids = _as_int_list(tokens, problems)
        graph = nx.Graph()
        pos = 0
        while pos < len(ids) and ids[pos] == self.pad_token_id:
            pos += 1
        if pos < len(ids) and ids[pos] == self.bos_token_id:
            pos += 1
        else:
            problems.add("sequence does not start with <bos>")
        pos = self._decode_nodes(ids, pos, graph, problems)
        if pos >= len(ids):
            problems.add("sequence ended before <sep>; graph has nodes only")
        elif ids[pos] == self.eos_token_id:
            problems.add("<eos> before <sep>; graph has nodes only")
            self._check_tail(ids, pos + 1, problems)
        else:
            end = self._find(ids, self.eos_token_id, pos + 1)
            body = ids[pos + 1 : end]
            if self.serialization == "g2pt":
                self._decode_edge_groups(body, pos + 1, graph, problems)
            else:
                self._decode_walks(body, pos + 1, graph, problems)
            if end == len(ids):
                problems.add("sequence ended without <eos> (truncated?)")
            else:
                self._check_tail(ids, end + 1, problems)
        report = problems.finish()
        return (graph, report) if return_report else graph

    def decode_batch(
        self, sequences: Iterable[Iterable[int]] | torch.Tensor, return_report: bool = False
    ) -> list:
        """``decode`` for each row of a 2-D tensor or each sequence of a list."""
        return [self.decode(row, return_report=return_report) for row in sequences]

    def _kind(self, token: int) -> int | None:
        """Kind of a token id (the ``token_kinds`` buffer, computed without tensor indexing)."""
        if token < 0 or token >= self._vocab_size:
            return None
        if token < self.node_type_offset:
            return TOKEN_KIND_SPECIAL
        if token < self.index_offset:
            return TOKEN_KIND_NODE_TYPE
        if token < self.edge_type_offset:
            return TOKEN_KIND_INDEX
        return TOKEN_KIND_EDGE_TYPE

    @staticmethod
    def _find(ids: list[int], token: int, start: int) -> int:
        for pos in range(start, len(ids)):
            if ids[pos] == token:
                return pos
        return len(ids)

    def _unexpected(self, token: int, pos: int, where: str, problems: _Problems) -> None:
        problems.add(f"unexpected token {self.token_to_string(token)} at {pos} in {where}; skipped")

    def _decode_nodes(self, ids: list[int], pos: int, graph: nx.Graph, problems: _Problems) -> int:
        overflow = 0
        while pos < len(ids) and ids[pos] not in (self.sep_token_id, self.eos_token_id):
            token = ids[pos]
            if self._kind(token) == TOKEN_KIND_NODE_TYPE:
                if graph.number_of_nodes() < self.max_nodes:
                    node = graph.number_of_nodes()
                    graph.add_node(node)
                    if self.num_node_types > 1:
                        graph.nodes[node][TYPE_ATTRIBUTE] = token - self.node_type_offset
                else:
                    overflow += 1
            else:
                self._unexpected(token, pos, "the node section", problems)
            pos += 1
        if overflow:
            problems.add(f"{overflow} node tokens beyond max_nodes={self.max_nodes} dropped")
        return pos

    def _add_edge(
        self, graph: nx.Graph, u: int, v: int, edge_type: int, problems: _Problems, *, walk: bool
    ) -> None:
        n = graph.number_of_nodes()
        if u >= n or v >= n:
            problems.add(f"edge ({u}, {v}) refers to a node >= {n} (the node count); dropped")
        elif u == v:
            problems.add(f"self loop ({u}, {u}) dropped")
        elif graph.has_edge(u, v):
            previous = graph.edges[u, v].get(TYPE_ATTRIBUTE, 0)
            if not walk:
                problems.add(f"duplicate edge ({u}, {v}) dropped")
            elif previous != edge_type:
                problems.add(f"edge ({u}, {v}) repeated with another type; first type kept")
        elif self.emits_edge_types:
            graph.add_edge(u, v, **{TYPE_ATTRIBUTE: edge_type})
        else:
            graph.add_edge(u, v)

    def _decode_edge_groups(
        self, body: list[int], offset: int, graph: nx.Graph, problems: _Problems
    ) -> None:
        pending: list[int] = []
        for i, token in enumerate(body):
            kind = self._kind(token)
            if kind == TOKEN_KIND_INDEX:
                if len(pending) == 2:
                    problems.add(f"edge ({pending[0]}, {pending[1]}) has no edge type; dropped")
                    pending = []
                pending.append(token - self.index_offset)
                if len(pending) == 2 and not self.emits_edge_types:
                    self._add_edge(graph, pending[0], pending[1], 0, problems, walk=False)
                    pending = []
            elif kind == TOKEN_KIND_EDGE_TYPE and len(pending) == 2:
                edge_type = token - self.edge_type_offset
                self._add_edge(graph, pending[0], pending[1], edge_type, problems, walk=False)
                pending = []
            else:
                self._unexpected(token, offset + i, "the edge section", problems)
                pending = []
        if pending:
            problems.add(f"incomplete edge {tuple(pending)} at the end dropped")

    def _decode_walks(
        self, body: list[int], offset: int, graph: nx.Graph, problems: _Problems
    ) -> None:
        previous: int | None = None
        edge_type: int | None = None
        for i, token in enumerate(body):
            kind = self._kind(token)
            if kind == TOKEN_KIND_INDEX:
                node = token - self.index_offset
                if node >= graph.number_of_nodes():
                    problems.add(
                        f"walk visits node {node} at {offset + i} but the graph has "
                        f"{graph.number_of_nodes()} nodes; walk restarted"
                    )
                    previous, edge_type = None, None
                    continue
                if previous is not None:
                    if self.emits_edge_types and edge_type is None:
                        problems.add(f"step ({previous}, {node}) has no edge type; dropped")
                    else:
                        self._add_edge(graph, previous, node, edge_type or 0, problems, walk=True)
                previous, edge_type = node, None
            elif kind == TOKEN_KIND_EDGE_TYPE and previous is not None and edge_type is None:
                edge_type = token - self.edge_type_offset
            elif token == self.jump_token_id:
                previous, edge_type = None, None
            else:
                self._unexpected(token, offset + i, "the walk", problems)

    def _check_tail(self, ids: list[int], start: int, problems: _Problems) -> None:
        extra = sum(1 for token in ids[start:] if token != self.pad_token_id)
        if extra:
            problems.add(f"{extra} non-padding tokens after <eos> ignored")


def bfs_edge_order(num_nodes: int, adjacency: Sequence[Sequence[int]]) -> list[tuple[int, int]]:
    """Edges in G2PT's BFS order: (expanded node, neighbour), each undirected edge once.

    BFS starts at node 0 and restarts at the smallest unvisited node for each further
    component; ``adjacency[u]`` is visited in the order given (sorted by the tokenizer).
    """
    visited = [False] * num_nodes
    emitted: set[tuple[int, int]] = set()
    order: list[tuple[int, int]] = []
    for root in range(num_nodes):
        if visited[root]:
            continue
        visited[root] = True
        queue = deque([root])
        while queue:
            u = queue.popleft()
            for v in adjacency[u]:
                key = (u, v) if u < v else (v, u)
                if key in emitted:
                    continue
                emitted.add(key)
                order.append((u, v))
                if not visited[v]:
                    visited[v] = True
                    queue.append(v)
    return order


def semi_eulerian_walk(component: Sequence[int], adjacency: Sequence[Sequence[int]]) -> list[int]:
    """A walk over every edge of one connected component, duplicating edges where needed.

    The walk starts at the smallest odd-degree vertex (the smallest vertex when all degrees
    are even) and, when there are odd vertices, ends at the odd vertex farthest from the start
    in BFS distance. The remaining odd vertices are paired by the T-join of a BFS spanning
    tree rooted at the start: tree edge (v, parent) is duplicated when v's subtree holds an
    odd number of them, which makes every degree even except the two endpoints.
    """
    odd = [v for v in component if len(adjacency[v]) % 2 == 1]
    start = odd[0] if odd else component[0]
    parent = {start: start}
    depth = {start: 0}
    order = [start]
    queue = deque([start])
    while queue:
        u = queue.popleft()
        for v in adjacency[u]:
            if v not in parent:
                parent[v], depth[v] = u, depth[u] + 1
                order.append(v)
                queue.append(v)
    multigraph = nx.MultiGraph()
    multigraph.add_edges_from((u, v) for u in component for v in adjacency[u] if u < v)
    if odd:
        end = max(odd[1:], key=lambda v: (depth[v], -v))
        parity = {v: 0 for v in component}
        for v in odd:
            if v not in (start, end):
                parity[v] = 1
        for v in reversed(order[1:]):
            if parity[v]:
                multigraph.add_edge(v, parent[v])
                parity[parent[v]] ^= 1
    steps = nx.eulerian_path(multigraph, source=start)
    walk = [start]
    walk += [v for _, v in steps]
    return walk


def _as_int_list(tokens: Iterable, problems: _Problems | None = None) -> list[int]:
    """Token ids as Python ints; values that are not integers become -1 (reported)."""
    if isinstance(tokens, torch.Tensor):
        if tokens.dim() != 1:
            raise ValueError(
                f"tokens must be one sequence (a 1-D tensor), got shape {tuple(tokens.shape)}; "
                "use decode_batch for a batch"
            )
        return [int(t) for t in tokens.tolist()]
    if isinstance(tokens, (str, bytes)) or not isinstance(tokens, Iterable):
        raise ValueError(  # noqa: TRY004 - bad input is a ValueError (project convention)
            f"tokens must be a sequence of token ids, got {type(tokens).__name__}"
        )
    ids = []
    for pos, token in enumerate(tokens):
        try:
            value = int(token)
            if value != token:
                raise ValueError
        except (TypeError, ValueError, OverflowError):
            if problems is not None:
                problems.add(f"token {token!r} at {pos} is not an integer id")
            value = -1
        ids.append(value)
    return ids
