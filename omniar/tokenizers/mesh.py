"""Mesh tokenizer: triangle meshes <-> discrete token sequences (PolyGen / MeshXL / MeshAnything-v2).

Canonical form (what both serialisations encode). Vertices are normalised (bounding-box centre
to the origin, longest side scaled to 1, so the mesh lies in the cube [-0.5, 0.5]^3), quantised
to ``2**quantization_bits`` levels per axis (level ``q`` stands for ``q / (levels - 1) - 0.5``,
so the largest rounding error is half a step, ``0.5 / (levels - 1)``), duplicate vertices are
merged, degenerate faces (a repeated vertex, or zero area after quantisation) and duplicate
faces (the same three vertices, whatever the winding) are dropped, unreferenced vertices are
removed, vertices are sorted by (z, y, x), each face is rotated so its lowest vertex index
comes first (a cyclic shift, so the winding/orientation is kept) and faces are sorted
lexicographically. z is the vertical axis.

Vocabulary (``L = 2**quantization_bits``), identical for both serialisations so one model
vocabulary fits both:

====================  ==========================================================
ids ``0 .. L-1``      coordinate values (a vertex is three tokens, ordered z, y, x)
``L``                 PAD
``L + 1``             BOS
``L + 2``             EOS
``L + 3``             NEW_STRIP (adjacency only): the next 9 tokens are a whole face
``L + 4``             PIVOT (adjacency only): next face shares edge (oldest, newest)
``L + 5``             BACKTRACK (adjacency only): next face shares edge (oldest, middle)
====================  ==========================================================

Serialisations:

* ``"coordinates"`` (MeshXL): ``BOS, (z y x) * 3 per face, ..., EOS``; 9 tokens per face.
* ``"adjacency"`` (MeshAnything-v2 style triangle strips, see
  :mod:`omniar.tokenizers.mesh_adjacency`): a neighbouring face that shares an edge with the
  previous face costs only its new vertex (3 tokens, 4 with a PIVOT/BACKTRACK token).

Quantisation can merge vertices of small or thin features and so collapse faces: what
:meth:`MeshTokenizer.canonicalize` dropped is counted in a :class:`MeshEncodeReport`, and
``dropped_faces=`` says what to do about it: ``"warn"`` (the default, a
:class:`DroppedFacesWarning`), ``"error"`` (a :class:`MeshError`) or ``"ignore"``.

Decoding never raises on a bad sequence: invalid tokens, truncated faces, degenerate or
duplicate faces are dropped and listed in a :class:`MeshDecodeReport`. Decoded meshes live in
the normalised space (the cube [-0.5, 0.5]^3); the tokenizer does not store the original
position or size.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import trimesh
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config

from omniar.errors import bad_value
from omniar.tokenizers.mesh_adjacency import decode_adjacency, encode_adjacency

SERIALIZATIONS = ("coordinates", "adjacency")
MESH_FILE_TYPES = ("obj", "ply", "stl", "glb", "gltf", "off")
DROPPED_FACES_POLICIES = ("warn", "error", "ignore")

Coordinate = tuple[int, int, int]
Triangle = tuple[Coordinate, Coordinate, Coordinate]


class MeshError(ValueError):
    """A mesh or mesh file that cannot be tokenised; the message names it and the problem."""


class DroppedFacesWarning(UserWarning):
    """Canonicalisation dropped faces of a mesh (collapsed by quantisation, or duplicates)."""


@dataclass(frozen=True)
class MeshEncodeReport:
    """What :meth:`MeshTokenizer.canonicalize` dropped from one mesh.

    ``degenerate_faces``: faces whose vertices quantisation merged or made collinear;
    ``duplicate_faces``: faces with the same three vertices as another (whatever the winding).
    """

    input_faces: int
    kept_faces: int
    degenerate_faces: int
    duplicate_faces: int

    @property
    def dropped_faces(self) -> int:
        return self.degenerate_faces + self.duplicate_faces

    @property
    def dropped_fraction(self) -> float:
        return self.dropped_faces / self.input_faces if self.input_faces else 0.0

    def describe(self, name: str | None, bits: int) -> str:
        """One sentence naming the mesh and what was dropped."""
        return (
            f"{_label(name)}: {bits}-bit quantisation kept {self.kept_faces} of "
            f"{self.input_faces} faces, dropping {self.dropped_faces} "
            f"({100 * self.dropped_fraction:.1f}%: {self.degenerate_faces} collapsed, "
            f"{self.duplicate_faces} duplicate)"
        )


@dataclass(frozen=True)
class MeshVocabulary:
    """Token ids of the mesh vocabulary (layout in the module docstring)."""

    num_levels: int

    @property
    def pad(self) -> int:
        return self.num_levels

    @property
    def bos(self) -> int:
        return self.num_levels + 1

    @property
    def eos(self) -> int:
        return self.num_levels + 2

    @property
    def new_strip(self) -> int:
        return self.num_levels + 3

    @property
    def pivot(self) -> int:
        return self.num_levels + 4

    @property
    def backtrack(self) -> int:
        return self.num_levels + 5

    @property
    def size(self) -> int:
        return self.num_levels + 6

    def is_coordinate(self, token: int) -> bool:
        return 0 <= token < self.num_levels


@dataclass
class MeshDecodeReport:
    """What :meth:`MeshTokenizer.decode` had to repair. ``problems`` is empty for a clean sequence."""

    num_faces: int = 0
    num_vertices: int = 0
    degenerate_faces: int = 0
    duplicate_faces: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def repaired(self) -> bool:
        return bool(self.problems)


def _label(name: str | None) -> str:
    return f"mesh {name!r}" if name else "mesh"


def validate_mesh(mesh: object, name: str | None = None) -> trimesh.Trimesh:
    """Check that ``mesh`` is a non-empty, finite triangle mesh with valid face indices.

    Raises :class:`MeshError` (a ``ValueError``) naming ``name`` and the problem.
    """
    label = _label(name)
    if not isinstance(mesh, trimesh.Trimesh):
        raise MeshError(f"{label}: expected a trimesh.Trimesh, got {type(mesh).__name__}")
    vertices = np.asarray(mesh.vertices)
    faces = np.asarray(mesh.faces)
    if len(faces) == 0:
        if len(vertices):
            raise point_cloud_error(label, len(vertices))
        raise MeshError(f"{label}: is empty (no vertices and no faces)")
    if vertices.ndim != 2 or vertices.shape[1] != 3:
        raise MeshError(f"{label}: vertices must have shape (N, 3), got {vertices.shape}")
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise MeshError(f"{label}: faces must be triangles of shape (F, 3), got {faces.shape}")
    if not np.isfinite(vertices).all():
        bad = int((~np.isfinite(vertices)).any(axis=1).sum())
        raise MeshError(f"{label}: {bad} vertices have NaN or infinite coordinates")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise MeshError(
            f"{label}: face indices must lie in [0, {len(vertices) - 1}], "
            f"found values from {int(faces.min())} to {int(faces.max())}"
        )
    return mesh


def point_cloud_error(label: str, num_vertices: int) -> MeshError:
    """The error for vertices without faces (to be raised)."""
    return MeshError(
        f"{label} has {num_vertices} vertices and no faces: a point cloud; omniar meshes need faces"
    )


def normalize_vertices(
    vertices: np.ndarray, name: str | None = None
) -> tuple[np.ndarray, np.ndarray, float]:
    """Centre the bounding box on the origin and scale its longest side to 1.

    Returns ``(normalised, center, scale)`` with ``normalised = (vertices - center) / scale``.
    Raises :class:`MeshError` (naming ``name``) when all vertices coincide.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    center = (low + high) / 2
    scale = float((high - low).max())
    if scale <= 0:
        raise MeshError(f"{_label(name)}: all vertices are at the same point (zero extent)")
    return (vertices - center) / scale, center, scale


