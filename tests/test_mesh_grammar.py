"""The mesh grammar mask: it accepts the training sequences and only produces decodable meshes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from omniar.data.shapes import make_shape
from omniar.pipelines.mesh_grammar import MeshGrammar, MeshSequenceGrammar
from omniar.pipelines.mesh_vertex_rule import VertexRule, vertex_key
from omniar.samplers.constraints import ConstraintProcessor
from omniar.samplers.processors import SamplingConfig, sampling_probabilities
from omniar.tokenizers.mesh import MeshTokenizer

SHAPES = ("cube", "pyramid", "cone", "sphere", "chair")


def sequence_grammar(tokenizer: MeshTokenizer, level: str) -> MeshSequenceGrammar:
    return MeshSequenceGrammar(tokenizer.vocab, tokenizer.config.serialization == "adjacency",
                               level, tokenizer.max_sequence_length, tokenizer.config.max_faces)


@pytest.mark.parametrize("serialization", ["adjacency", "coordinates"])
def test_every_training_sequence_is_allowed_at_the_closed_level(serialization):
    tokenizer = MeshTokenizer(7, serialization, max_faces=200)
    for name in SHAPES:
        tokens = tokenizer.encode(make_shape(name, 1))
        grammar = sequence_grammar(tokenizer, "closed")
        for position, token in enumerate(tokens):
            assert grammar.allowed()[token], f"{name}: token {token} at {position} refused"
            grammar.advance(token)
        assert grammar.finished and grammar.mesh.closed


def test_closed_level_ends_strips_and_sequences_only_when_edges_are_shared():
    tokenizer = MeshTokenizer(7, "adjacency")
    vocab = tokenizer.vocab
    tokens = tokenizer.encode(make_shape("cylinder", 0))
    grammar = sequence_grammar(tokenizer, "closed")
    for token in tokens[:-1]:
        grammar.advance(token)
        allowed = grammar.allowed()
        if grammar.face is not None and (allowed[vocab.new_strip] or allowed[vocab.eos]):
            face_edges_shared = all(grammar.mesh.is_shared(*edge) for edge in zip(
                grammar.face, grammar.face[1:] + grammar.face[:1]))
            assert face_edges_shared
        if allowed[vocab.eos]:
            assert grammar.mesh.closed
    manifold = sequence_grammar(tokenizer, "manifold")
    for token in tokens[:4]:
        manifold.advance(token)
    assert not manifold.allowed()[vocab.eos]  # mid-face
    for token in tokens[4:11]:
        manifold.advance(token)
    assert manifold.allowed()[vocab.eos]  # any face boundary may end an open mesh


def random_sequences(tokenizer: MeshTokenizer, level: str, batch: int, seed: int = 0):
    """Sample uniformly among the allowed tokens, as a model with flat logits would."""
    grammar = MeshGrammar(tokenizer, batch, torch.device("cpu"), level)
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(tokenizer.max_sequence_length):
        allowed = grammar.allowed()
        assert allowed.any(1).all()
        token = torch.multinomial(allowed.float(), 1, generator=generator)[:, 0]
        rows.append(token)
        grammar.advance(token)
    return torch.stack(rows, 1), grammar


@pytest.mark.parametrize("serialization", ["adjacency", "coordinates"])
@pytest.mark.parametrize("level", ["syntax", "manifold", "closed"])
def test_uniform_sampling_under_the_mask_decodes_cleanly(serialization, level):
    tokenizer = MeshTokenizer(3, serialization, max_faces=12)
    sequences, grammar = random_sequences(tokenizer, level, batch=24)
    assert bool(grammar.finished().all())
    abandoned = 0
    for row in sequences:
        mesh, report = tokenizer.decode(row[row != tokenizer.pad_token_id], return_report=True)
        abandoned += any("incomplete last face" in problem for problem in report.problems)
        assert [p for p in report.problems if "incomplete last face" not in p] == []
        assert 1 <= len(mesh.faces) <= 12 and (mesh.area_faces > 0).all()
        if level != "syntax":
            edges, counts = np.unique(mesh.edges_sorted, axis=0, return_counts=True)
            assert counts.max() <= 2 and mesh.is_winding_consistent
    assert abandoned <= 1


def test_vertex_rule_planes_match_the_definition():
    levels, rng = 6, np.random.default_rng(0)
    for _ in range(40):
        rule = VertexRule(levels)
        rule.raise_bound(int(rng.integers(levels**3)), bool(rng.random() < 0.5))
        rule.excluded |= {int(k) for k in rng.integers(0, levels**3, 4)}
        a, b = rng.integers(0, levels, 3), rng.integers(0, levels, 3)
        b[0] = a[0] if rng.random() < 0.4 else b[0]
        rule.line = (a, b) if (a != b).any() else None
        for vertex in np.ndindex(levels, levels, levels):
            key = vertex_key(levels, vertex)
            expected = key > rule.lower if rule.strict else key >= rule.lower
            expected &= key not in rule.excluded
            if rule.line is not None:
                expected &= bool(np.cross(b - a, np.array(vertex) - a).any())
            assert rule.accepts(vertex) == expected


def test_a_face_that_cannot_be_completed_may_be_abandoned():
    tokenizer = MeshTokenizer(2, "coordinates", max_faces=4)
    grammar = sequence_grammar(tokenizer, "syntax")
    for token in (tokenizer.bos_token_id, 3):
        grammar.advance(token)
    assert not grammar.allowed()[3]  # a face's lowest vertex may not lie on the top row ...
    for token in (3, 3):  # ... but when fed one anyway, no second vertex lies above it
        grammar.advance(token)
    allowed = grammar.allowed()
    assert allowed[tokenizer.eos_token_id] and not allowed[: tokenizer.num_levels].any()


class _Grammar:
    """Allows tokens 0 and 1 at every step; sequences never end."""

    def __init__(self, batch: int, device: torch.device) -> None:
        self.batch = batch
        self.seen: list[torch.Tensor] = []

    def advance(self, tokens: torch.Tensor) -> None:
        self.seen.append(tokens)

    def allowed(self) -> torch.Tensor:
        mask = torch.zeros(self.batch, 6, dtype=torch.bool)
        mask[:, :2] = True
        return mask

    def finished(self) -> torch.Tensor:
        return torch.zeros(self.batch, dtype=torch.bool)


def test_constraint_processor_masks_guided_logits_and_counts_overrides():
    processor = ConstraintProcessor(_Grammar)
    run = processor.start(3, torch.arange(2), torch.device("cpu"))
    tokens = torch.zeros(3, 2, dtype=torch.long)
    for position in range(2):
        logits = torch.randn(3, 1, 6, generator=torch.Generator().manual_seed(position))
        logits[..., 5] += 10.0  # the most likely token, which the grammar masks
        masked = run(logits, tokens, torch.full((3,), position))
        probs = sampling_probabilities(masked, SamplingConfig())
        assert torch.isfinite(probs).all() and (probs[..., 2:] == 0).all()
        run.commit(tokens, torch.full((3,), position + 1))
    grammar = processor.constraints[0]
    assert len(processor.constraints) == 1 and grammar.batch == 3
    assert [fed.shape for fed in grammar.seen] == [(3,), (3,)]  # one token per sample per step
    assert processor.overrides.tolist() == [2, 2, 2]
    assert ((processor.masked_mass > 1.9) & (processor.masked_mass <= 2)).all()
