"""Mesh metrics: tokenizer compression and round-trip error, validity, COV / MMD / 1-NNA.

Distances between shapes are Chamfer distances between points sampled uniformly on the
surfaces (``trimesh.sample.sample_surface``) after normalising each mesh to the unit cube
(bounding-box centre at the origin, longest side 1), as the tokenizer does:
``CD(A, B) = mean_a min_b |a - b|^2 + mean_b min_a |a - b|^2`` (squared, as in PointFlow and
the mesh-generation papers that report COV / MMD / 1-NNA). Nearest neighbours come from
``scipy.spatial.cKDTree``.

Set metrics, for generated set G and reference set R:

* COV: share of R that is the nearest reference of at least one member of G (higher is better).
* MMD: mean over R of the distance to its nearest member of G (lower is better).
* 1-NNA: accuracy of the leave-one-out 1-nearest-neighbour classifier that tells G from R over
  G + R. 0.5 is ideal, 1.0 means the sets are told apart perfectly. A set that copies R gets
  0.0, since every item's nearest neighbour is its twin in the other set.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import trimesh
from scipy.spatial import cKDTree

from omniar.tokenizers.mesh import MeshTokenizer, normalize_vertices
from omniar.tokenizers.mesh_checks import mesh_validity

__all__ = [
    "chamfer_distance",
    "coverage_mmd_1nna",
    "evaluate_meshes",
    "mesh_validity",
    "pairwise_chamfer",
    "round_trip_error",
    "sample_points",
    "tokens_per_face",
]


def sample_points(mesh: trimesh.Trimesh, num_points: int = 1024, seed: int = 0) -> np.ndarray:
    """``num_points`` surface points of ``mesh`` normalised to the unit cube, reproducibly."""
    if len(mesh.faces) == 0 or mesh.area <= 0:
        raise ValueError(f"mesh: cannot sample points from a mesh with no surface ({mesh})")
    normalized, _, _ = normalize_vertices(mesh.vertices)
    unit = trimesh.Trimesh(normalized, mesh.faces, process=False)
    points, _ = trimesh.sample.sample_surface(unit, num_points, seed=seed)
    return np.asarray(points)


def pairwise_chamfer(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> np.ndarray:
    """Matrix of Chamfer distances between every point set of ``a`` and every one of ``b``."""
    trees_a = [cKDTree(points) for points in a]
    trees_b = [cKDTree(points) for points in b]
    out = np.empty((len(a), len(b)))
    for i, (points_a, tree_a) in enumerate(zip(a, trees_a)):
        for j, (points_b, tree_b) in enumerate(zip(b, trees_b)):
            a_to_b = tree_b.query(points_a)[0]
            b_to_a = tree_a.query(points_b)[0]
            out[i, j] = np.mean(a_to_b**2) + np.mean(b_to_a**2)
    return out


def chamfer_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Symmetric squared Chamfer distance between point sets of shape (N, 3) and (M, 3)."""
    return float(pairwise_chamfer([a], [b])[0, 0])


def coverage_mmd_1nna(
    generated: Sequence[np.ndarray], reference: Sequence[np.ndarray]
) -> dict[str, float]:
    """COV, MMD and 1-NNA (module docstring) from sampled point sets."""
    if len(generated) < 1 or len(reference) < 1 or len(generated) + len(reference) < 3:
        raise ValueError("generated/reference: need at least one of each and three in total")
    d_gr = pairwise_chamfer(generated, reference)
    d_gg = pairwise_chamfer(generated, generated)
    d_rr = pairwise_chamfer(reference, reference)
    cov = len(np.unique(d_gr.argmin(axis=1))) / len(reference)
    mmd = float(d_gr.min(axis=0).mean())
    num_g = len(generated)
    full = np.block([[d_gg, d_gr], [d_gr.T, d_rr]])
    np.fill_diagonal(full, np.inf)
    is_generated = np.arange(len(full)) < num_g
    predicted = is_generated[full.argmin(axis=1)]
    nna = float((predicted == is_generated).mean())
    return {"cov": float(cov), "mmd": mmd, "1nna": nna}