def _cross_is_zero(points: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Exact zero-area test on integer coordinates (no float tolerance needed)."""
    a, b, c = (points[faces[:, i]] for i in range(3))
    return ~np.cross(b - a, c - a).any(axis=1)


def canonicalize_faces(
    quantized: np.ndarray, faces: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Merge, filter and sort an already quantised mesh (see the module docstring).

    ``quantized`` is (V, 3) integer (z, y, x) levels, ``faces`` (F, 3) indices into it.
    Returns ``(vertices, faces, num_degenerate, num_duplicate)``: the canonical mesh (either
    array may be empty) and how many faces were dropped for each reason.
    """
    # np.unique sorts rows lexicographically, i.e. by (z, y, x): merging and sorting in one go.
    vertices, inverse = np.unique(quantized, axis=0, return_inverse=True)
    faces = inverse.reshape(-1)[faces]
    repeated = (faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2]) | (
        faces[:, 0] == faces[:, 2]
    )
    faces = faces[~repeated]
    faces = faces[~_cross_is_zero(vertices, faces)]
    num_degenerate = int(len(repeated) - len(faces))
    if len(faces) == 0:
        return vertices[:0], faces, num_degenerate, 0
    shift = faces.argmin(axis=1)
    faces = np.take_along_axis(faces, (shift[:, None] + np.arange(3)) % 3, axis=1)
    faces = faces[np.lexsort(faces.T[::-1])]
    # The lexicographically first winding of each vertex set wins, so the choice is deterministic.
    _, first = np.unique(np.sort(faces, axis=1), axis=0, return_index=True)
    num_duplicate = len(faces) - len(first)
    faces = faces[np.sort(first)]
    used, faces = np.unique(faces, return_inverse=True)
    return vertices[used], faces.reshape(-1, 3), num_degenerate, num_duplicate


