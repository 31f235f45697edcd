"""Eval commands: every image of a folder scored or reported, embedded names, one result schema,
dropped mesh faces and point clouds reported."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from omniar.cli import main
from omniar.data.emoji import is_heldout
from omniar.data.mesh_files import MeshFolderDataset
from omniar.eval.report import EvalReport, grouped_means
from omniar.tokenizers.mesh import MeshTokenizer

REPO = Path(__file__).resolve().parents[1]
SCHEMA = {"model", "data", "n", "groups", "skipped", "settings", "details"}


def needs_asset(name: str) -> None:
    if not (REPO / "assets" / name).is_dir():
        pytest.skip(f"assets/{name} is not in this checkout")


@pytest.fixture
def noto_folder(tmp_path: Path) -> Path:
    """22 RGBA PNGs with Noto names (21 of the train split, 1 held out) and one corrupt file."""
    points = range(0x1F600, 0x1F700)
    train = [p for p in points if not is_heldout((p,))][:21]
    heldout = [p for p in points if is_heldout((p,))][:1]
    folder = tmp_path / "emoji"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for point in train + heldout:
        pixels = rng.integers(0, 256, (32, 32, 4), dtype=np.uint8)
        Image.fromarray(pixels, "RGBA").save(folder / f"emoji_u{point:x}.png")
    (folder / "emoji_u1f9ff.png").write_bytes(b"not a png")
    return folder


def test_tokenizer_eval_scores_every_image_or_names_it(noto_folder, tmp_path, capsys):
    needs_asset("emoji-vq")
    out = tmp_path / "eval.json"
    command = ["eval", "tokenizer", "emoji-vq", "--data", str(noto_folder), "--out-json", str(out)]
    assert main(command) == 2
    error = capsys.readouterr().err
    assert "emoji_u1f9ff.png" in error and "--skip-corrupt" in error and error.count("\n") == 1
    assert main([*command, "--skip-corrupt"]) == 0
    printed = capsys.readouterr().out
    assert "emoji_u1f9ff.png" in printed and "heldout" in printed
    report = json.loads(out.read_text())
    assert set(report) == SCHEMA and report["model"] == "emoji-vq"
    assert report["n"] == report["groups"]["all"]["n"] == 22
    assert (report["groups"]["train"]["n"], report["groups"]["heldout"]["n"]) == (21, 1)
    assert [item["file"] for item in report["skipped"]] == ["emoji_u1f9ff.png"]
    assert report["groups"]["all"]["psnr"] > 5
    # --split keeps one Noto split; a name that is no tokenizer is refused with the choices.
    assert main([*command, "--skip-corrupt", "--split", "heldout"]) == 0
    assert json.loads(out.read_text())["n"] == 1
    capsys.readouterr()
    assert main(["eval", "tokenizer", "emoji-v", "--data", str(noto_folder)]) == 2
    assert "did you mean 'emoji-vq'" in capsys.readouterr().err


def test_plain_folders_group_by_subfolder_and_refuse_mixed_sizes(tmp_path, capsys):
    needs_asset("emoji-vq")
    for folder, count in (("cats", 2), ("dogs", 3)):
        (tmp_path / "data" / folder).mkdir(parents=True)
        for index in range(count):
            Image.new("RGB", (32, 32), (40 * index, 0, 0)).save(
                tmp_path / "data" / folder / f"{index}.png")
    out = tmp_path / "eval.json"
    assert main(["eval", "tokenizer", "emoji-vq", "--data", str(tmp_path / "data"),
                 "--out-json", str(out)]) == 0
    groups = json.loads(out.read_text())["groups"]
    assert list(groups) == ["all", "cats", "dogs"] and groups["dogs"]["n"] == 3
    Image.new("RGB", (16, 16)).save(tmp_path / "data" / "cats" / "small.png")
    assert main(["eval", "tokenizer", "emoji-vq", "--data", str(tmp_path / "data")]) == 2
    assert "--image-size" in capsys.readouterr().err


def test_eval_mesh_reports_in_the_shared_schema(tmp_path, capsys):
    needs_asset("shapes-mesh")
    out = tmp_path / "mesh.json"
    assert main(["eval", "mesh", "--num", "0", "--tokenizer-num", "1", "--out-json", str(out)]) == 0
    assert "dropped" in capsys.readouterr().out
    report = json.loads(out.read_text())
    assert set(report) == SCHEMA and next(iter(report["groups"])) == "all"
    assert report["groups"]["all"]["dropped_faces"] == 0 and report["groups"]["cube"]["n"] == 1


def test_audio_report_uses_the_schema():
    from omniar.commands.eval_audio import audio_report

    report = {"model": "m", "accuracy": 0.5, "per_class": {"zero": 1.0, "one": 0.0},
              "num_per_class": 2, "seed": 0, "mean_duration_s": 0.5, "ended_fraction": 1.0,
              "sampling": {}, "seconds": 1.0, "real_time_factor": 0.1,
              "real_test_accuracy": {"accuracy": 0.9, "num_clips": 10}}
    result = audio_report(report, "fsdd").as_dict()
    assert set(result) == SCHEMA and result["n"] == 4
    assert result["groups"]["digit one"] == {"n": 2, "accuracy": 0.0}
    assert result["groups"]["real FSDD takes 0-4"]["n"] == 10


def test_grouped_means_and_table():
    groups = grouped_means({"score": [1.0, 2.0, 4.0]}, ["a", "b", "b"])
    assert groups == {"all": {"n": 3, "score": 7 / 3}, "a": {"n": 1, "score": 1.0},
                      "b": {"n": 2, "score": 3.0}}
    assert list(grouped_means({"score": [1.0]}, ["a"])) == ["all"]
    report = EvalReport("m", "d", 3, {**groups, "c": {"n": 0, "score": float("nan")}})
    lines = report.table().splitlines()
    assert lines[0].split() == ["group", "n", "score"] and lines[-1].split() == ["c", "0", "-"]
    with pytest.raises(ValueError, match="score"):
        grouped_means({"score": [1.0]}, ["a", "b"])


def two_boxes() -> trimesh.Trimesh:
    """A unit box and a 1/1000 box: 7-bit quantisation collapses the small one."""
    tiny = trimesh.creation.box(extents=(1e-3, 1e-3, 1e-3))
    tiny.apply_translation((0.2, 0.2, 0.2))
    return trimesh.util.concatenate([trimesh.creation.box(), tiny])


def test_mesh_folder_counts_dropped_faces_and_names_point_clouds(tmp_path):
    (tmp_path / "boxes").mkdir()
    two_boxes().export(tmp_path / "boxes" / "two.obj")
    trimesh.PointCloud(np.random.default_rng(0).random((30, 3))).export(
        tmp_path / "boxes" / "points.ply")
    tokenizer = MeshTokenizer(max_faces=10**6)
    with pytest.warns(UserWarning, match="skipped 1 of 2"):
        dataset = MeshFolderDataset(tmp_path, tokenizer, skip_invalid=True,
                                    dropped_faces="ignore")
    assert "30 vertices and no faces: a point cloud" in dataset.skipped[0].problem
    report = dataset.scan()[0]
    assert (report.input_faces, report.dropped_faces) == (24, 12)
    strict = MeshFolderDataset(tmp_path, tokenizer, dropped_faces="error").scan()
    assert "dropping 12 (50.0%" in strict[1].problem
    with pytest.warns(UserWarning, match="dropping 12"):
        MeshFolderDataset(tmp_path, tokenizer).scan()
