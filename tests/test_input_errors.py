"""Bad input fails before any work, with one OmniarError that names the argument (issue 27).

One table of cases runs through the command line (in process: exit status 2, one line on
stderr, no traceback) and through the Python API (an OmniarError), with generation and the
transformer's forward pass replaced by functions that fail the test if they are ever reached;
nothing may be written.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch

import omniar.loading
from omniar.cli import error_message, main
from omniar.errors import OmniarError
from omniar.models.ar_model import AutoregressiveModel
from omniar.pipelines.base import AutoregressivePipeline

MODEL = "emoji-t2i"
HERE = Path(__file__)

# (case id, `omniar generate image` arguments or None, API keyword arguments or None, the
# pattern the message must match: it names the argument). "{tmp}" is the test's empty folder.
CASES = [
    ("out-is-a-folder", ["red apple", "--out", "{tmp}"], None, r"--out '.*' is an existing folder"),
    ("out-suffix", ["red apple", "--out", "{tmp}/apple.jpg"], None, r"--out '.*apple\.jpg'.*\.png"),
    ("out-parent-is-a-file", ["red apple", "--out", f"{HERE}/apple.png"], None,
     r"--out .* is a file, not a folder"),
    ("scale", ["red apple", "--scale", "0"], None, r"--scale=0 is not valid"),
    ("num-huge", ["red apple", "--num", "100000000"], {"num_images_per_prompt": 100_000_000},
     r"num_images_per_prompt=100000000 is not valid; expected an integer from 1 to 4096"),
    ("num-zero", ["red apple", "--num", "0"], {"num_images_per_prompt": 0},
     r"num_images_per_prompt=0 is not valid"),
    ("cfg-inf", ["red apple", "--cfg", "inf"], {"guidance_scale": math.inf},
     r"guidance_scale=inf is not valid; expected a finite number >= 0"),
    ("cfg-nan", None, {"guidance_scale": math.nan}, r"guidance_scale=nan"),
    ("temperature-nan", ["red apple", "--temperature", "nan"], {"temperature": math.nan},
     r"temperature=nan is not valid; expected a finite number >= 0"),
    ("temperature-negative", ["red apple", "--temperature", "-1"], {"temperature": -1.0},
     r"temperature=-1(\.0)? is not valid"),
    ("top-p-zero", ["red apple", "--top-p", "0"], {"top_p": 0.0}, r"top_p=0(\.0)? .*\(0, 1\]"),
    ("top-p-above-one", ["red apple", "--top-p", "1.5"], {"top_p": 1.5}, r"top_p=1\.5 .*\(0, 1\]"),
    ("top-k-negative", ["red apple", "--top-k", "-1"], {"top_k": -1}, r"top_k=-1 .*integer >= 0"),
    ("min-p", None, {"min_p": 1.0}, r"min_p=1\.0 .*\[0, 1\)"),
    ("guidance-schedule", ["red apple", "--guidance-schedule", "cosine"],
     {"guidance_schedule": "cosine"}, r"guidance_schedule='cosine' .*did you mean 'power_cosine'"),
    ("preset", ["red apple", "--preset", "fst"], {"preset": "fst"}, r"preset='fst' .*'default'"),
    ("order", ["red apple", "--order", "rastr"], {"order": "rastr"},
     r"order='rastr' .*did you mean 'raster'"),
    ("decoding", None, {"decoding": "beam"}, r"decoding='beam' .*'sequential'"),
    ("decoding-option-typo", None, {"decoding": "jacobi", "decoding_options": {"windw": 4}},
     r"decoding_options .*'windw' \(did you mean 'window'\?\); accepted keys: \['init', "),
    ("decoding-option-for-sequential", ["red apple", "--window", "4"],
     {"decoding_options": {"window": 4}}, r"(--)?window|decoding='sequential' takes no options"),
    ("empty-prompt", [""], {"prompt": ""}, r"prompt='' is not valid"),
    ("prompt-not-text", None, {"prompt": 123}, r"prompt=123 is not valid; expected a non-empty str"),
    ("prompt-list-of-numbers", None, {"prompt": ["cat", 7]}, r"prompt=\['cat', 7\]"),
    ("class-labels", None, {"class_labels": 3}, r"class_labels=3 .*text-conditional"),
    ("generator-length", None, {"generator": [torch.Generator()] * 2},
     r"generator: a list of 2 .*a list of 1 torch.Generator"),
    ("generator-type", None, {"generator": 0}, r"generator=0 is not valid"),
    ("output-type", None, {"output_type": "gif"}, r"output_type='gif' .*'pil'"),
    ("batch-size", None, {"batch_size": 0}, r"batch_size=0 is not valid"),
]

# Output files of the other generate commands: refused before their model even loads.
OTHER_OUTPUTS = [
    (["graph", "graphs-tree", "--out", "{tmp}"], r"--out '.*' is an existing folder"),
    (["graph", "graphs-tree", "--out", "{tmp}/graphs.txt"], r"--out .*\.jsonl"),
    (["graph", "graphs-tree", "--png", "{tmp}/graphs.jpg"], r"--png .*\.png"),
    (["mesh", "cube", "--out", "{tmp}"], r"--out '.*' is an existing folder"),
    (["mesh", "cube", "--png", "{tmp}/cube.gif"], r"--png .*\.png"),
    (["audio", "seven", "--out", "{tmp}/seven.mp3"], r"--out .*\.wav"),
]


@pytest.fixture(scope="module")
def pipe():
    return omniar.loading.load(MODEL, device="cpu")


@pytest.fixture
def no_generation(monkeypatch, pipe):
    """Fail the test if decoding starts; the CLI gets the module's pipeline instead of loading."""
    def refuse(*args, **kwargs):
        raise AssertionError("generation started before the input was checked")

    monkeypatch.setattr(AutoregressivePipeline, "generate_tokens", refuse)
    monkeypatch.setattr(AutoregressiveModel, "forward", refuse)
    monkeypatch.setattr(omniar.loading, "load", lambda *args, **kwargs: pipe)


