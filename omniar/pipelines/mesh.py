"""Class-conditional low-poly mesh generation: `MeshPipeline` and mesh-file export.

The transformer generates a mesh token sequence (``BOS ... EOS``, the tokenizer's adjacency or
coordinate serialisation) one token per step under a 1D raster order; the tokenizer decodes it.

Three stages, each reported per sample in ``reports`` (and summed up in ``stats``), so that
what the pipeline imposed or fixed is never hidden:

1. Grammar (``grammar=``, `omniar.pipelines.mesh_grammar`): sampling is restricted to tokens
   that keep the sequence well formed ("syntax"), also edge-manifold ("manifold", the
   default), or also closed ("closed": strips and the sequence may only end once every edge is
   shared; with the shipped model, forcing this makes meshes worse, see its model card). The
   report gives ``grammar["overrides"]`` (steps where the model's most likely token was
   masked) and ``grammar["masked_mass"]`` (probability it put on masked tokens, summed over
   the steps).
2. Decoding never raises: what the tokenizer had to drop is listed in ``problems``.
3. Repair (``repair=True``, `omniar.pipelines.mesh_repair`), as in MeshGPT: vertices one
   quantisation level apart merged, small holes filled, winding and normals fixed. ``repairs``
   counts the changes; ``raw_checks`` are the validity checks before it, ``checks`` after.

Meshes come out in the tokenizer's normalised cube ([-0.5, 0.5]^3) with z up, like the data.
:func:`export_meshes` writes one file; glTF/GLB is y-up by specification, so GLB files are
rotated z-up -> y-up on export, while OBJ/PLY/STL/OFF keep z up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
import trimesh

from omniar.errors import bad_value
from omniar.models.ar_model import AutoregressiveModel
from omniar.orders.raster import RasterOrder
from omniar.pipelines.base import AutoregressivePipeline, GenerationOutput
from omniar.pipelines.labels import label_ids
from omniar.pipelines.mesh_grammar import GRAMMAR_LEVELS, MeshGrammar
from omniar.pipelines.mesh_repair import MeshRepairReport, repair_mesh
from omniar.samplers.condition import Condition
from omniar.samplers.constraints import ConstraintProcessor
from omniar.samplers.registry import SEQUENCE_DECODINGS
from omniar.tokenizers.mesh import MeshDecodeReport, MeshTokenizer
from omniar.tokenizers.mesh_checks import mesh_validity

MAX_MESHES_PER_CALL = 4096
EXPORT_TYPES = ("glb", "obj", "ply", "stl", "off")
# glTF is y-up: (x, y, z) -> (x, z, -y), a -90 degree turn about x.
Z_UP_TO_Y_UP = trimesh.transformations.rotation_matrix(-np.pi / 2, (1, 0, 0))


@dataclass
class MeshSampleReport:
    """One generated sample: its class, length, and what each stage imposed, dropped or fixed.

    ``grammar``: ``overrides`` and ``masked_mass`` of the grammar mask (zeros without one).
    ``problems``: what decoding dropped. ``repairs``: `MeshRepairReport` counts (zeros without
    repair). ``raw_checks`` / ``checks``: `mesh_validity` before / after the repair.
    """

    class_name: str
    num_tokens: int
    num_faces: int
    num_vertices: int
    ended: bool
    problems: list[str]
    checks: dict[str, bool]
    raw_checks: dict[str, bool] = field(default_factory=dict)
    grammar: dict[str, float] = field(default_factory=dict)
    repairs: dict[str, int] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return bool(self.checks.get("valid", False))

    @property
    def valid_raw(self) -> bool:
        """Valid as decoded, before any repair."""
        return bool(self.raw_checks.get("valid", False))

    @property
    def repaired(self) -> bool:
        return any(self.repairs.values())


@dataclass
class MeshPipelineOutput(GenerationOutput):
    """Generated ``meshes`` (trimesh, z up), one ``reports`` entry each, and decoding ``stats``."""

    meshes: list[trimesh.Trimesh] = field(default_factory=list)
    reports: list[MeshSampleReport] = field(default_factory=list)


def summarize_reports(reports: Sequence[MeshSampleReport]) -> dict[str, float]:
    """Shares and means over samples: validity before and after repair, samples the decoder or
    the repair had to change, and the grammar's overrides."""
    def mean(values) -> float:
        return float(np.mean(list(values))) if reports else float("nan")

    return {
        "valid_fraction": mean(r.valid for r in reports),
        "valid_fraction_raw": mean(r.valid_raw for r in reports),
        "watertight_fraction_raw": mean(r.raw_checks.get("watertight", False) for r in reports),
        "repaired_fraction": mean(r.repaired for r in reports),
        "decode_problem_fraction": mean(bool(r.problems) for r in reports),
        "ended_fraction": mean(r.ended for r in reports),
        "mean_faces": mean(r.num_faces for r in reports),
        "grammar_overrides_mean": mean(r.grammar.get("overrides", 0) for r in reports),
        "grammar_masked_mass_mean": mean(r.grammar.get("masked_mass", 0.0) for r in reports),
    }


