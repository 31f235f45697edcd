"""MeshTokenizer: canonical form, both serialisations, robustness, file I/O and bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import trimesh

from omniar.tokenizers.mesh import (
    DroppedFacesWarning,
    MeshEncodeReport,
    MeshError,
    MeshTokenizer,
    load_mesh,
    normalize_vertices,
    save_mesh,
)

SERIALIZATIONS = ("coordinates", "adjacency")

QUAD_CUBE_OBJ = """\
v 0 0 0
v 2 0 0
v 2 1 0
v 0 1 0
v 0 0 3
v 2 0 3
v 2 1 3
v 0 1 3
f 1 4 3 2
f 5 6 7 8
f 1 2 6 5
f 2 3 7 6
f 3 4 8 7
f 4 1 5 8
"""


def tetrahedron() -> trimesh.Trimesh:
    vertices = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    faces = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    return trimesh.Trimesh(vertices, faces, process=False)


def rotated_cube() -> trimesh.Trimesh:
    cube = trimesh.creation.box(extents=(1.0, 0.7, 1.3))
    cube.apply_transform(trimesh.transformations.rotation_matrix(0.4, (0, 0, 1)))
    return cube


@pytest.fixture
def quad_cube(tmp_path) -> trimesh.Trimesh:
    path = tmp_path / "quads.obj"
    path.write_text(QUAD_CUBE_OBJ)
    return load_mesh(path)


def hand_made(quad_cube: trimesh.Trimesh) -> dict[str, trimesh.Trimesh]:
    return {"cube": rotated_cube(), "tetrahedron": tetrahedron(), "quad_cube": quad_cube,
            "icosphere": trimesh.creation.icosphere(1)}


def test_vocabulary_layout():
    tokenizer = MeshTokenizer(quantization_bits=7)
    assert tokenizer.vocab_size == 128 + 6
    assert (tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id) == (128, 129, 130)
    vocab = tokenizer.vocab
    assert (vocab.new_strip, vocab.pivot, vocab.backtrack) == (131, 132, 133)
    assert tokenizer.levels.shape == (128,)
    assert tokenizer.levels[0] == -0.5 and tokenizer.levels[-1] == 0.5


def test_quads_are_triangulated(quad_cube):
    assert quad_cube.faces.shape == (12, 3)
    assert quad_cube.is_watertight and quad_cube.is_winding_consistent


@pytest.mark.parametrize("serialization", SERIALIZATIONS)
def test_round_trip_exact_up_to_quantisation(serialization, quad_cube):
    tokenizer = MeshTokenizer(serialization=serialization)
    half_step = tokenizer.quantization_step / 2
    for name, mesh in hand_made(quad_cube).items():
        tokens = tokenizer.encode(mesh)
        decoded, report = tokenizer.decode(tokens, return_report=True)
        assert not report.repaired, (name, report.problems)
        # Compared in the normalised cube, where the tokenizer quantises.
        normalized, _, _ = normalize_vertices(mesh.vertices)
        error = np.abs(normalized[:, None, :] - decoded.vertices[None, :, :]).max(axis=2).min(1)
        assert error.max() <= half_step + 1e-12, name
        assert len(decoded.vertices) == len(np.unique(mesh.vertices, axis=0)), name
        assert len(decoded.faces) == len(mesh.faces), name
        canonical = tokenizer.canonical_mesh(mesh)
        np.testing.assert_array_equal(decoded.faces, canonical.faces)
        np.testing.assert_allclose(decoded.vertices, canonical.vertices)
        assert tokenizer.encode(decoded) == tokens, name


@pytest.mark.parametrize("serialization", SERIALIZATIONS)
def test_sequence_format(serialization, quad_cube):
    tokenizer = MeshTokenizer(serialization=serialization)
    for mesh in hand_made(quad_cube).values():
        tokens = tokenizer.encode(mesh)
        assert tokens[0] == tokenizer.bos_token_id and tokens[-1] == tokenizer.eos_token_id
        assert all(0 <= t < tokenizer.vocab_size for t in tokens)
        assert tokenizer.sequence_length(mesh) == len(tokens)
        if serialization == "coordinates":
            assert len(tokens) == 9 * len(mesh.faces) + 2
            assert max(tokens[1:-1]) < tokenizer.num_levels
        else:
            vocab = tokenizer.vocab
            assert tokens[1] == vocab.new_strip
            strips = tokens.count(vocab.new_strip)
            coordinates = sum(t < tokenizer.num_levels for t in tokens)
            assert coordinates == 9 * strips + 3 * (len(mesh.faces) - strips)
            controls = tokens.count(vocab.pivot) + tokens.count(vocab.backtrack)
            assert len(tokens) == 2 + strips + controls + coordinates < 9 * len(mesh.faces) + 2


def test_vertices_sorted_z_y_x_and_faces_canonical():
    tokenizer = MeshTokenizer()
    vertices, faces = tokenizer.canonicalize(trimesh.creation.icosphere(1))
    keys = [tuple(row) for row in vertices.tolist()]  # rows are (z, y, x)
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert (faces[:, 0] < faces[:, 1]).all() and (faces[:, 0] < faces[:, 2]).all()
    rows = [tuple(face) for face in faces.tolist()]
    assert rows == sorted(rows)


@pytest.mark.parametrize("serialization", SERIALIZATIONS)
def test_sorting_invariance(serialization, quad_cube):
    tokenizer = MeshTokenizer(serialization=serialization)
    rng = np.random.default_rng(0)
    for mesh in hand_made(quad_cube).values():
        order = rng.permutation(len(mesh.vertices))
        inverse = np.argsort(order)
        faces = inverse[mesh.faces][rng.permutation(len(mesh.faces))]
        shift = rng.integers(0, 3, len(faces))  # cyclic shifts keep the winding
        faces = np.take_along_axis(faces, (shift[:, None] + np.arange(3)) % 3, axis=1)
        shuffled = trimesh.Trimesh(mesh.vertices[order], faces, process=False)
        assert tokenizer.encode(shuffled) == tokenizer.encode(mesh)


def oriented_faces_in_original_indices(decoded: trimesh.Trimesh, original: trimesh.Trimesh):
    """Decoded faces rewritten with the indices of the nearest original (normalised) vertices."""
    normalized, _, _ = normalize_vertices(original.vertices)
    nearest = np.abs(decoded.vertices[:, None] - normalized[None]).max(axis=2).argmin(axis=1)
    return nearest[decoded.faces]


def rotate_lowest_first(faces: np.ndarray) -> list[tuple[int, int, int]]:
    shift = faces.argmin(axis=1)
    rotated = np.take_along_axis(faces, (shift[:, None] + np.arange(3)) % 3, axis=1)
    return [tuple(face) for face in rotated.tolist()]


@pytest.mark.parametrize("serialization", SERIALIZATIONS)
def test_orientation_preserved(serialization, quad_cube):
    tokenizer = MeshTokenizer(serialization=serialization)
    for mesh in hand_made(quad_cube).values():
        flipped = trimesh.Trimesh(mesh.vertices, mesh.faces[:, ::-1], process=False)
        for candidate in (mesh, flipped):
            decoded = tokenizer.decode(tokenizer.encode(candidate))
            decoded_faces = rotate_lowest_first(oriented_faces_in_original_indices(decoded, candidate))
            original_faces = rotate_lowest_first(np.asarray(candidate.faces))
            # Same faces with the same cyclic order, hence the same winding.
            assert sorted(decoded_faces) == sorted(original_faces)
            match = [original_faces.index(face) for face in decoded_faces]
            agreement = (decoded.face_normals * candidate.face_normals[match]).sum(axis=1)
            assert agreement.min() > 0.99
        assert tokenizer.encode(flipped) != tokenizer.encode(mesh)


@pytest.mark.parametrize("serialization", SERIALIZATIONS)
def test_inconsistent_winding_kept_face_by_face(serialization):
    vertices = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0.2]])
    faces = np.array([[0, 1, 2], [1, 2, 3]])  # shared edge 1-2 in the same direction twice
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    tokenizer = MeshTokenizer(serialization=serialization)
    decoded = tokenizer.decode(tokenizer.encode(mesh))
    assert len(decoded.faces) == 2 and not decoded.is_winding_consistent
    assert np.sign(decoded.face_normals[:, 2]).tolist() == [1.0, -1.0]


def test_duplicate_degenerate_faces_and_vertices_are_cleaned():
    cube = rotated_cube()
    vertices = np.vstack([cube.vertices, cube.vertices[:1] + 1e-6])  # near-duplicate vertex
    rolled = np.roll(cube.faces[:1], 1, axis=1)  # the same face, same winding
    faces = np.vstack([cube.faces, rolled, [[0, 0, 1]], [[0, 8, 1]]])
    messy = trimesh.Trimesh(vertices, faces, process=False)
    tokenizer = MeshTokenizer()
    with pytest.warns(DroppedFacesWarning, match="kept 12 of 15 faces, dropping 3"):
        vertices_q, faces_q = tokenizer.canonicalize(messy)
    assert vertices_q.shape == (8, 3) and faces_q.shape == (12, 3)
    assert tokenizer.encode(messy, dropped_faces="ignore") == tokenizer.encode(cube)
    assert tokenizer.encode_report(messy) == MeshEncodeReport(15, 12, 2, 1)
    both_windings = trimesh.Trimesh(cube.vertices, np.vstack([cube.faces, cube.faces[:1, ::-1]]),
                                    process=False)
    assert tokenizer.canonicalize(both_windings, dropped_faces="ignore")[1].shape == (12, 3)


def test_faces_collapsed_by_quantisation_are_counted_warned_or_refused():
    """A small part next to a large one collapses at 7 bits: half of the faces go."""
    tiny = trimesh.creation.box(extents=(1e-3, 1e-3, 1e-3))
    tiny.apply_translation((0.2, 0.2, 0.2))
    mesh = trimesh.util.concatenate([trimesh.creation.box(), tiny])
    tokenizer = MeshTokenizer(max_faces=10**6)
    report = tokenizer.encode_report(mesh, "boxes")
    assert (report.input_faces, report.kept_faces, report.dropped_faces) == (24, 12, 12)
    assert report.degenerate_faces == 12 and report.dropped_fraction == 0.5
    with pytest.warns(DroppedFacesWarning, match="'boxes': 7-bit quantisation kept 12 of 24"):
        tokenizer.encode(mesh, "boxes")
    with pytest.raises(MeshError, match=r"dropping 12 \(50.0%: 12 collapsed"):
        tokenizer.encode(mesh, "boxes", dropped_faces="error")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(tokenizer.encode(mesh, dropped_faces="ignore")) == 9 * 12 + 2
        tokenizer.encode(trimesh.creation.box())  # nothing dropped: no warning
    with pytest.raises(ValueError, match="dropped_faces='sometimes'"):
        tokenizer.encode(mesh, dropped_faces="sometimes")
    # More bits keep the small part.
    assert MeshTokenizer(12, max_faces=10**6).encode_report(mesh).dropped_faces == 0


@pytest.mark.parametrize("suffix", ["ply", "obj"])
def test_point_cloud_files_are_named_as_such(tmp_path, suffix):
    path = tmp_path / f"points.{suffix}"
    if suffix == "ply":
        trimesh.PointCloud(np.random.default_rng(0).random((20, 3))).export(path)
    else:
        path.write_text("".join(f"v {i} {i * i} {i % 3}\n" for i in range(20)))
    with pytest.raises(MeshError, match="has 20 vertices and no faces: a point cloud; omniar "
                                        "meshes need faces"):
        load_mesh(path)


def test_coarser_quantisation_bound():
    tokenizer = MeshTokenizer(quantization_bits=4)
    sphere = trimesh.creation.icosphere(1)
    decoded = tokenizer.decode(tokenizer.encode(sphere))
    normalized, _, _ = normalize_vertices(sphere.vertices)
    error = np.abs(normalized[:, None] - decoded.vertices[None]).max(axis=2).min(axis=1)
    assert error.max() <= tokenizer.quantization_step / 2 + 1e-12
    assert set(np.unique(np.rint((decoded.vertices + 0.5) * 15))) <= set(range(16))


@pytest.mark.parametrize("serialization", SERIALIZATIONS)
def test_decode_never_crashes_on_garbage(serialization):
    tokenizer = MeshTokenizer(serialization=serialization)
    rng = np.random.default_rng(0)
    for _ in range(30):
        garbage = rng.integers(-3, tokenizer.vocab_size + 3, rng.integers(0, 80)).tolist()
        mesh, report = tokenizer.decode(garbage, return_report=True)
        assert isinstance(mesh, trimesh.Trimesh) and report.repaired
        assert report.num_faces == len(mesh.faces)
    empty, report = tokenizer.decode([], return_report=True)
    assert len(empty.faces) == 0 and "no faces could be decoded" in report.problems


@pytest.mark.parametrize("serialization", SERIALIZATIONS)
def test_truncated_and_noisy_sequences_are_repaired(serialization):
    import torch

    tokenizer = MeshTokenizer(serialization=serialization)
    tokens = tokenizer.encode(trimesh.creation.icosphere(1))
    truncated, report = tokenizer.decode(tokens[:-3], return_report=True)  # EOS + 2 tokens
    assert len(truncated.faces) == 79
    assert any("EOS" in p for p in report.problems)
    assert any("incomplete" in p for p in report.problems)
    padded = torch.tensor(tokens + [tokenizer.pad_token_id] * 7)
    clean, report = tokenizer.decode(padded, return_report=True)
    assert len(clean.faces) == 80 and not report.repaired
    noisy = tokens[:20] + [tokenizer.vocab_size + 5] + tokens[20:]
    repaired, report = tokenizer.decode(noisy, return_report=True)
    assert report.repaired and 0 < len(repaired.faces) <= 80
    doubled = tokens[:-1] + tokens[1:]  # every face twice
    mesh, report = tokenizer.decode(doubled, return_report=True)
    assert len(mesh.faces) == 80 and report.duplicate_faces == 80


def test_save_and_load_pretrained(tmp_path):
    tokenizer = MeshTokenizer(quantization_bits=6, serialization="adjacency", max_faces=123)
    tokenizer.save_pretrained(tmp_path / "tok")
    loaded = MeshTokenizer.from_pretrained(tmp_path / "tok")
    assert loaded.config.quantization_bits == 6
    assert loaded.config.serialization == "adjacency" and loaded.config.max_faces == 123
    assert not loaded.training
    sphere = trimesh.creation.icosphere(1)
    assert loaded.encode(sphere) == tokenizer.encode(sphere)


def test_bad_config():
    with pytest.raises(ValueError, match="serialization"):
        MeshTokenizer(serialization="zigzag")
    with pytest.raises(ValueError, match="quantization_bits"):
        MeshTokenizer(quantization_bits=1)
    with pytest.raises(ValueError, match="max_faces"):
        MeshTokenizer(max_faces=0)


@pytest.mark.parametrize(
    ("vertices", "faces", "message"),
    [
        (np.zeros((0, 3)), np.zeros((0, 3), dtype=int), "empty"),
        (np.random.default_rng(0).random((10, 3)), np.zeros((0, 3), dtype=int), "point cloud"),
        ([[0, 0, 0], [1, 0, 0], [0, np.nan, 0]], [[0, 1, 2]], "NaN or infinite"),
        ([[0, 0, 0], [1, 0, 0], [0, np.inf, 0]], [[0, 1, 2]], "NaN or infinite"),
        ([[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 1, 3]], "face indices"),
        ([[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 1, -1]], "face indices"),
        ([[0, 0, 0], [0, 0, 0], [0, 0, 0]], [[0, 1, 2]], "zero extent"),
        ([[0, 0, 0], [1, 0, 0], [2, 0, 0]], [[0, 1, 2]], "degenerate"),
    ],
)
def test_bad_meshes_raise(vertices, faces, message):
    mesh = trimesh.Trimesh(np.asarray(vertices, float), np.asarray(faces), process=False)
    with pytest.raises(ValueError, match=message) as info:
        MeshTokenizer().encode(mesh, name="broken.obj")
    assert "broken.obj" in str(info.value)


def test_not_a_mesh_and_too_many_faces():
    with pytest.raises(MeshError, match="expected a trimesh.Trimesh"):
        MeshTokenizer().encode([[0, 0, 0]])
    with pytest.raises(ValueError, match=r"big\.ply.*320 faces.*max_faces=100"):
        MeshTokenizer(max_faces=100).encode(trimesh.creation.icosphere(2), name="big.ply")


def test_bad_files_raise_naming_the_file(tmp_path):
    (tmp_path / "garbage.glb").write_bytes(b"definitely not a glb")
    (tmp_path / "garbage.ply").write_bytes(b"nope")
    (tmp_path / "empty.obj").write_text("# nothing here\n")
    (tmp_path / "mesh.xyz").write_text("0 0 0\n")
    trimesh.PointCloud(np.random.default_rng(0).random((5, 3))).export(tmp_path / "cloud.ply")
    cases = {"garbage.glb": "could not parse", "garbage.ply": "could not parse",
             "empty.obj": "empty", "mesh.xyz": "unsupported", "missing.obj": "no such",
             "cloud.ply": "no faces"}
    for name, message in cases.items():
        with pytest.raises(ValueError, match=message) as info:
            load_mesh(tmp_path / name)
        assert name in str(info.value)


@pytest.mark.parametrize("suffix", [".glb", ".obj", ".ply", ".stl"])
def test_decoded_mesh_exports_and_reloads(tmp_path, suffix):
    tokenizer = MeshTokenizer(serialization="adjacency")
    decoded = tokenizer.decode(tokenizer.encode(rotated_cube()))
    path = save_mesh(decoded, tmp_path / f"decoded{suffix}")
    assert path.stat().st_size > 0
    reloaded = load_mesh(path)
    assert len(reloaded.faces) == 12
    assert tokenizer.encode(reloaded) == tokenizer.encode(decoded)
    with pytest.raises(ValueError, match="cannot write"):
        save_mesh(decoded, tmp_path / "decoded.xyz")
