"""Procedural shapes and the mesh-folder data set."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh

from omniar.data.mesh_files import MeshFolderDataset, find_mesh_files
from omniar.data.shapes import (
    SHAPE_CLASSES,
    ShapesDataset,
    collate_mesh_tokens,
    generate_shapes,
    make_shape,
)
from omniar.eval.mesh_metrics import tokens_per_face
from omniar.tokenizers.mesh import MeshTokenizer, save_mesh


def test_classes():
    assert len(SHAPE_CLASSES) >= 8 and len(set(SHAPE_CLASSES)) == len(SHAPE_CLASSES)
    assert {"cube", "sphere", "table", "chair", "stool", "lamp"} <= set(SHAPE_CLASSES)
    with pytest.raises(ValueError, match="class_name"):
        make_shape("dragon")
    with pytest.raises(ValueError, match="split"):
        make_shape("cube", split="test")


def test_shapes_are_deterministic_and_varied():
    a, b = make_shape("chair", 3), make_shape("chair", 3)
    np.testing.assert_array_equal(a.vertices, b.vertices)
    np.testing.assert_array_equal(a.faces, b.faces)
    assert not np.allclose(make_shape("chair", 4).vertices, a.vertices)
    assert not np.allclose(make_shape("chair", 3, split="held_out").vertices, a.vertices)
    assert not np.allclose(make_shape("chair", 3, seed=1).vertices, a.vertices)
    # Items do not depend on how many are generated.
    small, large = generate_shapes(2, "held_out"), generate_shapes(3, "held_out")
    np.testing.assert_array_equal(small[1][0].vertices, large[1][0].vertices)


def test_rotation_about_vertical_axis_only():
    heights = {round(float(np.ptp(make_shape("table", i).vertices[:, 2])), 6) for i in range(4)}
    assert len(heights) == 4  # proportions vary
    angles = set()
    for i in range(4):
        cube = make_shape("cube", i)
        assert len(np.unique(np.round(cube.vertices[:, 2], 9))) == 2  # top and bottom stay flat
        directions = np.diff(cube.vertices[cube.edges_unique], axis=1)[:, 0]
        flat = directions[np.abs(directions[:, 2]) < 1e-9]
        angles.add(round(float((np.arctan2(flat[:, 1], flat[:, 0]) % (np.pi / 2)).min()), 6))
    assert len(angles) == 4


@pytest.mark.parametrize("class_name", SHAPE_CLASSES)
def test_every_class_is_small_clean_and_watertight_after_quantisation(class_name):
    tokenizer = MeshTokenizer()
    for index in range(6):
        mesh = make_shape(class_name, index)
        canonical = tokenizer.canonical_mesh(mesh)
        assert len(canonical.faces) == len(mesh.faces) <= 300
        assert canonical.is_watertight and canonical.is_winding_consistent
        assert canonical.volume > 0  # outward normals


def test_compressed_serialisation_length_on_procedural_set():
    meshes = [mesh for mesh, _ in generate_shapes(10, "train")]
    figures = tokens_per_face(meshes)
    # Measured: coordinates 9.04, adjacency 3.81 tokens per face, ratio 0.421.
    assert 9.0 < figures["coordinates"] < 9.1
    assert figures["adjacency"] < 4.1
    assert figures["ratio"] < 0.45


def test_shapes_dataset_and_collate():
    tokenizer = MeshTokenizer(serialization="adjacency")
    train = ShapesDataset(tokenizer, "train", num_per_class=2)
    held_out = ShapesDataset(tokenizer, "held_out", num_per_class=1, classes=["lamp", "cube"])
    assert len(train) == 2 * len(SHAPE_CLASSES) and len(held_out) == 2
    assert held_out.labels == [SHAPE_CLASSES.index("lamp"), SHAPE_CLASSES.index("cube")]
    tokens, label = train[5]
    assert tokens.dtype == torch.long and tokens[0] == tokenizer.bos_token_id
    assert tokens[-1] == tokenizer.eos_token_id and label == train.labels[5]
    assert tokens.tolist() == tokenizer.encode(train.meshes[5])
    batch = train.collate_fn([train[0], train[19]])
    lengths = [len(train[0][0]), len(train[19][0])]
    assert batch["input_ids"].shape == (2, max(lengths))
    assert batch["attention_mask"].sum(dim=1).tolist() == lengths
    assert (batch["input_ids"][~batch["attention_mask"]] == tokenizer.pad_token_id).all()
    assert batch["class_labels"].tolist() == [train.labels[0], train.labels[19]]
    loader = torch.utils.data.DataLoader(train, batch_size=4, collate_fn=train.collate_fn)
    assert next(iter(loader))["input_ids"].shape[0] == 4
    with pytest.raises(ValueError, match="batch"):
        collate_mesh_tokens([], 0)


@pytest.fixture
def mesh_folder(tmp_path):
    root = tmp_path / "meshes"
    save_mesh(trimesh.creation.box(), root / "boxes" / "a.obj")
    save_mesh(trimesh.creation.box(extents=(1, 2, 3)), root / "boxes" / "deep" / "b.glb")
    save_mesh(trimesh.creation.icosphere(1), root / "balls" / "c.ply")
    save_mesh(trimesh.creation.cone(1, 2, sections=8), root / "balls" / "d.stl")
    (root / "balls" / "broken.glb").write_bytes(b"not a glb at all")
    (root / "balls" / "notes.txt").write_text("ignored")
    (root / "top_level.obj").write_text("ignored: not in a class folder")
    return root


def test_mesh_folder_dataset(mesh_folder):
    tokenizer = MeshTokenizer()
    dataset = MeshFolderDataset(mesh_folder, tokenizer)
    assert dataset.class_names == ["balls", "boxes"] and len(dataset) == 5
    labels = {path.name: dataset[i][1] for i, (path, _) in enumerate(dataset.files)
              if path.name != "broken.glb"}
    assert labels == {"c.ply": 0, "d.stl": 0, "a.obj": 1, "b.glb": 1}
    broken = next(i for i, (path, _) in enumerate(dataset.files) if path.name == "broken.glb")
    with pytest.raises(ValueError, match="broken.glb"):
        dataset[broken]
    reports = dataset.scan()
    assert [r.path.name for r in reports if not r.ok] == ["broken.glb"]
    assert "could not parse" in next(r for r in reports if not r.ok).problem


def test_mesh_folder_skip_invalid_reports_how_many(mesh_folder):
    with pytest.warns(UserWarning, match="skipped 1 of 5"):
        dataset = MeshFolderDataset(mesh_folder, MeshTokenizer(), skip_invalid=True)
    assert len(dataset) == 4 and [r.path.name for r in dataset.skipped] == ["broken.glb"]
    batch = dataset.collate_fn([dataset[i] for i in range(4)])
    assert batch["input_ids"].shape[0] == 4


def test_mesh_folder_errors(tmp_path):
    with pytest.raises(ValueError, match="not a directory"):
        find_mesh_files(tmp_path / "missing")
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(ValueError, match="no mesh files"):
        MeshFolderDataset(tmp_path, MeshTokenizer())
    (tmp_path / "empty_class" / "bad.obj").write_text("garbage\n")
    with pytest.raises(ValueError, match="none of the 1 mesh files"), pytest.warns(UserWarning):
        MeshFolderDataset(tmp_path, MeshTokenizer(), skip_invalid=True)