class MeshPipeline(AutoregressivePipeline):
    """Generate meshes of named classes with an `AutoregressiveModel` over `MeshTokenizer` tokens.

    Components: ``transformer`` (class-conditional, one label field, 1D RoPE) and ``tokenizer``.
    Config: ``class_names`` (label id -> name) and ``sampling_presets`` (settings the shipped
    model's figures were measured with; ``"default"`` is used unless ``preset=`` names another).

    Example::

        pipe = MeshPipeline.from_pretrained("assets/shapes-mesh")
        out = pipe(class_labels=["chair", "lamp"], num_meshes=2, generator=torch.manual_seed(0))
        export_meshes(out.meshes, "shapes.glb")
    """

    model_cpu_offload_seq = "transformer"

    def __init__(
        self,
        transformer: AutoregressiveModel,
        tokenizer: MeshTokenizer,
        class_names: Sequence[str] | None = None,
        sampling_presets: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        super().__init__()
        num_classes = int(transformer.config.class_sizes[0])
        names = [str(i) for i in range(num_classes)] if class_names is None else list(class_names)
        if transformer.config.condition != "class" or len(transformer.config.class_sizes) != 1:
            raise ValueError("transformer must be class-conditional with one label field "
                             "(condition='class', class_sizes=[num_classes])")
        if len(names) != num_classes:
            raise ValueError(f"class_names: expected {num_classes} names (the transformer's "
                             f"class_sizes), got {len(names)}")
        if transformer.config.vocab_size != tokenizer.vocab_size:
            raise ValueError(f"transformer vocab_size {transformer.config.vocab_size} does not "
                             f"match the tokenizer's {tokenizer.vocab_size}")
        self.register_modules(transformer=transformer, tokenizer=tokenizer)
        self.register_to_config(class_names=names, sampling_presets=dict(sampling_presets or {}))
        self._order: RasterOrder | None = None

    @property
    def class_names(self) -> list[str]:
        return list(self.config.class_names)

    @property
    def merge_distance(self) -> float:
        """How far apart (per axis) two vertices may be for the repair to merge them: one level."""
        return 1.001 * self.tokenizer.quantization_step

    @property
    def order(self) -> RasterOrder:
        """One token per step, up to the longest sequence the tokenizer's ``max_faces`` allows."""
        if self._order is None:
            self._order = RasterOrder(self.tokenizer.max_sequence_length)
        return self._order

    def class_ids(self, class_labels: str | int | Sequence[str | int]) -> list[int]:
        """Label ids for class names or ids; a ValueError lists the valid names."""
        return label_ids(class_labels, self.class_names, "class")

    def decode_sample(self, tokens: torch.Tensor, class_name: str, repair: bool = True,
                      grammar: dict[str, float] | None = None
                      ) -> tuple[trimesh.Trimesh, MeshSampleReport]:
        """Mesh and report for one generated row (tokens after EOS are padding).

        ``grammar`` holds the row's grammar-mask counts, copied into the report.
        """
        row = tokens.tolist()
        eos = self.tokenizer.eos_token_id
        length = row.index(eos) + 1 if eos in row else len(row)
        mesh, decoded = self.tokenizer.decode(row[:length], return_report=True)
        assert isinstance(decoded, MeshDecodeReport)
        raw_checks = mesh_validity(mesh)
        repairs = MeshRepairReport()
        if repair:
            mesh, repairs = repair_mesh(mesh, self.merge_distance)
        report = MeshSampleReport(
            class_name=class_name, num_tokens=length, num_faces=len(mesh.faces),
            num_vertices=len(mesh.vertices), ended=eos in row, problems=list(decoded.problems),
            checks=mesh_validity(mesh), raw_checks=raw_checks,
            grammar=dict(grammar or {"overrides": 0, "masked_mass": 0.0}),
            repairs=repairs.as_dict(),
        )
        return mesh, report

    def _grammar(self, grammar: str | None) -> tuple[str, ConstraintProcessor | None]:
        """The grammar level to use and the constraint that masks sampling (None for "none")."""
        if grammar is None:
            grammar = "manifold"
        if grammar not in GRAMMAR_LEVELS:
            raise bad_value("grammar", grammar, f"one of {list(GRAMMAR_LEVELS)} or None")
        if grammar == "none":
            return grammar, None
        return grammar, ConstraintProcessor(partial(MeshGrammar, self.tokenizer, level=grammar))

    def check_inputs(
        self,
        class_labels: str | int | Sequence[str | int],
        num_meshes: int = 1,
        decoding: str = "sequential",
        decoding_options: dict[str, Any] | None = None,
        guidance_scale: float | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: torch.Generator | list[torch.Generator] | None = None,
        batch_size: int = 16,
        preset: str | None = None,
        grammar: str | None = None,
        **ignored: Any,
    ) -> None:
        """Check the arguments of `__call__` (same names) without generating anything.

        Called at the top of `__call__` and by `omniar generate mesh` before any work; raises
        an OmniarError naming the first bad argument and what it accepts.
        """
        ids = self.class_ids(class_labels)
        self.check_count("num_meshes", num_meshes, MAX_MESHES_PER_CALL // len(ids))
        self.check_sampling_inputs(
            len(ids) * num_meshes, generator, decoding, decoding_options, batch_size, preset,
            decodings=SEQUENCE_DECODINGS, guidance_scale=guidance_scale, temperature=temperature,
            top_k=top_k, top_p=top_p,
        )
        self._grammar(grammar)

    @torch.no_grad()
    def __call__(
        self,
        class_labels: str | int | Sequence[str | int],
        num_meshes: int = 1,
        decoding: str = "sequential",
        decoding_options: dict[str, Any] | None = None,
        guidance_scale: float | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: torch.Generator | list[torch.Generator] | None = None,
        batch_size: int = 16,
        preset: str | None = None,
        callback_on_step_end: Callable | None = None,
        repair: bool = True,
        grammar: str | None = None,
    ) -> MeshPipelineOutput:
        """Generate ``num_meshes`` meshes per entry of ``class_labels`` (names or ids).

        Sampling arguments left at None come from the preset. ``batch_size`` is the micro-batch
        (rows decoded together; guidance doubles them). Meshes are ordered label by label.
        ``grammar``: "none", "syntax", "manifold" or "closed" (module docstring); None means
        "manifold", with every decoding (Jacobi masks each draft given the tokens before it).
        ``repair``: post-process each mesh.
        ``decoding_options``: the parallel decoder's options (e.g. jacobi's window and init).
        """
        self.check_inputs(class_labels, num_meshes, decoding, decoding_options, guidance_scale,
                          temperature, top_k, top_p, generator, batch_size, preset, grammar)
        ids = self.class_ids(class_labels)
        sampling, guidance, settings = self.resolve_sampling(
            preset, guidance_scale=guidance_scale, temperature=temperature, top_k=top_k,
            top_p=top_p,
        )
        grammar, constraint = self._grammar(grammar)
        labels = torch.tensor(ids, dtype=torch.long).repeat_interleave(num_meshes)
        condition = Condition(len(labels), class_labels=labels.to(self.transformer.device))
        tokenizer = self.tokenizer
        tokens, stats = self.generate_tokens(
            self.transformer, self.order, condition, sampling, guidance, generator=generator,
            decoding=decoding, decoding_options=decoding_options, batch_size=batch_size,
            callback_on_step_end=callback_on_step_end,
            stop_tokens=(tokenizer.eos_token_id, tokenizer.pad_token_id), constraint=constraint,
        )
        counts = [None] * len(labels)
        if constraint is not None:
            counts = [{"overrides": int(o), "masked_mass": float(m)}
                      for o, m in zip(constraint.overrides, constraint.masked_mass)]
        meshes, reports = [], []
        for row, label, count in zip(tokens.cpu(), labels.tolist(), counts):
            mesh, report = self.decode_sample(row, self.class_names[label], repair, count)
            meshes.append(mesh)
            reports.append(report)
        summary = {**stats.as_dict(), "decoding": decoding, "sampling": settings,
                   "grammar": grammar, "repair": repair, **summarize_reports(reports)}
        self.maybe_free_model_hooks()
        return MeshPipelineOutput(stats=summary, meshes=meshes, reports=reports)


def arrange_side_by_side(meshes: Sequence[trimesh.Trimesh], gap: float = 0.25) -> trimesh.Trimesh:
    """One mesh holding ``meshes`` in a row along x, ``gap`` apart, all standing on z = 0."""
    placed, cursor = [], 0.0
    for mesh in meshes:
        if len(mesh.faces) == 0:
            continue
        low, high = mesh.bounds
        moved = mesh.copy()
        moved.apply_translation((cursor - low[0], -(low[1] + high[1]) / 2, -low[2]))
        placed.append(moved)
        cursor += float(high[0] - low[0]) + gap
    if not placed:
        raise ValueError("meshes: none has faces, nothing to write")
    return trimesh.util.concatenate(placed)


def export_meshes(meshes: trimesh.Trimesh | Sequence[trimesh.Trimesh], path: str | Path,
                  gap: float = 0.25) -> Path:
    """Write one mesh, or several laid out side by side along x, to ``path``.

    The suffix picks the format (.glb, .obj, .ply, .stl, .off); GLB is rotated to glTF's y-up.
    Meshes without faces are skipped; a ValueError is raised when none has faces.
    """
    path = Path(path)
    kind = path.suffix.lstrip(".").lower()
    if kind not in EXPORT_TYPES:
        raise ValueError(f"{path}: cannot write {kind!r} files; expected one of {EXPORT_TYPES}")
    group = [meshes] if isinstance(meshes, trimesh.Trimesh) else list(meshes)
    combined = arrange_side_by_side(group, gap)
    if kind == "glb":
        combined.apply_transform(Z_UP_TO_Y_UP)
    path.parent.mkdir(parents=True, exist_ok=True)
    combined.export(path, file_type=kind)
    return path
