"""Mesh metrics (Chamfer, validity, COV / MMD / 1-NNA, tokenizer figures) and PNG previews."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from omniar.data.shapes import generate_shapes
from omniar.eval.mesh_metrics import (
    chamfer_distance,
    coverage_mmd_1nna,
    evaluate_meshes,
    mesh_validity,
    round_trip_error,
    sample_points,
    tokens_per_face,
)
from omniar.tokenizers.mesh import MeshTokenizer


def test_chamfer_distance():
    points = np.random.default_rng(0).random((200, 3))
    assert chamfer_distance(points, points) == 0.0
    # Each point's shifted twin is 0.1 away, so each direction contributes at most 0.1^2.
    assert 0.005 < chamfer_distance(points, points + [0.1, 0, 0]) <= 0.02 + 1e-12
    a, b = np.zeros((1, 3)), np.array([[0.0, 0, 2]])
    assert chamfer_distance(a, b) == pytest.approx(8.0)  # 4 each way, squared distances


def test_sample_points_is_normalised_and_reproducible():
    box = trimesh.creation.box(extents=(10, 2, 4))
    box.apply_translation([5, 5, 5])
    points = sample_points(box, 500, seed=3)
    assert points.shape == (500, 3)
    assert np.allclose(points.min(axis=0)[0], -0.5) and np.allclose(points.max(axis=0)[0], 0.5)
    np.testing.assert_array_equal(points, sample_points(box, 500, seed=3))
    with pytest.raises(ValueError, match="no surface"):
        sample_points(trimesh.Trimesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=int)))


def test_mesh_validity():
    cube = trimesh.creation.box()
    assert mesh_validity(cube) == {"has_faces": True, "nondegenerate": True,
                                   "winding_consistent": True, "watertight": True, "valid": True}
    open_box = trimesh.Trimesh(cube.vertices, cube.faces[:-1], process=False)
    assert not mesh_validity(open_box)["valid"] and not mesh_validity(open_box)["watertight"]
    assert mesh_validity(open_box, expect_watertight=False)["valid"]
    flipped = cube.faces.copy()
    flipped[0] = flipped[0, ::-1]
    inconsistent = trimesh.Trimesh(cube.vertices, flipped, process=False)
    assert not mesh_validity(inconsistent, expect_watertight=False)["winding_consistent"]
    degenerate = trimesh.Trimesh(cube.vertices, np.vstack([cube.faces, [[0, 0, 1]]]),
                                 process=False)
    assert not mesh_validity(degenerate, expect_watertight=False)["nondegenerate"]
    empty = trimesh.Trimesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=int))
    assert not mesh_validity(empty, expect_watertight=False)["valid"]


def test_tokens_per_face():
    figures = tokens_per_face([trimesh.creation.box(), trimesh.creation.icosphere(1)])
    assert figures["coordinates"] == pytest.approx((9 * 92 + 4) / 92)
    assert figures["adjacency"] < 4.0 and figures["ratio"] < 0.45


@pytest.mark.parametrize("serialization", ["coordinates", "adjacency"])
def test_round_trip_error_is_within_half_a_step(serialization):
    meshes = [mesh for mesh, _ in generate_shapes(1, "train")]
    tokenizer = MeshTokenizer(serialization=serialization)
    result = round_trip_error(meshes, tokenizer, num_points=512)
    half = result["half_step"]
    assert half == pytest.approx(0.5 / 127)
    assert 0 < result["max_vertex_error"] <= half + 1e-12
    # Every sample moves by at most half a step per axis: at most 3 * half^2 each way.
    assert 0 < result["chamfer_mean"] <= result["chamfer_max"] <= 6 * half**2
    coarse = round_trip_error(meshes, MeshTokenizer(4, serialization), num_points=512)
    assert coarse["chamfer_mean"] > 10 * result["chamfer_mean"]


def test_set_metrics_against_itself_and_a_different_set():
    reference = [mesh for mesh, _ in generate_shapes(2, "held_out")]
    same = evaluate_meshes(reference, reference, num_points=256)
    # Identical sets: full coverage, zero MMD, and 1-NNA 0 (each item's twin is the other set's).
    assert same["cov"] == 1.0 and same["mmd"] == 0.0 and same["1nna"] == 0.0
    assert same["valid_fraction"] == 1.0 and same["num_scored"] == 20
    similar = evaluate_meshes([m for m, _ in generate_shapes(2, "train")], reference,
                              num_points=256)
    spheres = evaluate_meshes([m for m, _ in generate_shapes(20, classes=["sphere"])], reference,
                              num_points=256)
    # Measured: same distribution cov 0.70 / mmd 0.015 / 1-NNA 0.43; spheres 0.10 / 0.038 / 0.83.
    assert similar["cov"] >= 0.5 and spheres["cov"] <= 0.2
    assert spheres["mmd"] > 2 * similar["mmd"] > 0
    assert spheres["1nna"] >= 0.75 and similar["1nna"] <= 0.6


def test_evaluate_meshes_counts_invalid_samples():
    reference = [trimesh.creation.box(), trimesh.creation.icosphere(1)]
    empty = trimesh.Trimesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=int))
    open_box = trimesh.Trimesh(reference[0].vertices, reference[0].faces[:-2], process=False)
    result = evaluate_meshes([reference[0], empty, open_box], reference, num_points=128,
                             expect_watertight=[True, True, False])
    assert result["valid_fraction"] == pytest.approx(2 / 3)
    assert result["watertight_fraction"] == pytest.approx(1 / 3)
    assert result["num_scored"] == 2 and 0 <= result["1nna"] <= 1
    with pytest.raises(ValueError, match="expect_watertight"):
        evaluate_meshes(reference, reference, expect_watertight=[True])
    with pytest.raises(ValueError, match="generated/reference"):
        evaluate_meshes([], reference)
    with pytest.raises(ValueError, match="generated/reference"):
        coverage_mmd_1nna([np.zeros((4, 3))], [np.zeros((4, 3))])


def test_png_preview(tmp_path):
    pytest.importorskip("matplotlib")
    from omniar.eval.mesh_render import render_mesh, render_meshes

    data = render_mesh(trimesh.creation.box(), tmp_path / "box.png", tile_size=96)
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / "box.png").read_bytes() == data
    empty = trimesh.Trimesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=int))
    grid = render_meshes([trimesh.creation.box(), empty], titles=["box", "empty"], tile_size=96)
    assert grid[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="titles"):
        render_meshes([empty], titles=["a", "b"])
