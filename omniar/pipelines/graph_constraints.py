"""Family constraints for graph sampling: only edges that keep each sample inside its family.

GraphAF and GraphDF check valency while they generate molecules, so that every sample is a
valid molecule. This is the same idea for the graph benchmarks, applied edge by edge while a
G2PT sequence is sampled:

- planar: an edge may be added only if the graph stays planar;
- tree: an edge may be added only between two connected components, so the graph stays a
  forest (a tree once it is connected).

A constraint changes what is sampled: the model's distribution restricted, at every step, to
the edges that keep the family. Figures measured with it describe the model *and* this sampler
and are reported as such, never as the model's own validity.

Planarity uses rustworkx's compiled test rather than networkx's pure-Python one: the mask may
ask it once per candidate edge per step, and rustworkx answers about 100x faster on the 64-node
benchmark graphs. An edge that would break planarity breaks it for every later graph too (edges
are only ever added), so those answers are cached per sample.
"""

from __future__ import annotations

import rustworkx as rx

CONSTRAINED_FAMILIES = ("planar", "tree")


class EdgeConstraint:
    """Per-sample graphs of a micro-batch and the test of whether an edge may join each."""

    def __init__(self, batch_size: int, num_nodes: int) -> None:
        self.batch_size, self.num_nodes = batch_size, num_nodes

    def add_edge(self, row: int, source: int, target: int) -> None:
        """Record an edge that was sampled into sample `row`."""
        raise NotImplementedError

    def allows(self, row: int, source: int, target: int) -> bool:
        """Whether sample `row` stays in the family with the edge (source, target) added."""
        raise NotImplementedError

    def allowed_targets(self, row: int, source: int, candidates: list[int]) -> list[int]:
        """The candidate targets of `source` whose edge keeps sample `row` in the family."""
        return [target for target in candidates if self.allows(row, source, target)]

    def has_allowed_target(self, row: int, source: int, candidates: list[int]) -> bool:
        """Whether any candidate target of `source` keeps sample `row` in the family."""
        return any(self.allows(row, source, target) for target in candidates)


class PlanarEdges(EdgeConstraint):
    """Allows an edge only if the sample's graph stays planar."""

    def __init__(self, batch_size: int, num_nodes: int) -> None:
        super().__init__(batch_size, num_nodes)
        self.graphs = []
        for _ in range(batch_size):
            graph = rx.PyGraph(multigraph=False)
            graph.add_nodes_from(range(num_nodes))
            self.graphs.append(graph)
        self.breaking: list[set[tuple[int, int]]] = [set() for _ in range(batch_size)]

    def add_edge(self, row: int, source: int, target: int) -> None:
        self.graphs[row].add_edge(source, target, None)

    def allows(self, row: int, source: int, target: int) -> bool:
        pair = (min(source, target), max(source, target))
        if pair in self.breaking[row]:
            return False
        graph = self.graphs[row]
        if graph.has_edge(source, target):
            return False  # not a new edge (and removing the test edge would delete it)
        index = graph.add_edge(source, target, None)
        planar = rx.is_planar(graph)
        graph.remove_edge_from_index(index)
        if not planar:
            self.breaking[row].add(pair)
        return planar


class AcyclicEdges(EdgeConstraint):
    """Allows an edge only between two components, so the sample's graph stays a forest."""

    def __init__(self, batch_size: int, num_nodes: int) -> None:
        super().__init__(batch_size, num_nodes)
        self.parent = [list(range(num_nodes)) for _ in range(batch_size)]

    def _root(self, row: int, node: int) -> int:
        parent = self.parent[row]
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    def add_edge(self, row: int, source: int, target: int) -> None:
        self.parent[row][self._root(row, source)] = self._root(row, target)

    def allows(self, row: int, source: int, target: int) -> bool:
        return self._root(row, source) != self._root(row, target)


def make_edge_constraint(family: str, batch_size: int, num_nodes: int) -> EdgeConstraint:
    """The constraint of a benchmark family (`CONSTRAINED_FAMILIES`)."""
    if family == "planar":
        return PlanarEdges(batch_size, num_nodes)
    if family == "tree":
        return AcyclicEdges(batch_size, num_nodes)
    raise ValueError(
        f"no structure constraint for graph family {family!r}; available: {CONSTRAINED_FAMILIES}"
    )
