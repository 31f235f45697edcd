"""The faces of a mesh sequence decoded so far, kept for the grammar's edge and face checks.

Vertices are keys ``(z * L + y) * L + x`` of their quantised (z, y, x) levels (``L`` levels per
axis), so comparing keys compares vertices in the tokenizer's canonical (z, y, x) order.

A closed, consistently oriented manifold mesh (what every procedural shape is) holds each
directed edge exactly once and its reverse exactly once. `PartialMesh` tracks the directed edges
written so far, so the grammar can refuse a face that would repeat a directed edge (a
non-manifold edge or a flipped winding) or repeat a face, and can tell which edges are still
open (their reverse is not written yet).
"""

from __future__ import annotations

from collections import defaultdict


def face_edges(face: tuple[int, int, int]) -> tuple[tuple[int, int], ...]:
    """The three directed edges of an oriented triangle."""
    a, b, c = face
    return (a, b), (b, c), (c, a)


class PartialMesh:
    """Directed edges, faces and open-edge count of the faces written so far."""

    def __init__(self) -> None:
        self.directed: set[tuple[int, int]] = set()
        self.successors: dict[int, set[int]] = defaultdict(set)
        self.predecessors: dict[int, set[int]] = defaultdict(set)
        self.thirds: dict[tuple[int, int], set[int]] = defaultdict(set)
        self.num_faces = 0
        self.open_edges = 0

    def add_face(self, face: tuple[int, int, int]) -> None:
        """Record an oriented face (checked by the grammar when its vertices were chosen).

        A repeated directed edge (possible without the manifold rules) is counted once.
        """
        for a, b in face_edges(face):
            if (a, b) in self.directed:
                continue
            self.open_edges += -1 if (b, a) in self.directed else 1
            self.directed.add((a, b))
            self.successors[a].add(b)
            self.predecessors[b].add(a)
        for i in range(3):
            a, b, c = face[i], face[(i + 1) % 3], face[(i + 2) % 3]
            self.thirds[(min(a, b), max(a, b))].add(c)
        self.num_faces += 1

    def has_edge(self, a: int, b: int) -> bool:
        return (a, b) in self.directed

    def third_vertices(self, a: int, b: int) -> set[int]:
        """Vertices that already form a face with the undirected edge {a, b}."""
        return self.thirds.get((min(a, b), max(a, b)), set())

    def is_shared(self, a: int, b: int) -> bool:
        """Whether the directed edge a->b has its reverse written (the edge is closed)."""
        return (b, a) in self.directed

    @property
    def closed(self) -> bool:
        """At least one face and every edge shared by a face on each side."""
        return self.num_faces > 0 and self.open_edges == 0
