"""MeshPipeline on a tiny random-weight model: outputs, determinism, saving, errors, CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh

from omniar.cli import main
from omniar.commands.eval_mesh import evaluate_generation
from omniar.data.shapes import ShapesDataset
from omniar.models.ar_model import AutoregressiveModel
from omniar.pipelines.mesh import MeshPipeline, export_meshes
from omniar.pipelines.mesh_repair import repair_mesh
from omniar.tokenizers.mesh import MeshTokenizer
from omniar.training.tasks.mesh_ar import PaddedRasterLoss, choose_preset

CLASSES = ["cube", "cone", "lamp"]


def tiny_pipeline() -> MeshPipeline:
    torch.manual_seed(0)
    tokenizer = MeshTokenizer(quantization_bits=5, serialization="adjacency", max_faces=8)
    model = AutoregressiveModel(tokenizer.vocab_size, hidden_size=32, num_layers=2, num_heads=4,
                                class_sizes=[len(CLASSES)]).eval()
    pipe = MeshPipeline(model, tokenizer, class_names=CLASSES,
                        sampling_presets={"default": {"temperature": 1.0},
                                          "cold": {"temperature": 0.5}})
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="module")
def pipe() -> MeshPipeline:
    return tiny_pipeline()


def generate(pipe: MeshPipeline, seed: int = 0, **kwargs):
    kwargs = {"class_labels": ["cube", 2], "num_meshes": 2, **kwargs}
    return pipe(generator=torch.Generator().manual_seed(seed), **kwargs)


def same_meshes(a: list[trimesh.Trimesh], b: list[trimesh.Trimesh]) -> bool:
    return len(a) == len(b) and all(
        np.array_equal(x.vertices, y.vertices) and np.array_equal(x.faces, y.faces)
        for x, y in zip(a, b)
    )


def test_returns_trimesh_meshes_that_export_to_glb(pipe, tmp_path):
    out = generate(pipe, guidance_scale=2.0)
    assert len(out.meshes) == len(out.reports) == 4
    assert all(isinstance(mesh, trimesh.Trimesh) for mesh in out.meshes)
    assert [r.class_name for r in out.reports] == ["cube", "cube", "lamp", "lamp"]
    assert out.stats["samples"] == 4 and out.stats["sampling"]["guidance_scale"] == 2.0
    assert 0.0 <= out.stats["valid_fraction"] <= 1.0 and out.stats["grammar"] == "manifold"
    for mesh, report in zip(out.meshes, out.reports):
        assert report.num_faces == len(mesh.faces)
        assert 1 <= report.num_tokens <= pipe.tokenizer.max_sequence_length
        # Random weights: the grammar had to override the model, which is reported.
        assert report.grammar["overrides"] > 0 and report.grammar["masked_mass"] > 0
        assert set(report.repairs) == {"merged_vertices", "dropped_faces", "filled_faces",
                                       "flipped_faces"}
        assert "valid" in report.raw_checks
    with_faces = [mesh for mesh in out.meshes if len(mesh.faces)]
    assert with_faces
    for index, mesh in enumerate(with_faces):
        path = export_meshes(mesh, tmp_path / f"mesh_{index}.glb")
        loaded = trimesh.load(path, force="mesh")
        assert len(loaded.faces) == len(mesh.faces)


def test_without_grammar_garbage_is_reported_not_raised(pipe):
    out = generate(pipe, grammar="none", repair=False)
    assert out.stats["grammar"] == "none" and out.stats["repaired_fraction"] == 0.0
    for report in out.reports:
        assert report.problems and not report.valid
        assert report.grammar == {"overrides": 0, "masked_mass": 0.0}
        assert report.checks == report.raw_checks


@pytest.mark.parametrize("level", ["syntax", "manifold", "closed"])
def test_grammar_levels_give_decodable_sequences(pipe, level):
    out = generate(pipe, grammar=level, repair=False, guidance_scale=1.5, num_meshes=3)
    for mesh, report in zip(out.meshes, out.reports):
        assert report.ended and len(mesh.faces) >= 1
        assert [p for p in report.problems if "incomplete last face" not in p] == []
        assert report.raw_checks["nondegenerate"]
        if level != "syntax":
            assert report.raw_checks["winding_consistent"]


@pytest.mark.parametrize("level", ["manifold", "closed"])
def test_grammar_works_with_jacobi_decoding(pipe, level):
    out = generate(pipe, decoding="jacobi", decoding_options={"window": 4}, grammar=level,
                   repair=False, guidance_scale=1.5, num_meshes=3)
    assert out.stats["grammar"] == level and out.stats["decoding"] == "jacobi"
    for mesh, report in zip(out.meshes, out.reports):
        assert report.ended and len(mesh.faces) >= 1
        assert [p for p in report.problems if "incomplete last face" not in p] == []
        assert report.raw_checks["nondegenerate"] and report.raw_checks["winding_consistent"]
        assert report.grammar["overrides"] > 0


def test_greedy_jacobi_with_the_grammar_equals_greedy_sequential(pipe):
    sequential = generate(pipe, temperature=0.0, guidance_scale=2.0, repair=False)
    parallel = generate(pipe, temperature=0.0, guidance_scale=2.0, repair=False,
                        decoding="jacobi", decoding_options={"window": 6, "init": "left"})
    assert same_meshes(sequential.meshes, parallel.meshes)
    assert [r.grammar["overrides"] for r in sequential.reports] == \
        [r.grammar["overrides"] for r in parallel.reports]


def test_bad_grammar_level_is_refused(pipe):
    with pytest.raises(ValueError, match="grammar='strict' is not valid"):
        generate(pipe, grammar="strict")


def test_same_seed_same_meshes(pipe):
    first, second = generate(pipe, seed=3), generate(pipe, seed=3)
    assert same_meshes(first.meshes, second.meshes)
    other = generate(pipe, seed=4)
    assert not same_meshes(first.meshes, other.meshes)


def test_save_and_load_round_trip(pipe, tmp_path):
    pipe.save_pretrained(tmp_path / "pipe")
    loaded = MeshPipeline.from_pretrained(tmp_path / "pipe")
    loaded.set_progress_bar_config(disable=True)
    assert loaded.class_names == CLASSES
    assert loaded.config.sampling_presets["cold"] == {"temperature": 0.5}
    assert not loaded.transformer.training
    assert same_meshes(generate(pipe, preset="cold").meshes, generate(loaded, preset="cold").meshes)


def test_bad_arguments_raise_value_errors(pipe):
    with pytest.raises(ValueError, match=r"unknown class 'dragon'.*cube"):
        pipe(class_labels=["cube", "dragon"])
    with pytest.raises(ValueError, match="out of range"):
        pipe(class_labels=[7])
    with pytest.raises(ValueError, match="at least one"):
        pipe(class_labels=[])
    for count in (0, -1, 1.5):
        with pytest.raises(ValueError, match="num_meshes"):
            pipe(class_labels="cube", num_meshes=count)
    with pytest.raises(ValueError, match="preset"):
        pipe(class_labels="cube", preset="nope")
    with pytest.raises(ValueError, match="class_names"):
        MeshPipeline(pipe.transformer, pipe.tokenizer, class_names=["a", "b"])


def test_glb_export_is_y_up_and_lays_meshes_side_by_side(tmp_path):
    tall = trimesh.creation.box(extents=(0.2, 0.4, 1.0))
    path = export_meshes([tall, tall.copy()], tmp_path / "two.glb")
    extents = trimesh.load(path, force="mesh").extents
    np.testing.assert_allclose(extents, (0.2 * 2 + 0.25, 1.0, 0.4), atol=1e-6)
    obj = trimesh.load(export_meshes(tall, tmp_path / "one.obj"), force="mesh")
    np.testing.assert_allclose(obj.extents, (0.2, 0.4, 1.0), atol=1e-6)
    with pytest.raises(ValueError, match="xyz"):
        export_meshes(tall, tmp_path / "bad.xyz")
    with pytest.raises(ValueError, match="none has faces"):
        export_meshes(trimesh.Trimesh(), tmp_path / "empty.glb")


def test_repair_closes_a_crack_one_level_wide():
    tokenizer = MeshTokenizer(quantization_bits=5)
    step = tokenizer.quantization_step
    cube = tokenizer.canonical_mesh(trimesh.creation.box())
    # Give one face its own copy of a corner, one level off: the mesh is no longer closed.
    vertices = np.vstack([cube.vertices, cube.vertices[cube.faces[0, 0]] + (step, 0, 0)])
    faces = cube.faces.copy()
    faces[0, 0] = len(vertices) - 1
    faces[1] = faces[1, ::-1]
    cracked = trimesh.Trimesh(vertices, faces, process=False)
    assert not cracked.is_watertight and not cracked.is_winding_consistent
    fixed, report = repair_mesh(cracked, merge_distance=1.001 * step)
    assert fixed.is_watertight and fixed.is_winding_consistent and fixed.volume > 0
    assert len(fixed.faces) == 12 and len(cracked.vertices) == 9
    np.testing.assert_allclose(fixed.volume, cube.volume)
    assert report.as_dict() == {"merged_vertices": 1, "dropped_faces": 0, "filled_faces": 0,
                                "flipped_faces": 1}
    unmerged, report = repair_mesh(cracked, merge_distance=0.5 * step)
    assert not unmerged.is_watertight and report.merged_vertices == 0 and report.changed
    untouched, report = repair_mesh(cube, merge_distance=1.001 * step)
    assert not report.changed and np.array_equal(untouched.faces, cube.faces)


def test_chunked_loss_equals_one_padded_batch():
    tokenizer = MeshTokenizer(quantization_bits=5, serialization="adjacency", max_faces=200)
    data = ShapesDataset(tokenizer, num_per_class=1, classes=["cube", "pyramid", "stool", "cone"])
    batch = data.collate_fn([data[i] for i in range(len(data))])
    model = AutoregressiveModel(tokenizer.vocab_size, hidden_size=32, num_layers=1, num_heads=4,
                                class_sizes=[10])
    one, _ = PaddedRasterLoss(tokenizer.pad_token_id, 0.0, chunks=1)(model, batch, 0)
    split, logs = PaddedRasterLoss(tokenizer.pad_token_id, 0.0, chunks=3)(model, batch, 0)
    torch.testing.assert_close(split, one, atol=1e-5, rtol=0)
    assert 0.0 <= logs["accuracy"] <= 1.0


def test_choose_preset_prefers_valid_then_1nna_near_half():
    results = {"hot": {"valid_fraction": 0.6, "1nna": 0.5},
               "warm": {"valid_fraction": 0.92, "1nna": 0.8},
               "cold": {"valid_fraction": 0.99, "1nna": 0.9},
               "frozen": {"valid_fraction": 0.99, "1nna": 0.95}}
    assert choose_preset(results, min_valid=0.9) == "warm"
    # Nothing valid enough: the most valid wins, 1-NNA breaks the tie.
    assert choose_preset(results, min_valid=0.995) == "cold"


def test_evaluate_generation_scores_per_class(pipe):
    figures = evaluate_generation(pipe, num_per_class=2, num_points=64)
    assert set(figures["per_class"]) == set(CLASSES)
    overall = figures["overall"]
    assert overall["num_generated"] == 6 and overall["num_reference"] == 6
    assert 0.0 <= overall["valid_fraction_raw"] <= 1.0
    assert overall["grammar_overrides_mean"] > 0 and 0.0 <= overall["repaired_fraction"] <= 1.0
    renamed = MeshPipeline(pipe.transformer, pipe.tokenizer, class_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="procedural"):
        evaluate_generation(renamed, num_per_class=1)


def test_cli_writes_a_glb(pipe, tmp_path, capsys):
    folder = tmp_path / "tiny"
    pipe.save_pretrained(folder)
    out = tmp_path / "cubes.glb"
    command = ["generate", "mesh", "cube", "--model", str(folder), "--num", "3", "--seed", "1",
               "--out", str(out)]
    assert main(command) == 0, capsys.readouterr().err
    assert "wrote" in capsys.readouterr().out and out.is_file()
    assert len(trimesh.load(out, force="mesh").faces) > 0
    assert main(["generate", "mesh", "dragon", "--model", str(folder)]) == 2
    assert "dragon" in capsys.readouterr().err
    assert main(["generate", "mesh", "cube", "--model", str(folder), "--out", "x.txt"]) == 2