class MeshTokenizer(ModelMixin, ConfigMixin):
    """Deterministic mesh tokenizer (no trained weights).

    Args:
        quantization_bits: bits per coordinate; ``2**bits`` levels per axis.
        serialization: ``"coordinates"`` (9 tokens per face) or ``"adjacency"`` (strips).
        max_faces: meshes with more faces after canonicalisation are rejected.

    It is a diffusers ``ModelMixin`` so pipelines can save and load it with
    ``save_pretrained``/``from_pretrained``. It has no parameters; the coordinate value of each
    level is kept as the persistent buffer ``levels`` because diffusers' loader requires a
    weights file (it also gives models a ready table to embed coordinates by value).
    """

    @register_to_config
    def __init__(
        self,
        quantization_bits: int = 7,
        serialization: str = "coordinates",
        max_faces: int = 800,
    ) -> None:
        super().__init__()
        if not 2 <= int(quantization_bits) <= 12:
            raise ValueError(f"quantization_bits must be in [2, 12], got {quantization_bits}")
        if serialization not in SERIALIZATIONS:
            raise ValueError(f"serialization must be one of {SERIALIZATIONS}, got {serialization!r}")
        if int(max_faces) < 1:
            raise ValueError(f"max_faces must be >= 1, got {max_faces}")
        self.vocab = MeshVocabulary(2 ** int(quantization_bits))
        levels = torch.arange(self.vocab.num_levels, dtype=torch.float32)
        self.register_buffer("levels", levels / (self.vocab.num_levels - 1) - 0.5)

    @property
    def num_levels(self) -> int:
        return self.vocab.num_levels

    @property
    def quantization_step(self) -> float:
        """Distance between neighbouring levels in the normalised cube."""
        return 1.0 / (self.vocab.num_levels - 1)

    @property
    def vocab_size(self) -> int:
        return self.vocab.size

    @property
    def pad_token_id(self) -> int:
        return self.vocab.pad

    @property
    def bos_token_id(self) -> int:
        return self.vocab.bos

    @property
    def eos_token_id(self) -> int:
        return self.vocab.eos

    @property
    def max_sequence_length(self) -> int:
        """Longest possible encoding of a mesh with ``max_faces`` faces (BOS/EOS included)."""
        per_face = 9 if self.config.serialization == "coordinates" else 10
        return per_face * self.config.max_faces + 2

    def quantize(self, normalized: np.ndarray) -> np.ndarray:
        """Map normalised coordinates in [-0.5, 0.5] to integer levels (same column order).

        Rounds to the nearest level; exact ties go towards the middle level, so a range that is
        symmetric about 0 stays symmetric and re-encoding a decoded mesh gives the same tokens.
        """
        middle = (self.num_levels - 1) / 2
        scaled = np.asarray(normalized, dtype=np.float64) * (self.num_levels - 1) + middle
        levels = np.where(scaled >= middle, np.ceil(scaled - 0.5), np.floor(scaled + 0.5))
        return np.clip(levels, 0, self.num_levels - 1).astype(np.int64)

    def dequantize(self, levels: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`quantize` up to half a quantisation step."""
        return np.asarray(levels, dtype=np.float64) / (self.num_levels - 1) - 0.5

    def canonicalize(
        self, mesh: trimesh.Trimesh, name: str | None = None, dropped_faces: str = "warn"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Validate, normalise, quantise and sort ``mesh``.

        Returns ``(vertices, faces)``: (V, 3) integer levels ordered (z, y, x) and (F, 3)
        indices, exactly what both serialisations encode. Raises :class:`MeshError`. When faces
        are dropped, ``dropped_faces`` decides: "warn" (a :class:`DroppedFacesWarning`), "error"
        (a :class:`MeshError`) or "ignore"; :meth:`encode_report` counts them.
        """
        if dropped_faces not in DROPPED_FACES_POLICIES:
            raise bad_value("dropped_faces", dropped_faces, f"one of {DROPPED_FACES_POLICIES}")
        vertices, faces, report = self._canonical(mesh, name)
        if report.dropped_faces:
            message = report.describe(name, self.config.quantization_bits)
            if dropped_faces == "error":
                raise MeshError(f"{message}; use more quantization_bits or pass "
                                "dropped_faces='warn' or 'ignore' to accept it")
            if dropped_faces == "warn":
                warnings.warn(message, DroppedFacesWarning, stacklevel=3)
        return vertices, faces

    def encode_report(self, mesh: trimesh.Trimesh, name: str | None = None) -> MeshEncodeReport:
        """How many faces of ``mesh`` canonicalisation keeps and drops (and why); never warns."""
        return self._canonical(mesh, name)[2]

    def _canonical(
        self, mesh: trimesh.Trimesh, name: str | None
    ) -> tuple[np.ndarray, np.ndarray, MeshEncodeReport]:
        validate_mesh(mesh, name)
        normalized, _, _ = normalize_vertices(mesh.vertices, name)
        quantized = self.quantize(normalized[:, ::-1])
        faces = np.asarray(mesh.faces, dtype=np.int64)
        vertices, kept, degenerate, duplicate = canonicalize_faces(quantized, faces)
        report = MeshEncodeReport(len(faces), len(kept), degenerate, duplicate)
        if len(kept) == 0:
            raise MeshError(f"{_label(name)}: every face is degenerate after quantisation")
        if len(kept) > self.config.max_faces:
            raise MeshError(
                f"{_label(name)}: has {len(kept)} faces after quantisation, more than "
                f"max_faces={self.config.max_faces}"
            )
        return vertices, kept, report

    def canonical_mesh(
        self, mesh: trimesh.Trimesh, name: str | None = None, dropped_faces: str = "warn"
    ) -> trimesh.Trimesh:
        """The mesh as the tokenizer sees it (normalised, quantised, cleaned), in x, y, z."""
        vertices, faces = self.canonicalize(mesh, name, dropped_faces)
        return trimesh.Trimesh(self.dequantize(vertices[:, ::-1]), faces, process=False)

    def encode(
        self, mesh: trimesh.Trimesh, name: str | None = None, dropped_faces: str = "warn"
    ) -> list[int]:
        """Token ids of ``mesh`` in the configured serialisation (BOS ... EOS); ``dropped_faces``
        as in :meth:`canonicalize`."""
        vertices, faces = self.canonicalize(mesh, name, dropped_faces)
        if self.config.serialization == "adjacency":
            return encode_adjacency(vertices, faces, self.vocab)
        body = vertices[faces].reshape(-1).tolist()
        return [self.vocab.bos, *body, self.vocab.eos]

    def sequence_length(
        self, mesh: trimesh.Trimesh, name: str | None = None, dropped_faces: str = "warn"
    ) -> int:
        """Number of tokens :meth:`encode` produces for ``mesh``."""
        return len(self.encode(mesh, name, dropped_faces))

    def decode(
        self, tokens: Sequence[int] | np.ndarray | torch.Tensor, return_report: bool = False
    ) -> trimesh.Trimesh | tuple[trimesh.Trimesh, MeshDecodeReport]:
        """Mesh (in the normalised cube, x, y, z) from token ids; never raises on bad tokens.

        Anything invalid is dropped and described in the report (``return_report=True``).
        A sequence with nothing decodable gives an empty mesh.
        """
        if isinstance(tokens, torch.Tensor):
            tokens = tokens.detach().cpu().reshape(-1).tolist()
        tokens = [int(t) for t in np.asarray(tokens).reshape(-1)]
        report = MeshDecodeReport()
        if self.config.serialization == "adjacency":
            triangles = decode_adjacency(tokens, self.vocab, report.problems)
        else:
            triangles = self._decode_coordinates(tokens, report.problems)
        mesh = self._build_mesh(triangles, report)
        return (mesh, report) if return_report else mesh

    def _decode_coordinates(self, tokens: list[int], problems: list[str]) -> list[Triangle]:
        vocab = self.vocab
        triangles: list[Triangle] = []
        buffer: list[int] = []
        start = 1 if tokens[:1] == [vocab.bos] else 0
        if start == 0:
            problems.append("sequence does not start with BOS")
        ended = False
        for position, token in enumerate(tokens[start:], start):
            if vocab.is_coordinate(token):
                buffer.append(token)
                if len(buffer) == 9:
                    b = buffer
                    triangles.append(((b[0], b[1], b[2]), (b[3], b[4], b[5]), (b[6], b[7], b[8])))
                    buffer = []
                continue
            if token == vocab.eos:
                ended = True
                break
            if buffer:
                problems.append(f"face cut short by token {token} at position {position}")
                buffer = []
            elif token != vocab.pad:
                problems.append(f"unexpected token {token} at position {position}")
        if buffer:
            problems.append(f"incomplete last face ({len(buffer)} of 9 tokens) dropped")
        if not ended:
            problems.append("no EOS (sequence truncated?)")
        return triangles

    def _build_mesh(self, triangles: list[Triangle], report: MeshDecodeReport) -> trimesh.Trimesh:
        """Merge identical vertices, drop degenerate/duplicate faces, dequantise."""
        if not triangles:
            report.problems.append("no faces could be decoded")
            return trimesh.Trimesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64))
        points = np.asarray(triangles, dtype=np.int64).reshape(-1, 3)
        faces = np.arange(len(points)).reshape(-1, 3)
        vertices, faces, report.degenerate_faces, report.duplicate_faces = canonicalize_faces(
            points, faces
        )
        if report.degenerate_faces:
            report.problems.append(f"{report.degenerate_faces} degenerate faces dropped")
        if report.duplicate_faces:
            report.problems.append(f"{report.duplicate_faces} duplicate faces dropped")
        report.num_faces, report.num_vertices = len(faces), len(vertices)
        if len(faces) == 0:
            report.problems.append("no faces could be decoded")
        return trimesh.Trimesh(self.dequantize(vertices[:, ::-1]), faces, process=False)


