"""Compressed face-adjacency serialisation of a canonical mesh (generalised triangle strips).

As in MeshAnything-v2's adjacent mesh tokenisation, faces are written as strips: a face that
shares an edge with the previous face only adds its one new vertex (3 coordinate tokens), and
a strip that cannot continue is closed by starting a new one (NEW_STRIP + 9 tokens).

The previous face's vertices are ranked by age (oldest, middle, newest), where a strip's first
face takes its stored order. The next face shares one of its three edges:

* default, no control token: edge (middle, newest), which drops the oldest vertex. This is how
  a classic triangle strip advances, so regular strips cost 3 tokens per face.
* PIVOT: edge (oldest, newest), which keeps the oldest vertex as the hub of a fan (cylinder
  caps, cones). 4 tokens per face.
* BACKTRACK: edge (oldest, middle), the edge without the newest vertex. 4 tokens per face.

The new face is the neighbour across the chosen edge, with that edge reversed, so the winding
is implied and kept: if the previous face holds directed edge u->v, the new face is
(v, u, new). The two vertices kept keep their age order, and the new vertex becomes the newest.

Encoding is greedy and deterministic. Strips start at the first unwritten face in canonical
order. At each step the encoder moves to the unwritten neighbour with the fewest unwritten
neighbours of its own (the classic stripification rule: it leaves fewer faces stranded, which
would each cost a new strip), and on a tie takes the first of default, PIVOT, BACKTRACK. When
several faces share an edge (a non-manifold edge), the lowest face index wins. A neighbour whose winding disagrees is not treated as adjacent, so it starts
a new strip with its own winding.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from omniar.tokenizers.mesh import MeshVocabulary, Triangle

# Steps from a face to its neighbour: (kept vertex ranks in age order, control token attribute
# name or None for the default step). Shared with the grammar of `omniar.pipelines.mesh_grammar`.
STEPS = (((1, 2), None), ((0, 2), "pivot"), ((0, 1), "backtrack"))


def directed_edge(face: tuple, x: object, y: object) -> tuple:
    """The edge {x, y} as it is directed in the oriented triangle ``face``."""
    position = face.index(x)
    return (x, y) if face[(position + 1) % 3] == y else (y, x)


def encode_adjacency(vertices: np.ndarray, faces: np.ndarray, vocab: MeshVocabulary) -> list[int]:
    """Tokens for a canonical mesh: ``BOS, NEW_STRIP, 9 coords, [control] 3 coords, ..., EOS``."""
    coords = [tuple(row) for row in vertices.tolist()]
    oriented = [tuple(face) for face in faces.tolist()]
    faces_with_edge: dict[tuple[int, int], list[int]] = defaultdict(list)
    for index, (a, b, c) in enumerate(oriented):
        for edge in ((a, b), (b, c), (c, a)):
            faces_with_edge[edge].append(index)
    written = [False] * len(oriented)

    def unwritten_neighbour(u: int, v: int) -> int | None:
        return next((f for f in faces_with_edge.get((v, u), ()) if not written[f]), None)

    def open_edges(index: int) -> int:
        a, b, c = oriented[index]
        return sum(unwritten_neighbour(u, v) is not None for u, v in ((a, b), (b, c), (c, a)))

    tokens = [vocab.bos]
    for start in range(len(oriented)):
        if written[start]:
            continue
        written[start] = True
        face = oriented[start]
        tokens.append(vocab.new_strip)
        for vertex in face:
            tokens.extend(coords[vertex])
        ages = list(face)
        while True:
            options = []
            for rank, (kept, control) in enumerate(STEPS):
                x, y = ages[kept[0]], ages[kept[1]]
                u, v = directed_edge(face, x, y)
                neighbour = unwritten_neighbour(u, v)
                if neighbour is not None:
                    options.append((open_edges(neighbour), rank, neighbour, x, y, u, v, control))
            if not options:
                break
            _, _, neighbour, x, y, u, v, control = min(options)
            written[neighbour] = True
            face = oriented[neighbour]
            new = next(w for w in face if w != u and w != v)
            if control is not None:
                tokens.append(getattr(vocab, control))
            tokens.extend(coords[new])
            ages = [x, y, new]
    tokens.append(vocab.eos)
    return tokens


def decode_adjacency(tokens: list[int], vocab: MeshVocabulary, problems: list[str]) -> list[Triangle]:
    """Triangles (three (z, y, x) level triples each) from adjacency tokens; never raises.

    Invalid tokens, interrupted faces and steps without a previous face are skipped and
    described in ``problems``. Duplicate and degenerate faces are left to the caller.
    """
    controls = {vocab.pivot: 1, vocab.backtrack: 2}
    triangles: list[Triangle] = []
    face: tuple | None = None
    ages: list = []
    step: int | None = None  # index into STEPS of the pending step; -1 for a new strip
    buffer: list[int] = []
    start = 1 if tokens[:1] == [vocab.bos] else 0
    if start == 0:
        problems.append("sequence does not start with BOS")
    ended = False
    for position, token in enumerate(tokens[start:], start):
        if vocab.is_coordinate(token):
            if step is None:
                if face is None:
                    problems.append(f"face at position {position} has no NEW_STRIP; read as one")
                step = 0 if face is not None else -1
            buffer.append(token)
            if len(buffer) < (9 if step == -1 else 3):
                continue
            points = [tuple(buffer[i : i + 3]) for i in range(0, len(buffer), 3)]
            if step == -1:
                new_face = tuple(points)
                new_ages = list(points)
            else:
                kept, _ = STEPS[step]
                x, y = ages[kept[0]], ages[kept[1]]
                u, v = directed_edge(face, x, y)
                new_face = (v, u, points[0])
                new_ages = [x, y, points[0]]
            triangles.append(new_face)
            if len(set(new_face)) == 3:
                face, ages = new_face, new_ages
            buffer, step = [], None
            continue
        if token == vocab.eos:
            ended = True
            break
        if buffer or step is not None:
            problems.append(f"face interrupted by token {token} at position {position}")
            buffer, step = [], None
        if token == vocab.new_strip:
            step = -1
        elif token in controls and face is not None:
            step = controls[token]
        elif token in controls:
            problems.append(f"control token {token} at position {position} has no previous face")
        elif token != vocab.pad:
            problems.append(f"unexpected token {token} at position {position}")
    if buffer or step is not None:
        problems.append(f"incomplete last face ({len(buffer)} coordinate tokens) dropped")
    if not ended:
        problems.append("no EOS (sequence truncated?)")
    return triangles
