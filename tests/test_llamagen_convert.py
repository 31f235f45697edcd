"""`omniar convert llamagen`: the VQ round trip against a reference, the written folder, bad input."""

import argparse
import os
from pathlib import Path

import pytest
import torch
from llamagen_reference import gpt_state, vq_decode, vq_encode, vq_state

import omniar
from omniar.cli import main
from omniar.convert.checkpoint_files import load_state_dict
from omniar.convert.llamagen_vq import load_vq
from omniar.pipelines.image import ImagePipeline


def test_vq_round_trip_matches_the_reference():
    state = vq_state(seed=0)
    tokenizer, layout = load_vq(dict(state), "vq.pt")
    assert layout.downsample_factor == 4 and layout.codebook_size == 64
    images = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1
    codes = tokenizer.encode(images)
    expected = vq_encode(state, images)
    assert codes.shape == (2, 4, 4) and torch.equal(codes, expected)
    with torch.no_grad():
        pixels = tokenizer.decoder(tokenizer.latent_quantizer.embed(codes))
    assert (pixels - vq_decode(state, expected)).abs().max() <= 1e-4
    torch.testing.assert_close(tokenizer.decode(codes), pixels.clamp(-1, 1))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("llamagen")
    gpt = gpt_state("c2i", dim=64, inter=128, vocab=64)
    torch.save({"model": gpt, "args": argparse.Namespace(gpt_model="GPT-B")}, folder / "c2i_B_256.pt")
    torch.save({"model": vq_state(seed=3)}, folder / "vq_ds4.pt")
    return folder


def _convert(files: Path, out: Path, *extra: str, gpt: str = "c2i_B_256.pt", vq: str = "vq_ds4.pt") -> int:
    return main(["convert", "llamagen", "--gpt", str(files / gpt), "--vq", str(files / vq), "--out", str(out), *extra])


def test_small_width_is_an_unknown_architecture(files, tmp_path, capsys):
    assert _convert(files, tmp_path / "out") == 2
    error = capsys.readouterr().err
    assert "c2i_B_256.pt" in error and "unknown LlamaGen architecture of width 64" in error and "768 (GPT-B)" in error
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gptb")
    torch.save({"model": gpt_state("c2i", layers=1), "args": argparse.Namespace(gpt_model="GPT-B")},
               folder / "c2i_B_256.pt")
    # VQ-16 layout at reduced width, as a raw state dict at top level
    torch.save(vq_state(seed=3, ch_mult=(1, 1, 1, 1, 1), res_blocks=1, codebook_size=16384), folder / "vq.pt")
    assert _convert(folder, folder / "lg-b", "--image-size", "256", "--dtype", "bfloat16", vq="vq.pt") == 0
    return folder


def test_converted_folder_loads_and_generates_by_class_id_or_name(converted):
    out = converted / "lg-b"
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "model_index.json", "tokenizer", "transformer"]
    assert not [p for p in converted.iterdir() if p.name.startswith(".")]
    pipe = omniar.load(str(out))
    assert isinstance(ImagePipeline.from_pretrained(str(out)), ImagePipeline)
    presets = pipe.config.sampling_presets
    assert presets["default"] == {"guidance_scale": 4.0, "top_k": 2000, "top_p": 1.0, "temperature": 1.0}
    assert presets["fid"]["guidance_scale"] == 2.0 and presets["fid"]["top_k"] == 0
    assert len(pipe.config.class_names) == 1000 and pipe.config.class_names[207] == "golden retriever"
    assert pipe.transformer.config.norm_eps == 1e-5 and pipe.transformer.config.prefix_rotation == "zero"
    out = pipe(class_labels=[207, "Golden Retriever"], top_k=1, guidance_scale=1.0, output_type="tokens")
    assert out.images.shape == (2, 256) and torch.equal(out.images[0], out.images[1])


def test_existing_out_is_kept_unless_force(converted, capsys):
    out = converted / "lg-b"
    marker = out / "README.md"
    before = marker.read_text()
    assert _convert(converted, out, vq="vq.pt") == 2
    assert "--force" in capsys.readouterr().err and marker.read_text() == before


@pytest.mark.parametrize("case", ["not_a_checkpoint", "vq_as_gpt", "gpt_as_vq", "truncated", "refused_pickle",
                                  "missing"])
def test_bad_files_are_one_line_naming_the_file(case, files, tmp_path, capsys):
    gpt, vq = files / "c2i_B_256.pt", files / "vq_ds4.pt"
    if case == "not_a_checkpoint":
        gpt = tmp_path / "notes.pt"
        gpt.write_text("not a checkpoint\n")
        expected = "not a"
    elif case == "vq_as_gpt":
        gpt, expected = vq, "this is a VQ tokenizer checkpoint"
    elif case == "gpt_as_vq":
        gpt, vq = files / "c2i_B_256.pt", files / "c2i_B_256.pt"
        expected = "unknown LlamaGen architecture"  # the GPT is checked first, then:
        state = load_state_dict(gpt, "--gpt")
        with pytest.raises(ValueError, match="this is a GPT checkpoint; pass it as --gpt"):
            load_vq(state, gpt)
    elif case == "truncated":
        data = (files / "c2i_B_256.pt").read_bytes()
        gpt = tmp_path / "cut.pt"
        gpt.write_bytes(data[: len(data) // 2])
        expected = "truncated"
    elif case == "refused_pickle":
        gpt = tmp_path / "evil.pt"
        torch.save({"model": {"w": torch.zeros(1)}, "hook": os.getcwd, "p": Path("x")}, gpt)
        expected = "which omniar does not run"
    else:
        gpt, expected = tmp_path / "nowhere.pt", "no such file"
    code = main(["convert", "llamagen", "--gpt", str(gpt), "--vq", str(vq), "--out", str(tmp_path / "out")])
    error = capsys.readouterr().err.strip()
    assert code == 2 and len(error.splitlines()) == 1 and str(gpt) in error and expected in error
    assert not (tmp_path / "out").exists()


def test_unknown_keys_are_listed(tmp_path):
    state = gpt_state("c2i")
    state["layers.0.attention.extra.weight"] = torch.zeros(1)
    del state["norm.weight"]
    from omniar.convert.llamagen import load_gpt

    with pytest.raises(ValueError, match=r"missing \['norm.weight'\]; unknown \['layers.0.attention.extra.weight'\]"):
        load_gpt(state, "c2i.pt")