def load_mesh(path: str | Path, file_type: str | None = None) -> trimesh.Trimesh:
    """Read a triangle mesh (OBJ, PLY, STL, GLB/glTF, OFF) with trimesh; polygons are triangulated.

    Scenes are flattened into one mesh. Raises :class:`MeshError` naming the file when it is
    missing, unparseable, empty, a point cloud, or holds invalid vertices/faces.
    """
    path = Path(path)
    if not path.is_file():
        raise MeshError(f"{path}: no such mesh file")
    kind = (file_type or path.suffix.lstrip(".")).lower()
    if kind not in MESH_FILE_TYPES:
        raise MeshError(f"{path}: unsupported mesh file type {kind!r}, expected {MESH_FILE_TYPES}")
    try:
        mesh = trimesh.load(path, file_type=kind, force="mesh", process=False)
    except Exception as exc:  # trimesh raises many exception types for corrupt files
        raise MeshError(f"{path}: trimesh could not parse it as {kind} ({exc})") from exc
    if len(mesh.faces) == 0:
        # force="mesh" turns a point cloud into an empty mesh: count what the file holds.
        points = trimesh.load(path, file_type=kind, process=False)
        count = len(getattr(points, "vertices", ()))
        if count:
            raise point_cloud_error(str(path), count)
    return validate_mesh(mesh, name=str(path))


def save_mesh(mesh: trimesh.Trimesh, path: str | Path) -> Path:
    """Write ``mesh`` to ``path``; the suffix (.obj, .ply, .stl, .glb, .off) picks the format."""
    path = Path(path)
    kind = path.suffix.lstrip(".").lower()
    if kind not in MESH_FILE_TYPES or kind == "gltf":
        raise ValueError(f"{path}: cannot write {kind!r}, expected one of obj, ply, stl, glb, off")
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise MeshError(f"{path}: expected a trimesh.Trimesh with faces to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    mesh.export(path, file_type=kind)
    return path
