"""Class-conditional low-poly mesh generation: `MeshPipeline` and mesh-file export.

The transformer generates a mesh token sequence (``BOS ... EOS``, the tokenizer's adjacency or
coordinate serialisation) one token per step under a 1D raster order; the tokenizer decodes it.
Decoding never raises: what had to be dropped (tokens after a truncation, degenerate or duplicate
faces) is listed per sample in ``reports``. With ``repair=True`` (the default) each mesh is also
post-processed as in MeshGPT: vertices one quantisation level apart are merged, small holes
filled, winding made consistent and normals turned outwards (:func:`repair_mesh`).

Meshes come out in the tokenizer's normalised cube ([-0.5, 0.5]^3) with z up, like the data.
:func:`export_meshes` writes one file; glTF/GLB is y-up by specification, so GLB files are
rotated z-up -> y-up on export, while OBJ/PLY/STL/OFF keep z up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import trimesh
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from omniar.eval.mesh_metrics import mesh_validity
from omniar.models.ar_model import AutoregressiveModel
from omniar.orders.raster import RasterOrder
from omniar.pipelines.base import AutoregressivePipeline, GenerationOutput
from omniar.samplers.condition import Condition
from omniar.tokenizers.mesh import MeshDecodeReport, MeshTokenizer

MAX_MESHES_PER_CALL = 4096
EXPORT_TYPES = ("glb", "obj", "ply", "stl", "off")
# glTF is y-up: (x, y, z) -> (x, z, -y), a -90 degree turn about x.
Z_UP_TO_Y_UP = trimesh.transformations.rotation_matrix(-np.pi / 2, (1, 0, 0))


@dataclass
class MeshSampleReport:
    """One generated sample: its class, length, what decoding dropped and the validity checks."""

    class_name: str
    num_tokens: int
    num_faces: int
    num_vertices: int
    ended: bool
    problems: list[str]
    checks: dict[str, bool]

    @property
    def valid(self) -> bool:
        return bool(self.checks.get("valid", False))


@dataclass
class MeshPipelineOutput(GenerationOutput):
    """Generated ``meshes`` (trimesh, z up), one ``reports`` entry each, and decoding ``stats``."""

    meshes: list[trimesh.Trimesh] = field(default_factory=list)
    reports: list[MeshSampleReport] = field(default_factory=list)


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
        names = list(class_names) if class_names is not None else [str(i) for i in range(num_classes)]
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
        labels = [class_labels] if isinstance(class_labels, (str, int)) else list(class_labels)
        if not labels:
            raise ValueError(f"class_labels: give at least one of {self.class_names}")
        ids = []
        for label in labels:
            if isinstance(label, (int, np.integer)) and not isinstance(label, bool):
                if not 0 <= int(label) < len(self.class_names):
                    raise ValueError(f"class_labels: id {label} is out of range; valid ids are "
                                     f"0..{len(self.class_names) - 1} ({self.class_names})")
                ids.append(int(label))
            elif isinstance(label, str) and label in self.class_names:
                ids.append(self.class_names.index(label))
            else:
                raise ValueError(f"class_labels: unknown class {label!r}; expected one of "
                                 f"{self.class_names} or their ids")
        return ids

    def decode_sample(self, tokens: torch.Tensor, class_name: str, repair: bool = True
                      ) -> tuple[trimesh.Trimesh, MeshSampleReport]:
        """Mesh and report for one generated row (tokens after EOS are padding)."""
        row = tokens.tolist()
        eos = self.tokenizer.eos_token_id
        length = row.index(eos) + 1 if eos in row else len(row)
        mesh, decoded = self.tokenizer.decode(row[:length], return_report=True)
        assert isinstance(decoded, MeshDecodeReport)
        if repair:
            mesh = repair_mesh(mesh, self.merge_distance)
        report = MeshSampleReport(
            class_name=class_name, num_tokens=length, num_faces=len(mesh.faces),
            num_vertices=len(mesh.vertices), ended=eos in row, problems=list(decoded.problems),
            checks=mesh_validity(mesh),
        )
        return mesh, report

    @torch.no_grad()
    def __call__(
        self,
        class_labels: str | int | Sequence[str | int],
        num_meshes: int = 1,
        decoding: str = "sequential",
        guidance_scale: float | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: torch.Generator | None = None,
        batch_size: int = 16,
        preset: str | None = None,
        callback_on_step_end: Callable | None = None,
        repair: bool = True,
    ) -> MeshPipelineOutput:
        """Generate ``num_meshes`` meshes per entry of ``class_labels`` (names or ids).

        Sampling arguments left at None come from the preset. ``batch_size`` is the micro-batch
        (rows decoded together; guidance doubles them). Meshes are ordered label by label.
        """
        ids = self.class_ids(class_labels)
        self.check_count("num_meshes", num_meshes, MAX_MESHES_PER_CALL // len(ids))
        sampling, guidance, settings = self.resolve_sampling(
            preset, guidance_scale=guidance_scale, temperature=temperature, top_k=top_k,
            top_p=top_p,
        )
        labels = torch.tensor(ids, dtype=torch.long).repeat_interleave(num_meshes)
        condition = Condition(len(labels), class_labels=labels.to(self.transformer.device))
        tokenizer = self.tokenizer
        tokens, stats = self.generate_tokens(
            self.transformer, self.order, condition, sampling, guidance, generator=generator,
            decoding=decoding, batch_size=batch_size, callback_on_step_end=callback_on_step_end,
            stop_tokens=(tokenizer.eos_token_id, tokenizer.pad_token_id),
        )
        meshes, reports = [], []
        for row, label in zip(tokens.cpu(), labels.tolist()):
            mesh, report = self.decode_sample(row, self.class_names[label], repair)
            meshes.append(mesh)
            reports.append(report)
        summary = {
            **stats.as_dict(), "decoding": decoding, "sampling": settings,
            "valid_fraction": float(np.mean([r.valid for r in reports])),
            "ended_fraction": float(np.mean([r.ended for r in reports])),
            "mean_faces": float(np.mean([r.num_faces for r in reports])),
        }
        return MeshPipelineOutput(stats=summary, meshes=meshes, reports=reports)


def merge_close_vertices(mesh: trimesh.Trimesh, distance: float) -> trimesh.Trimesh:
    """Merge vertices within ``distance`` (per axis) of each other, as MeshGPT's post-processing.

    A generated strip that restarts one quantisation level away from an existing vertex leaves
    a crack; merging closes it. Each cluster keeps its first vertex, and faces that collapse or
    repeat are dropped. trimesh's own ``merge_vertices`` rounds to decimals instead of merging
    by distance, hence the KD-tree (scipy) and connected components here.
    """
    if distance <= 0 or len(mesh.vertices) < 2 or len(mesh.faces) == 0:
        return mesh
    pairs = cKDTree(mesh.vertices).query_pairs(distance, p=np.inf, output_type="ndarray")
    if len(pairs) == 0:
        return mesh
    count = len(mesh.vertices)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(count, count))
    _, cluster = connected_components(graph, directed=False)
    first = np.full(cluster.max() + 1, count)
    np.minimum.at(first, cluster, np.arange(count))
    merged = trimesh.Trimesh(mesh.vertices[first], cluster[mesh.faces], process=False)
    merged.update_faces(merged.nondegenerate_faces())
    merged.update_faces(merged.unique_faces())
    merged.remove_unreferenced_vertices()
    return merged


def repair_mesh(mesh: trimesh.Trimesh, merge_distance: float = 0.0) -> trimesh.Trimesh:
    """A repaired copy: close vertices merged, small holes filled, winding and normals fixed.

    The tokenizer has already merged identical vertices and dropped degenerate and duplicate
    faces. Here vertices within ``merge_distance`` are merged (:func:`merge_close_vertices`),
    triangular and quad holes are filled, face winding is made consistent and, for closed
    meshes, every part's normals point outwards (all with ``trimesh.repair``).
    """
    mesh = merge_close_vertices(mesh.copy(), merge_distance)
    if len(mesh.faces) == 0:
        return mesh
    trimesh.repair.fill_holes(mesh)
    if mesh.is_watertight:
        trimesh.repair.fix_normals(mesh, multibody=True)
    else:
        trimesh.repair.fix_winding(mesh)
    return mesh


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