def fill(arguments: list[str], folder: Path) -> list[str]:
    return [argument.replace("{tmp}", str(folder)) for argument in arguments]


def assert_one_line_error(capsys, code: int, pattern: str) -> str:
    captured = capsys.readouterr()
    assert code == 2, captured
    assert "Traceback" not in captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("omniar generate: error: "), lines[0]
    assert re.search(pattern, lines[0]), (pattern, lines[0])
    return lines[0]


def cases(column: int) -> list:
    """The rows of CASES that have a CLI (column 1) or API (column 2) form, named by their id."""
    return [pytest.param(case[column], case[3], id=case[0]) for case in CASES
            if case[column] is not None]


@pytest.mark.parametrize("cli, pattern", cases(1))
def test_cli_refuses_bad_input_before_work(no_generation, tmp_path, capsys, cli, pattern):
    arguments = fill(cli, tmp_path)
    if "--out" not in arguments:
        arguments += ["--out", str(tmp_path / "out.png")]
    code = main(["generate", "image", *arguments])
    assert_one_line_error(capsys, code, pattern)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("api, pattern", cases(2))
def test_api_refuses_bad_input_before_work(no_generation, pipe, api, pattern):
    call = {"prompt": "red apple", **api}
    if "class_labels" in api:
        call.pop("prompt")
    with pytest.raises(OmniarError, match=pattern):
        pipe.check_inputs(**call)
    with pytest.raises(OmniarError, match=pattern):
        pipe(**call)


@pytest.mark.parametrize("arguments, pattern", OTHER_OUTPUTS,
                         ids=[" ".join(arguments[:1] + arguments[2:]) for arguments, _ in OTHER_OUTPUTS])
def test_other_generate_commands_check_outputs_before_loading(no_generation, tmp_path, capsys,
                                                              monkeypatch, arguments, pattern):
    def refuse(cls, *args, **kwargs):
        raise AssertionError("a model was loaded before the output files were checked")

    monkeypatch.setattr(AutoregressivePipeline, "from_pretrained", classmethod(refuse))
    code = main(["generate", *fill(arguments, tmp_path)])
    assert_one_line_error(capsys, code, pattern)
    assert list(tmp_path.iterdir()) == []


def test_the_guard_catches_generation(no_generation, pipe):
    """Valid input reaches generation, so the cases above did stop before it."""
    pipe.check_inputs(prompt="red apple", num_images_per_prompt=2, temperature=0.0)
    with pytest.raises(AssertionError, match="generation started"):
        pipe("red apple", decoding="jacobi", decoding_options={"window": 4})


def test_missing_output_folders_are_created(monkeypatch, pipe, tmp_path, capsys):
    monkeypatch.setattr(omniar.loading, "load", lambda *args, **kwargs: pipe)
    out = tmp_path / "new" / "folder" / "apple.png"
    assert main(["generate", "image", "red apple", "--num", "1", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {out}" in capsys.readouterr().out


def test_os_errors_read_as_their_reason_and_file():
    missing = FileNotFoundError(2, "No such file or directory", "missing_dir/x.png")
    assert error_message(missing) == "No such file or directory: missing_dir/x.png"
    assert error_message(KeyError("window")) == "window"
    assert error_message(OmniarError("two\nlines")) == "two lines"
