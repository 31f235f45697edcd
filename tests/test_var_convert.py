"""`omniar convert var`: the written folder, its presets and names, and bad input (one line, exit 2,
nothing written)."""

import os
from pathlib import Path

import pytest
import torch
from var_reference import vae_state, var_state

import omniar
from omniar.cli import main
from omniar.convert.var import load_var
from omniar.pipelines.image import ImagePipeline


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("var")
    torch.save(var_state(depth=1, seed=11), folder / "var_d16.pth")
    torch.save(vae_state(seed=12, ch=32), folder / "vae_ch160v4096z32.pth")
    return folder


def _convert(files: Path, out: Path, *extra: str, var: str = "var_d16.pth",
             vae: str = "vae_ch160v4096z32.pth") -> int:
    return main(["convert", "var", "--var", str(files / var), "--vae", str(files / vae), "--out", str(out), *extra])


@pytest.fixture(scope="module")
def converted(files):
    assert _convert(files, files / "var-d16", "--dtype", "bfloat16") == 0
    return files / "var-d16"


def test_converted_folder_loads_and_generates_by_class_id_or_name(converted):
    assert sorted(p.name for p in converted.iterdir()) == ["README.md", "model_index.json", "tokenizer", "transformer"]
    assert not [p for p in converted.parent.iterdir() if p.name.startswith(".")]
    pipe = omniar.load(str(converted))
    assert isinstance(ImagePipeline.from_pretrained(str(converted)), ImagePipeline)
    presets = pipe.config.sampling_presets
    assert presets["fid"] == {"guidance_scale": 2.5, "guidance_schedule": "linear", "top_k": 900, "top_p": 0.96,
                              "temperature": 1.0}
    assert presets["default"] == presets["demo"] and presets["demo"]["guidance_scale"] == 5.0
    assert pipe.config.orders == ["next_scale"] and pipe.config.image_size == 256
    assert pipe.config.class_names[207] == "golden retriever"
    config = pipe.transformer.config
    assert (config.norm_type, config.attention_type, config.rope, config.position_embeddings) == ("layer", "cosine",
                                                                                                    False, 680)
    out = pipe(class_labels=[207, "Golden Retriever"], top_k=1, output_type="tokens", preset="fid")
    assert out.images.shape == (2, 680) and torch.equal(out.images[0], out.images[1])
    assert out.stats["forward_passes"] == 10
    image = pipe(class_labels=3, top_k=1, guidance_scale=1.0, output_type="np").images
    assert image.shape == (1, 256, 256, 3)


def test_existing_out_is_kept_unless_force(files, converted, capsys):
    marker = converted / "README.md"
    before = marker.read_text()
    assert _convert(files, converted) == 2
    assert "--force" in capsys.readouterr().err and marker.read_text() == before


@pytest.mark.parametrize("case", ["not_a_checkpoint", "vae_as_var", "var_as_vae", "truncated", "refused_pickle",
                                  "missing", "unknown_width", "extra_key"])
def test_bad_files_are_one_line_naming_the_file(case, files, tmp_path, capsys):
    var, vae = files / "var_d16.pth", files / "vae_ch160v4096z32.pth"
    bad = var
    if case == "not_a_checkpoint":
        var = bad = tmp_path / "notes.pth"
        var.write_text("not a checkpoint\n")
        expected = "not a"
    elif case == "vae_as_var":
        var = bad = vae
        expected = "this is a VQVAE checkpoint; pass it as --vae"
    elif case == "var_as_vae":
        vae = bad = var
        expected = "this is a VAR model checkpoint; pass it as --var"
    elif case == "truncated":
        data = var.read_bytes()
        var = bad = tmp_path / "cut.pth"
        var.write_bytes(data[: len(data) // 2])
        expected = "truncated"
    elif case == "refused_pickle":
        var = bad = tmp_path / "evil.pth"
        torch.save({"model": {"w": torch.zeros(1)}, "hook": os.getcwd, "p": Path("x")}, var)
        expected = "which omniar does not run"
    elif case == "missing":
        var = bad = tmp_path / "nowhere.pth"
        expected = "no such file"
    elif case == "unknown_width":
        var = bad = tmp_path / "narrow.pth"
        torch.save(var_state(depth=1, width=64, heads=2), var)
        expected = "unknown VAR architecture of width 64; expected one of 1024 (VAR-d16)"
    else:
        state = var_state(depth=1, seed=11)
        state["blocks.0.attn.extra"] = torch.zeros(1)
        var = bad = tmp_path / "extra.pth"
        torch.save(state, var)
        expected = "unknown ['blocks.0.attn.extra']"
    code = main(["convert", "var", "--var", str(var), "--vae", str(vae), "--out", str(tmp_path / "out")])
    error = capsys.readouterr().err.strip()
    assert code == 2 and len(error.splitlines()) == 1 and str(bad) in error and expected in error
    assert not (tmp_path / "out").exists()


def test_missing_and_unknown_keys_are_listed_and_known_buffers_dropped():
    state = var_state(depth=1)
    assert {"lvl_1L", "attn_bias_for_masking", "blocks.0.attn.zero_k_bias"} <= set(state)
    load_var(dict(state), "var.pth")
    del state["head.bias"]
    state["blocks.0.ffn.extra"] = torch.zeros(1)
    with pytest.raises(ValueError, match=r"missing \['head.bias'\]; unknown \['blocks.0.ffn.extra'\]"):
        load_var(state, "var.pth")
