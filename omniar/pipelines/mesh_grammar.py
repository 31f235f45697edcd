"""Which mesh tokens may come next: the grammar `MeshPipeline` masks sampling with.

Levels, each including the one before (``GRAMMAR_LEVELS``):

* ``"syntax"``: the sequence is well formed and canonical, so the tokenizer decodes every face
  of it: ``BOS`` first; faces of whole vertices (three coordinate tokens each); in the adjacency
  serialisation ``NEW_STRIP`` before a strip's first face and ``PIVOT``/``BACKTRACK`` only after
  a face; ``EOS`` only between faces and after at least one; at most ``max_faces`` faces within
  ``max_sequence_length`` tokens. Faces are canonical: a written face's first vertex is its
  lowest in (z, y, x) order, and written faces (coordinates) or strip starts (adjacency) come in
  increasing order, as the tokenizer sorts them. No face is degenerate (three distinct,
  non-collinear vertices).
* ``"manifold"``: no face is repeated and no directed edge is written twice, so every edge has
  at most two faces and they agree on the winding; a strip may only step across an edge whose
  other face is not written yet (as the encoder does).
* ``"closed"``: for watertight training data. A strip ends (``NEW_STRIP`` / ``EOS``) only when
  all three edges of its last face are shared, as the encoder ends strips of a closed mesh, and
  ``EOS`` only comes when every edge is shared. When the length budget runs out first, ``EOS``
  is allowed anyway and the mesh stays open (reported, not hidden, by the validity checks).

Every row always has at least one allowed token. Each vertex is checked to be completable
(`VertexRule`), and a face's lowest vertex is kept off the top row, but a face can still run
into a corner where its next vertex has no valid choice (ties with the previous strip's bound,
or edges the manifold rules exclude). It may then be abandoned with ``EOS``; the tokenizer
reports the incomplete face.
"""

from __future__ import annotations

import numpy as np
import torch

from omniar.pipelines.mesh_partial import PartialMesh
from omniar.pipelines.mesh_vertex_rule import VertexRule, key_vertex, vertex_key
from omniar.tokenizers.mesh import MeshTokenizer, MeshVocabulary
from omniar.tokenizers.mesh_adjacency import STEPS, directed_edge

GRAMMAR_LEVELS = ("none", "syntax", "manifold", "closed")
_START, _OPEN, _BOUNDARY, _FACE, _DONE = range(5)
_STRIP = -1  # face kind of a whole written face; 0, 1, 2 index STEPS


