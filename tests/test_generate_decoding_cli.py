"""`--decoding`, `--window`, `--init` of the generate commands: parsing, errors, a tiny run."""

import argparse
import json
import re

import pytest
import torch

from omniar.commands import generate_graph, generate_image, generate_mesh
from omniar.commands.decoding_args import decoding_options, decoding_summary
from omniar.models.ar_model import AutoregressiveModel
from omniar.models.caption_encoder import CaptionEncoder
from omniar.pipelines.image import ImagePipeline
from omniar.tokenizers.image_vq import ImageVQTokenizer

SUMMARY = re.compile(
    r"decoding (\w+)(?: \((.*)\))?: (\d+) forward passes for (\d+) samples?, "
    r"([\d.]+) accepted tokens per pass per sample"
)


@pytest.fixture(scope="module")
def parser() -> argparse.ArgumentParser:
    """`generate image|graph|mesh` only (the full `omniar` parser imports every command)."""
    parser = argparse.ArgumentParser(prog="omniar generate")
    inner = parser.add_subparsers(dest="target", required=True)
    for module in (generate_image, generate_graph, generate_mesh):
        module.register(inner)
    return parser


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> str:
    """A saved text-to-image pipeline with random weights: 16x16 images, 4x4 tokens."""
    torch.manual_seed(0)
    tokenizer = ImageVQTokenizer(downsample_factor=4, block_out_channels=(16, 16, 16),
                                 norm_num_groups=8, fsq_levels=(4, 4))
    transformer = AutoregressiveModel(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_layers=1, num_heads=2, rope_axes=2,
        condition="text", text_dim=32,
    )
    pipe = ImagePipeline(
        transformer=transformer.eval(), tokenizer=tokenizer.eval(),
        text_encoder=CaptionEncoder(hidden_size=32, num_layers=1, max_length=24), image_size=16,
        sampling_presets={"default": {"top_k": 8, "guidance_scale": 2.0}},
    )
    folder = tmp_path_factory.mktemp("pipe")
    pipe.save_pretrained(folder)
    return str(folder)


def image_args(parser, *extra: str) -> argparse.Namespace:
    return parser.parse_args(["image", "a cat", *extra])


def test_options_parse_into_decoding_options(parser):
    args = image_args(parser, "--decoding", "jacobi", "--window", "4", "--init", "left")
    assert decoding_options(args) == {"window": 4, "init": "left"}
    assert decoding_options(image_args(parser, "--decoding", "jacobi", "--window", "0")) == {
        "window": 0}
    assert decoding_options(image_args(parser, "--decoding", "zipar", "--window", "2")) == {
        "window": 2}
    assert decoding_options(image_args(parser, "--decoding", "jacobi")) is None
    assert decoding_options(image_args(parser)) is None


@pytest.mark.parametrize("extra", [
    ("--window", "-1"), ("--window", "two"), ("--init", "up"), ("--decoding", "beam"),
])
def test_bad_values_are_argparse_errors(parser, capsys, extra):
    with pytest.raises(SystemExit) as exit_info:
        image_args(parser, *extra)
    assert exit_info.value.code == 2
    assert f"argument {extra[0]}" in capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (("--window", "4"), "--window does not apply to --decoding sequential"),
    (("--decoding", "zipar", "--init", "left"), "--init does not apply to --decoding zipar"),
])
def test_options_that_do_not_apply_are_refused(parser, extra, message):
    with pytest.raises(ValueError, match=message):
        decoding_options(image_args(parser, *extra))


def test_graph_and_mesh_offer_sequence_decoders_only(parser, capsys):
    for command in (["graph", "graphs-tree"], ["mesh", "chair"]):
        args = parser.parse_args([*command, "--decoding", "jacobi", "--window", "4"])
        assert decoding_options(args) == {"window": 4}
        with pytest.raises(SystemExit):
            parser.parse_args([*command, "--decoding", "zipar"])
        with pytest.raises(ValueError, match="does not apply to --decoding sequential"):
            decoding_options(parser.parse_args([*command, "--window", "4"]))
    capsys.readouterr()


def test_graph_command_passes_the_jacobi_window_to_the_decoder(parser, tmp_path, capsys):
    from omniar.commands.generate_graph import load_pipeline, sample_graphs

    args = parser.parse_args(["graph", "graphs-tree", "--decoding", "jacobi", "--window", "3",
                              "--init", "left", "--num", "2"])
    pipe = load_pipeline(args.model, "cpu")
    stats = sample_graphs(pipe, args, 2).stats
    assert stats["decoding"] == "jacobi" and stats["window"] == 3
    capsys.readouterr()


def test_summary_line_names_settings_passes_and_accepted_tokens():
    stats = {"forward_passes": 30, "samples": 2, "seconds": 0.5, "tokens_per_pass": 2.0,
             "mean_accepted_tokens_per_pass": 2.13, "window": 4.0}
    assert decoding_summary(stats, "jacobi", {"init": "left"}) == (
        "decoding jacobi (window 4, init left): 30 forward passes for 2 samples, "
        "2.13 accepted tokens per pass per sample, 0.50 s")
    line = decoding_summary({"forward_passes": 64, "samples": 1, "tokens_per_pass": 1.0},
                            "sequential")
    assert line.startswith("decoding sequential: 64 forward passes for 1 sample, 1.00 accepted")


def run_image(parser, capsys, saved: str, out, *extra: str) -> tuple[re.Match, dict]:
    args = image_args(parser, "--model", saved, "--num", "2", "--out", str(out), *extra)
    assert generate_image.run(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    match = SUMMARY.fullmatch(lines[-2].rsplit(", ", 1)[0])
    assert match, lines
    return match, json.loads(lines[-1])


def test_tiny_pipeline_jacobi_reports_accepted_tokens_per_pass(parser, capsys, saved, tmp_path):
    match, stats = run_image(parser, capsys, saved, tmp_path / "j.png",
                             "--decoding", "jacobi", "--window", "4")
    assert match[1] == "jacobi" and match[2] == "window 4, init random"
    assert int(match[3]) == stats["forward_passes"] <= 16 and int(match[4]) == 2
    accepted = float(match[5])
    assert accepted == pytest.approx(stats["mean_accepted_tokens_per_pass"], abs=0.005)
    assert 1.0 <= accepted <= 5.0  # 1 + window at most
    assert stats["decoding"] == "jacobi" and stats["window"] == 4


def test_tiny_pipeline_options_reach_the_decoders(parser, capsys, saved, tmp_path):
    match, stats = run_image(parser, capsys, saved, tmp_path / "z.png",
                             "--decoding", "zipar", "--window", "2")
    assert stats["forward_passes"] == 3 * 2 + 4  # (rows - 1) * window + row length, 4x4 tokens
    assert match[2] == "window 2"
    greedy = ("--temperature", "0")
    _, sequential = run_image(parser, capsys, saved, tmp_path / "s.png", *greedy)
    _, jacobi = run_image(parser, capsys, saved, tmp_path / "g.png", *greedy,
                          "--decoding", "jacobi", "--window", "3", "--init", "left")
    assert (tmp_path / "s.png").read_bytes() == (tmp_path / "g.png").read_bytes()
    assert jacobi["forward_passes"] <= sequential["forward_passes"] == 16
