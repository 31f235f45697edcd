"""Graph generation: `GraphPipeline` samples token sequences and decodes them to networkx graphs.

The transformer is an unconditional `AutoregressiveModel` over the `GraphTokenizer` vocabulary;
the order is `RasterOrder(tokenizer.max_sequence_length)` and decoding stops per sample at
`<eos>`. A sequence the tokenizer cannot read cleanly is repaired by its decoder (bad tokens
skipped) and the problems are returned per sample in `reports`; one bad sample never fails
the batch.

Grammar mask. With `grammar_mask=True` (the default) the logits of each step are restricted
to tokens that keep the sequence well formed (`GraphGrammar`): `<bos>` first, node-type tokens
until `<sep>`, then only node indices below the node count (no self loops, no repeated edges,
at most `max_edges` edges in the G2PT serialisation). It is a token constraint
(`omniar.samplers.constraints.ConstraintProcessor`, shared with the mesh and audio pipelines)
that the decode loop applies to the logits, with every decoding: Jacobi masks each draft
position given the tokens before it, so its output distribution stays the sequential one.

Structure constraint. `structure_constraint=True` extends the mask so that every sample stays
inside the pipeline's family (planar or tree; `omniar.pipelines.graph_constraints`). Off by
default: what it measures is the model and the sampler together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import networkx as nx
import torch

from omniar.data.graph_benchmarks import BENCHMARK_FAMILIES
from omniar.data.graph_files import graph_to_record
from omniar.errors import OmniarError, bad_value
from omniar.models.ar_model import AutoregressiveModel
from omniar.orders.raster import RasterOrder
from omniar.pipelines.base import AutoregressivePipeline, GenerationOutput
from omniar.pipelines.graph_constraints import CONSTRAINED_FAMILIES, make_edge_constraint
from omniar.pipelines.input_checks import MAX_SAMPLES_PER_CALL, check_choice
from omniar.samplers.condition import Condition
from omniar.samplers.constraints import ConstraintProcessor
from omniar.samplers.registry import SEQUENCE_DECODINGS
from omniar.tokenizers.graph import (
    TOKEN_KIND_EDGE_TYPE,
    TOKEN_KIND_INDEX,
    TOKEN_KIND_NODE_TYPE,
    GraphTokenizer,
)

OUTPUT_TYPES = ("networkx", "records", "tokens")

_START, _NODES, _EDGES, _DONE = 0, 1, 2, 3


class GraphGrammar:
    """Which token ids may come next, for a batch of partial graph sequences.

    State per sample: the section (before `<bos>`, nodes, edges, finished), the node count,
    and in the edge section the position inside the current edge group (G2PT: source, target,
    edge type) or the walk's previous node (Eulerian), plus the adjacency built so far.
    `allowed()` is a (batch, vocab) boolean mask; it always allows at least one token.

    With `structure` (a family of `omniar.pipelines.graph_constraints`, G2PT serialisation
    only) it also keeps every sample inside that family: a source is allowed only if some edge
    from it keeps the family, a target only if its edge does; `<eos>` stays allowed, so a graph
    to which no edge can be added ends there.
    """

    def __init__(self, tokenizer: GraphTokenizer, batch_size: int, device: torch.device,
                 structure: str | None = None):
        self.tok = tokenizer
        n = tokenizer.max_nodes
        if structure is not None and tokenizer.serialization != "g2pt":
            raise ValueError(
                f"structure constraints need the G2PT serialisation, this tokenizer uses "
                f"{tokenizer.serialization!r}"
            )
        self.constraint = (
            None if structure is None else make_edge_constraint(structure, batch_size, n)
        )
        self.device = device
        self.section = torch.full((batch_size,), _START, dtype=torch.long, device=device)
        self.nodes = torch.zeros(batch_size, dtype=torch.long, device=device)
        self.slot = torch.zeros(batch_size, dtype=torch.long, device=device)
        self.previous = torch.full((batch_size,), -1, dtype=torch.long, device=device)
        self.edges = torch.zeros(batch_size, dtype=torch.long, device=device)
        self.adjacency = torch.zeros(batch_size, n, n, dtype=torch.bool, device=device)
        kinds = tokenizer.token_kinds.to(device)
        self.is_node_type = kinds == TOKEN_KIND_NODE_TYPE
        self.is_index = kinds == TOKEN_KIND_INDEX
        self.is_edge_type = kinds == TOKEN_KIND_EDGE_TYPE
        self.index_range = torch.arange(n, device=device)

    def advance(self, tokens: torch.Tensor) -> None:
        """Update the state with one token per sample (B,)."""
        tok, rows = self.tok, torch.arange(len(tokens), device=self.device)
        index = (tokens - tok.index_offset).clamp(0, tok.max_nodes - 1)
        is_index = self.is_index[tokens.clamp(0, tok.vocab_size - 1)]
        start, nodes, edges = (self.section == s for s in (_START, _NODES, _EDGES))
        self.nodes += (nodes & self.is_node_type[tokens.clamp(0, tok.vocab_size - 1)]).long()
        self.section = torch.where(start & (tokens == tok.bos_token_id), _NODES, self.section)
        self.section = torch.where(nodes & (tokens == tok.sep_token_id), _EDGES, self.section)
        self.section = torch.where(tokens == tok.eos_token_id, _DONE, self.section)
        if tok.serialization == "g2pt":
            self._advance_g2pt(tokens, edges & (self.section == _EDGES), is_index, index, rows)
        else:
            self._advance_walk(tokens, edges & (self.section == _EDGES), is_index, index, rows)

    def _advance_g2pt(self, tokens, edges, is_index, index, rows) -> None:
        target = edges & is_index & (self.slot == 1)
        source = self.previous.clamp(min=0)
        self.adjacency[rows[target], source[target], index[target]] = True
        self.adjacency[rows[target], index[target], source[target]] = True
        self.edges += target.long()
        if self.constraint is not None:
            for row in target.nonzero().flatten().tolist():
                self.constraint.add_edge(row, int(source[row]), int(index[row]))
        group = 3 if self.tok.emits_edge_types else 2
        self.previous = torch.where(edges & is_index & (self.slot == 0), index, self.previous)
        self.slot = torch.where(edges, (self.slot + 1) % group, self.slot)

    def _advance_walk(self, tokens, edges, is_index, index, rows) -> None:
        jump = edges & (tokens == self.tok.jump_token_id)
        self.previous = torch.where(edges & is_index, index, self.previous)
        self.previous = torch.where(jump, -1, self.previous)
        typed = edges & self.is_edge_type[tokens.clamp(0, self.tok.vocab_size - 1)]
        self.slot = torch.where(typed, 1, torch.where((edges & is_index) | jump, 0, self.slot))

    def allowed(self) -> torch.Tensor:
        """(batch, vocab) mask of the tokens that keep each sequence well formed."""
        tok = self.tok
        batch = len(self.section)
        mask = torch.zeros(batch, tok.vocab_size, dtype=torch.bool, device=self.device)
        section = self.section
        mask[:, tok.bos_token_id] = section == _START
        nodes = section == _NODES
        mask |= (nodes & (self.nodes < tok.max_nodes))[:, None] & self.is_node_type
        mask[:, tok.sep_token_id] = nodes & (self.nodes >= 1)
        below = self.index_range[None, :] < self.nodes[:, None]
        if tok.serialization == "g2pt":
            edge_mask, eos = self._g2pt_allowed(below)
        else:
            edge_mask, eos = self._walk_allowed(below)
        edge_section = section == _EDGES
        mask |= edge_section[:, None] & edge_mask
        mask[:, tok.eos_token_id] |= edge_section & eos
        mask[:, tok.pad_token_id] |= section == _DONE
        return mask

    def finished(self) -> torch.Tensor:
        """(batch,) bool: which sequences are past their `<eos>`."""
        return self.section == _DONE

    def _index_mask(self, indices: torch.Tensor) -> torch.Tensor:
        """Scatter a (batch, max_nodes) node mask into the index tokens of the vocabulary."""
        mask = torch.zeros(len(indices), self.tok.vocab_size, dtype=torch.bool, device=self.device)
        mask[:, self.tok.index_offset : self.tok.index_offset + self.tok.max_nodes] = indices
        return mask

    def _g2pt_allowed(self, below: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rows = torch.arange(len(below), device=self.device)
        degree = self.adjacency.sum(-1)
        has_room = (degree < (self.nodes - 1)[:, None]) & below
        room_left = self.edges < self.tok.max_edges
        sources = has_room & room_left[:, None] & (self.slot == 0)[:, None]
        src = self.previous.clamp(min=0)
        targets = below & ~self.adjacency[rows, src] & (self.index_range[None] != src[:, None])
        targets &= (self.slot == 1)[:, None]
        if self.constraint is not None:
            sources, targets = self._constrain(sources, targets, below)
        mask = self._index_mask(sources | targets)
        mask |= (self.slot == 2)[:, None] & self.is_edge_type
        return mask, self.slot == 0

    def _constrain(self, sources: torch.Tensor, targets: torch.Tensor,
                   below: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Drop the sources without an allowed edge and the targets whose edge is not allowed."""
        sources, targets = sources.clone(), targets.clone()
        for row in sources.any(1).nonzero().flatten().tolist():
            for source in sources[row].nonzero().flatten().tolist():
                free = below[row] & ~self.adjacency[row, source]
                candidates = [t for t in free.nonzero().flatten().tolist() if t != source]
                if not self.constraint.has_allowed_target(row, source, candidates):
                    sources[row, source] = False
        for row in targets.any(1).nonzero().flatten().tolist():
            source = int(self.previous[row])
            candidates = targets[row].nonzero().flatten().tolist()
            allowed = self.constraint.allowed_targets(row, source, candidates)
            if allowed:  # empty only if a token outside the mask was fed; keep the row sampleable
                targets[row] = False
                targets[row, allowed] = True
        return sources, targets

    def _walk_allowed(self, below: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A walk starts at any node; it continues to another node (through an edge-type
        token first when there are types), or ends with `<jump>` / `<eos>`."""
        tok = self.tok
        started = self.previous >= 0
        not_previous = self.index_range[None] != self.previous[:, None]
        if tok.emits_edge_types:
            at_node = started & (self.slot == 0)
            step = (self.slot == 1) | ~started
            mask = self._index_mask(below & not_previous & step[:, None])
            mask |= (at_node & (self.nodes >= 2))[:, None] & self.is_edge_type
        else:
            at_node = started
            mask = self._index_mask(below & not_previous)
        mask[:, tok.jump_token_id] = at_node
        return mask, at_node | ~started


@dataclass
class GraphPipelineOutput(GenerationOutput):
    """`graphs`: networkx graphs, JSON-lines records or token rows (per `output_type`);
    `reports`: per graph, the problems the tokenizer's decoder repaired (empty when clean)."""

    graphs: Any = None
    reports: list[list[str]] = field(default_factory=list)


class GraphPipeline(AutoregressivePipeline):
    """Unconditional autoregressive graph generation.

    Components: `transformer` (an `AutoregressiveModel` with `condition="none"`,
    `rope_axes=1`, vocabulary = the tokenizer's) and `tokenizer` (`GraphTokenizer`).
    Config: `sampling_presets` (name -> sampling settings; "default" is used unless another
    preset is named) and `family` (the benchmark the model was trained on, e.g. "planar", used
    by `omniar eval graph` for validity).
    """

    model_cpu_offload_seq = "transformer"

    def __init__(
        self,
        transformer: AutoregressiveModel,
        tokenizer: GraphTokenizer,
        sampling_presets: dict | None = None,
        family: str | None = None,
    ):
        super().__init__()
        if transformer.config.vocab_size != tokenizer.vocab_size:
            raise ValueError(
                f"transformer vocab_size {transformer.config.vocab_size} does not match the "
                f"tokenizer's {tokenizer.vocab_size}"
            )
        if transformer.config.condition != "none" or transformer.config.rope_axes != 1:
            raise ValueError("transformer must have condition='none' and rope_axes=1 for graphs")
        if family is not None and family not in BENCHMARK_FAMILIES:
            raise ValueError(f"family must be one of {BENCHMARK_FAMILIES} or None, got {family!r}")
        self.register_modules(transformer=transformer, tokenizer=tokenizer)
        self.register_to_config(sampling_presets=dict(sampling_presets or {}), family=family)

    @property
    def order(self) -> RasterOrder:
        return RasterOrder(self.tokenizer.max_sequence_length)

    def check_inputs(
        self,
        num_graphs: int = 1,
        decoding: str = "sequential",
        decoding_options: dict[str, Any] | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: torch.Generator | list[torch.Generator] | None = None,
        batch_size: int = 16,
        preset: str | None = None,
        output_type: str = "networkx",
        grammar_mask: bool | None = None,
        structure_constraint: bool = False,
        **ignored: Any,
    ) -> None:
        """Check the arguments of `__call__` (same names) without generating anything.

        Called at the top of `__call__` and by `omniar generate graph` before any work; raises
        an OmniarError naming the first bad argument and what it accepts.
        """
        self.check_count("num_graphs", num_graphs, MAX_SAMPLES_PER_CALL)
        check_choice("output_type", output_type, OUTPUT_TYPES)
        self.check_sampling_inputs(
            num_graphs, generator, decoding, decoding_options, batch_size, preset,
            decodings=SEQUENCE_DECODINGS, temperature=temperature, top_k=top_k, top_p=top_p,
        )
        if grammar_mask is None:
            grammar_mask = True
        if not isinstance(grammar_mask, bool):
            raise bad_value("grammar_mask", grammar_mask, "True, False or None")
        self._structure(structure_constraint, grammar_mask)

    @torch.no_grad()
    def __call__(
        self,
        num_graphs: int = 1,
        decoding: str = "sequential",
        decoding_options: dict[str, Any] | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: torch.Generator | list[torch.Generator] | None = None,
        batch_size: int = 16,
        preset: str | None = None,
        callback_on_step_end: Callable | None = None,
        output_type: str = "networkx",
        grammar_mask: bool | None = None,
        structure_constraint: bool = False,
    ) -> GraphPipelineOutput:
        """Sample `num_graphs` graphs.

        Args:
            num_graphs: how many graphs.
            decoding: decoding strategy name (`omniar.samplers.registry`).
            decoding_options: the parallel decoder's options, e.g. `{"window": 8, "init":
                "left"}` for jacobi.
            temperature, top_k, top_p: sampling settings; `None` takes the preset's value
                (`top_k=0` and `top_p=1` mean off).
            generator: torch generator for reproducible samples.
            batch_size: micro-batch size (how many sequences are decoded at once).
            preset: sampling preset name from the pipeline config (default "default").
            callback_on_step_end: `fn(pipe, step, num_steps, {"tokens": tokens})` per step.
            output_type: "networkx" (graphs), "records" (JSON-lines dicts) or "tokens"
                (a (num_graphs, length) LongTensor, padded with `<pad>`).
            grammar_mask: restrict sampling to well-formed sequences (module docstring).
                `None` (default) means on, with every decoding.
            structure_constraint: also keep every sample inside the pipeline's `family`
                (planar: only edges that keep the graph planar; tree: only edges between two
                components), as valency checks do for molecules
                (`omniar.pipelines.graph_constraints`). It changes the samples: figures measured
                with it describe model and sampler together. Needs the grammar mask.
        """
        self.check_inputs(num_graphs, decoding, decoding_options, temperature, top_k, top_p,
                          generator, batch_size, preset, output_type, grammar_mask,
                          structure_constraint)
        if grammar_mask is None:
            grammar_mask = True
        structure = self._structure(structure_constraint, grammar_mask)
        sampling, guidance, settings = self.resolve_sampling(
            preset, temperature=temperature, top_k=top_k, top_p=top_p
        )
        constraint = None
        if grammar_mask:
            constraint = ConstraintProcessor(
                partial(GraphGrammar, self.tokenizer, structure=structure))
        tok = self.tokenizer
        tokens, stats = self.generate_tokens(
            self.transformer, self.order, Condition(num_graphs), sampling, guidance,
            generator=generator, decoding=decoding, decoding_options=decoding_options,
            batch_size=batch_size, callback_on_step_end=callback_on_step_end,
            stop_tokens=(tok.eos_token_id, tok.pad_token_id), constraint=constraint,
        )
        tokens = tokens.cpu()
        decoded = [tok.decode(row, return_report=True) for row in tokens]
        graphs = [graph for graph, _ in decoded]
        reports = [report for _, report in decoded]
        summary = {
            **stats.as_dict(),
            "decoding": decoding,
            "grammar_mask": grammar_mask,
            "structure_constraint": structure,
            "sampling": {key: settings[key] for key in ("temperature", "top_k", "top_p")},
            "num_repaired": sum(1 for report in reports if report),
            "mean_nodes": sum(g.number_of_nodes() for g in graphs) / num_graphs,
            "mean_edges": sum(g.number_of_edges() for g in graphs) / num_graphs,
        }
        self.maybe_free_model_hooks()
        return GraphPipelineOutput(stats=summary, graphs=_convert(graphs, tokens, output_type),
                                   reports=reports)

    def _structure(self, structure_constraint: bool, grammar_mask: bool) -> str | None:
        """The family to constrain samples to, or None; errors name what is missing."""
        if not isinstance(structure_constraint, bool):
            raise bad_value("structure_constraint", structure_constraint, "True or False")
        if not structure_constraint:
            return None
        family = self.config.family
        if family not in CONSTRAINED_FAMILIES:
            raise OmniarError(
                f"structure_constraint=True needs a pipeline family in {CONSTRAINED_FAMILIES}, "
                f"this pipeline's family is {family!r}"
            )
        if not grammar_mask:
            raise OmniarError(
                "structure_constraint=True works through the grammar mask: leave grammar_mask on"
            )
        return family  # GraphGrammar refuses serialisations other than G2PT


def _convert(graphs: list[nx.Graph], tokens: torch.Tensor, output_type: str) -> Any:
    if output_type == "networkx":
        return graphs
    if output_type == "records":
        return [graph_to_record(graph) for graph in graphs]
    return tokens