def tokens_per_face(
    meshes: Sequence[trimesh.Trimesh], quantization_bits: int = 7
) -> dict[str, float]:
    """Mean tokens per face (BOS/EOS included) of both serialisations over ``meshes``.

    Faces are counted after the tokenizer's clean-up. ``ratio`` is adjacency / coordinates;
    ``dropped_faces`` / ``dropped_fraction``: faces the clean-up removed (collapsed by
    quantisation or duplicated), out of ``input_faces``.
    """
    coordinates = MeshTokenizer(quantization_bits, "coordinates", max_faces=10**9)
    adjacency = MeshTokenizer(quantization_bits, "adjacency", max_faces=10**9)
    faces = tokens_c = tokens_a = dropped = given = 0
    for index, mesh in enumerate(meshes):
        name = f"meshes[{index}]"
        report = coordinates.encode_report(mesh, name)
        faces += report.kept_faces
        dropped += report.dropped_faces
        given += report.input_faces
        tokens_c += len(coordinates.encode(mesh, name, dropped_faces="ignore"))
        tokens_a += len(adjacency.encode(mesh, name, dropped_faces="ignore"))
    if faces == 0:
        raise ValueError("meshes: need at least one mesh")
    return {"coordinates": tokens_c / faces, "adjacency": tokens_a / faces,
            "ratio": tokens_a / tokens_c, "input_faces": given, "dropped_faces": dropped,
            "dropped_fraction": dropped / given}


def round_trip_error(
    meshes: Sequence[trimesh.Trimesh],
    tokenizer: MeshTokenizer,
    num_points: int = 2048,
    seed: int = 0,
) -> dict[str, float]:
    """Encode then decode each mesh and measure how far the surface moved, in the normalised cube.

    ``max_vertex_error``: the largest per-axis distance from a vertex of the original to the
    nearest decoded vertex; at most ``half_step`` (half a quantisation step) unless the clean-up
    dropped faces. ``chamfer_mean`` / ``chamfer_max``: Chamfer distance between points sampled
    on the original surface and the same samples (same faces, same barycentric coordinates)
    carried onto the decoded vertices. Pairing the samples removes the sampling noise that two
    independent samplings would add, so the figure is the quantisation error alone.
    """
    if not meshes:
        raise ValueError("meshes: need at least one mesh")
    chamfers, vertex_errors = [], []
    for index, mesh in enumerate(meshes):
        tokens = tokenizer.encode(mesh, name=f"meshes[{index}]", dropped_faces="ignore")
        decoded = tokenizer.decode(tokens)
        normalized, _, _ = normalize_vertices(mesh.vertices)
        distance, nearest = cKDTree(decoded.vertices).query(normalized, p=np.inf)
        vertex_errors.append(float(distance[np.unique(np.asarray(mesh.faces))].max()))
        unit = trimesh.Trimesh(normalized, mesh.faces, process=False)
        points, face_index, weights = trimesh.sample.sample_surface(
            unit, num_points, seed=seed + index, return_barycentric=True
        )
        corners = decoded.vertices[nearest[np.asarray(mesh.faces)[face_index]]]
        moved = np.einsum("nk,nkd->nd", weights, corners)
        chamfers.append(chamfer_distance(np.asarray(points), moved))
    return {"chamfer_mean": float(np.mean(chamfers)), "chamfer_max": float(np.max(chamfers)),
            "max_vertex_error": float(np.max(vertex_errors)),
            "half_step": tokenizer.quantization_step / 2}


def evaluate_meshes(
    generated: Sequence[trimesh.Trimesh],
    reference: Sequence[trimesh.Trimesh],
    num_points: int = 1024,
    seed: int = 0,
    expect_watertight: bool | Sequence[bool] = True,
) -> dict[str, float]:
    """Validity shares of ``generated`` and COV / MMD / 1-NNA against ``reference``.

    ``expect_watertight`` is one flag or one per generated mesh (by its class). Generated
    meshes with no surface count as invalid and are left out of the set metrics
    (``num_scored`` says how many were scored).
    """
    if len(generated) == 0 or len(reference) == 0:
        raise ValueError("generated/reference: both need at least one mesh")
    flags = ([bool(expect_watertight)] * len(generated)
             if isinstance(expect_watertight, bool) else [bool(f) for f in expect_watertight])
    if len(flags) != len(generated):
        raise ValueError(f"expect_watertight: expected {len(generated)} flags, got {len(flags)}")
    checks = [mesh_validity(mesh, flag) for mesh, flag in zip(generated, flags)]
    result = {f"{key}_fraction": float(np.mean([c[key] for c in checks]))
              for key in ("valid", "nondegenerate", "winding_consistent", "watertight")}
    scored = [mesh for mesh in generated if len(mesh.faces) and mesh.area > 0]
    gen_points = [sample_points(m, num_points, seed + i) for i, m in enumerate(scored)]
    ref_points = [sample_points(m, num_points, seed + i) for i, m in enumerate(reference)]
    result.update({"num_generated": len(generated), "num_reference": len(reference),
                   "num_scored": len(scored)})
    if gen_points and len(gen_points) + len(ref_points) >= 3:
        result.update(coverage_mmd_1nna(gen_points, ref_points))
    else:
        result.update({"cov": 0.0, "mmd": float("nan"), "1nna": float("nan")})
    return result