class MeshSequenceGrammar:
    """Grammar state of one sequence (see the module docstring for the levels)."""

    def __init__(self, vocab: MeshVocabulary, adjacency: bool, level: str, max_length: int,
                 max_faces: int) -> None:
        if level not in GRAMMAR_LEVELS[1:]:
            raise ValueError(f"grammar must be one of {GRAMMAR_LEVELS[1:]}, got {level!r}")
        self.vocab, self.adjacency, self.max_length, self.max_faces = (
            vocab, adjacency, max_length, max_faces)
        self.manifold = level in ("manifold", "closed")
        self.closed = level == "closed"
        self.levels = vocab.num_levels
        self.phase = _START
        self.length = 0
        self.mesh = PartialMesh()
        self.face: tuple[int, int, int] | None = None
        self.ages: list[int] = []
        self.bound_face: tuple[int, ...] | None = None
        self.kind = _STRIP
        self.written: list[int] = []
        self.coords: list[int] = []
        self.rule: VertexRule | None = None
        # A face's lowest vertex cannot lie on the top row (z, y maximal): every vertex above it
        # would be on the same line, so no non-degenerate face could follow.
        top = self.levels - 1
        self.top_row = {vertex_key(self.levels, (top, top, x)) for x in range(self.levels)}

    @property
    def finished(self) -> bool:
        return self.phase == _DONE

    def _point(self, key: int) -> np.ndarray:
        return np.array(key_vertex(self.levels, key))

    def _step_edge(self, kind: int) -> tuple[int, int]:
        """The directed edge (u, v) of the current face that step ``kind`` crosses."""
        kept = STEPS[kind][0]
        return directed_edge(self.face, self.ages[kept[0]], self.ages[kept[1]])

    def _step_possible(self, kind: int) -> bool:
        u, v = self._step_edge(kind)
        return not (self.manifold and self.mesh.has_edge(v, u))

    def _rule(self, kind: int, written: list[int]) -> VertexRule:
        """Constraints on the next vertex of a face of ``kind`` with vertices ``written`` so far."""
        rule, mesh = VertexRule(self.levels), self.mesh
        if kind != _STRIP:
            u, v = self._step_edge(kind)  # the new face is (v, u, new)
            rule.excluded |= {u, v}
            rule.line = (self._point(u), self._point(v))
            if self.manifold:
                rule.excluded |= mesh.successors[u] | mesh.predecessors[v]
                rule.excluded |= mesh.third_vertices(u, v)
            return rule
        bound = self.bound_face
        if not written:
            rule.excluded |= self.top_row
        tied = bound is not None and tuple(written) == tuple(bound[: len(written)])
        if tied:
            rule.raise_bound(bound[len(written)], strict=len(written) == 2)
        if written:
            rule.raise_bound(written[0], strict=True)
        if len(written) == 1 and self.manifold:
            rule.excluded |= mesh.successors[written[0]]
        if len(written) == 2:
            first, second = written
            rule.excluded.add(second)
            rule.line = (self._point(first), self._point(second))
            if self.manifold:
                rule.excluded |= mesh.successors[second] | mesh.predecessors[first]
                rule.excluded |= mesh.third_vertices(first, second)
        if tied and len(written) < 2:
            tie = bound[len(written)]
            if not self._rule(_STRIP, [*written, tie]).allowed([]).any():
                rule.excluded.add(tie)  # repeating the bound here would leave no next vertex
        return rule

    def _start_face(self, kind: int) -> None:
        self.phase, self.kind, self.written, self.coords = _FACE, kind, [], []
        self.rule = self._rule(kind, [])

    def _finish_face(self) -> None:
        if self.kind == _STRIP:
            face = tuple(self.written)
            self.bound_face, self.ages = face, list(face)
        else:
            kept = STEPS[self.kind][0]
            x, y = self.ages[kept[0]], self.ages[kept[1]]
            u, v = directed_edge(self.face, x, y)
            face = (v, u, self.written[0])
            self.ages = [x, y, self.written[0]]
        self.face = face
        self.mesh.add_face(face)
        self.phase = _BOUNDARY

    def _feed(self, token: int) -> None:
        self.coords.append(token)
        if len(self.coords) < 3:
            return
        self.written.append(vertex_key(self.levels, tuple(self.coords)))
        self.coords = []
        if len(self.written) == (3 if self.kind == _STRIP else 1):
            self._finish_face()
        else:
            self.rule = self._rule(self.kind, self.written)

    def _face_kind(self, token: int) -> int | None:
        """Kind of the face ``token`` starts between faces; None if it starts none."""
        vocab = self.vocab
        if not self.adjacency:
            return _STRIP if vocab.is_coordinate(token) else None
        if token == vocab.new_strip:
            return _STRIP
        if self.phase != _BOUNDARY:
            return None
        controls = {vocab.pivot: 1, vocab.backtrack: 2}
        return controls.get(token, 0 if vocab.is_coordinate(token) else None)

    def advance(self, token: int) -> None:
        """Take the next token (one the mask allowed; anything else is ignored)."""
        vocab = self.vocab
        self.length += 1
        if self.phase == _START:
            self.phase = _OPEN if token == vocab.bos else _START
        elif self.phase == _DONE:
            return
        elif token == vocab.eos:
            self.phase = _DONE
        elif self.phase == _FACE:
            if vocab.is_coordinate(token):
                self._feed(token)
        else:
            kind = self._face_kind(token)
            if kind is not None:
                self._start_face(kind)
                if vocab.is_coordinate(token):
                    self._feed(token)

    def _fits(self, tokens: int) -> bool:
        """Whether a face of ``tokens`` tokens plus EOS still fits (and the face count allows)."""
        return self.mesh.num_faces < self.max_faces and self.length + tokens + 1 <= self.max_length

    def allowed(self) -> np.ndarray:
        """(vocab,) bool mask of the tokens allowed next; never all False."""
        vocab = self.vocab
        mask = np.zeros(vocab.size, dtype=bool)
        if self.phase == _DONE:
            mask[vocab.pad] = True
        elif self.phase == _START:
            mask[vocab.bos] = True
        elif self.phase == _FACE:
            mask[: self.levels] = self.rule.allowed(self.coords)
        else:
            self._boundary_mask(mask)
        if not mask.any():
            mask[vocab.eos] = True
        return mask

    def _boundary_mask(self, mask: np.ndarray) -> None:
        """Between faces: start a strip or face, step to a neighbour, or end."""
        vocab = self.vocab
        steps = []
        if self.adjacency and self.phase == _BOUNDARY:
            steps = [kind for kind in range(3) if self._step_possible(kind)]
        fitting = [kind for kind in steps if self._fits(3 if kind == 0 else 4)]
        may_end_strip = not (self.closed and steps)
        if 0 in fitting:
            mask[: self.levels] = self._rule(0, []).allowed([])
        if 1 in fitting:
            mask[vocab.pivot] = True
        if 2 in fitting:
            mask[vocab.backtrack] = True
        new_face = may_end_strip and self._fits(10 if self.adjacency else 9)
        if new_face and self.adjacency:
            mask[vocab.new_strip] = True
        elif new_face:
            mask[: self.levels] = self._rule(_STRIP, []).allowed([])
        can_end = self.phase == _BOUNDARY and may_end_strip
        mask[vocab.eos] = can_end and (self.mesh.closed or not self.closed)


class MeshGrammar:
    """`MeshSequenceGrammar` for a batch of sequences: a `TokenConstraint` (`omniar.samplers.constraints`)."""

    def __init__(self, tokenizer: MeshTokenizer, batch_size: int, device: torch.device,
                 level: str = "manifold") -> None:
        adjacency = tokenizer.config.serialization == "adjacency"
        self.rows = [
            MeshSequenceGrammar(tokenizer.vocab, adjacency, level, tokenizer.max_sequence_length,
                                tokenizer.config.max_faces)
            for _ in range(batch_size)
        ]
        self.device = device

    def advance(self, tokens: torch.Tensor) -> None:
        for row, token in zip(self.rows, tokens.tolist()):
            row.advance(int(token))

    def allowed(self) -> torch.Tensor:
        return torch.from_numpy(np.stack([row.allowed() for row in self.rows])).to(self.device)

    def finished(self) -> torch.Tensor:
        return torch.tensor([row.finished for row in self.rows], device=self.device)
