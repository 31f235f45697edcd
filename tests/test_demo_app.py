"""The Gradio demo (`omniar demo`): the real app in a subprocess, driven with gradio_client.

One app process serves every test of this module and of test_demo_browser.py (`shared_demo`);
it is started on a free loopback port and stopped when the test session ends.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("gradio", reason="the demo needs gradio (pip install -e '.[dev]')")
gradio_client = pytest.importorskip("gradio_client", reason="gradio_client comes with gradio")

from PIL import Image  # noqa: E402

from omniar.cli import build_parser  # noqa: E402
from omniar.cli import main as cli_main  # noqa: E402

STARTUP_SECONDS = 180
IMAGE_MODEL = "emoji-t2i:raster"


@dataclass
class DemoServer:
    """A running `omniar demo` subprocess, its URL and its log file."""

    process: subprocess.Popen
    url: str
    log: Path

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        """Ctrl-C, as a user stops it (the app then removes its files), then the log folder."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.log.parent, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_demo() -> DemoServer:
    """Start `python -m omniar.cli demo --port N` and wait until it answers HTTP requests."""
    port = free_port()
    log = Path(tempfile.mkdtemp(prefix="omniar-demo-test-")) / "demo.log"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "omniar.cli", "demo", "--port", str(port)],
            stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=log.parent,
        )
    server = DemoServer(process, f"http://127.0.0.1:{port}/", log)
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"omniar demo exited with {process.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(server.url, timeout=5) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.5)
    server.stop()
    raise RuntimeError(f"omniar demo did not answer within {STARTUP_SECONDS} s:\n{server.log_tail()}")


_SERVER: list[DemoServer] = []


def shared_demo() -> DemoServer:
    """The one demo process of this test session, started on first use."""
    if not _SERVER:
        _SERVER.append(start_demo())
        atexit.register(_SERVER[0].stop)
    return _SERVER[0]


@pytest.fixture(scope="module")
def demo() -> DemoServer:
    return shared_demo()


@pytest.fixture(scope="module")
def client(demo: DemoServer):
    return gradio_client.Client(demo.url, verbose=False)


def endpoints(client) -> set[str]:
    return set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])


def generate_image(client, prompt: str = "grinning face", decoding: str = "sequential", seed: int = 0,
                   num_images: int = 2, temperature: float = 0.7):
    return client.predict(prompt, IMAGE_MODEL, decoding, 1.0, temperature, 0, seed, num_images,
                          api_name="/generate_image")


def assert_png(path: str, min_side: int = 32) -> Image.Image:
    image = Image.open(path)
    assert image.format == "PNG"
    assert min(image.size) >= min_side
    assert image.convert("L").getextrema()[0] < image.convert("L").getextrema()[1], "a blank image"
    return image


# ---------------------------------------------------------------- the command line


def test_demo_command_defaults_bind_loopback_without_share():
    args = build_parser().parse_args(["demo"])
    assert (args.host, args.port, args.share) == ("127.0.0.1", 7860, False)
    assert build_parser().parse_args(["demo", "--share", "true", "--port", "9000"]).share is True


def test_demo_command_refuses_a_bad_share_value(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--share", "maybe"])
    assert "expected true or false" in capsys.readouterr().err


def test_demo_command_reports_a_taken_port_in_one_line(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli_main(["demo", "--port", str(port)]) == 2
    message = capsys.readouterr().err.strip()
    assert message == f"omniar demo: error: cannot listen on 127.0.0.1:{port} (Address already in use); " \
        "choose another --port or --host"


# ---------------------------------------------------------------- every tab, through the API


def test_image_tab_returns_png_images_and_stats(client):
    gallery, stats = generate_image(client, num_images=2)
    assert len(gallery) == 2
    for item in gallery:
        assert assert_png(item["image"], min_side=256).size == (256, 256)
    assert "forward passes" in stats and "accepted tokens per pass" in stats


def test_same_seed_gives_the_same_images(client):
    first = [np.asarray(Image.open(item["image"])) for item in generate_image(client, seed=3)[0]]
    again = [np.asarray(Image.open(item["image"])) for item in generate_image(client, seed=3)[0]]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))


def test_compare_decodings_shows_sequential_and_jacobi_with_times(client):
    sequential, jacobi, table = client.predict("red apple", IMAGE_MODEL, 1.0, 0.7, 0, 0, 4,
                                               api_name="/compare_decodings")
    assert_png(sequential)
    assert_png(jacobi)
    assert "| sequential |" in table and "| jacobi |" in table and "seconds" in table


def test_graph_tab_returns_a_drawing_and_metrics(client):
    drawing, metrics = client.predict("graphs-tree", 3, 0, api_name="/generate_graphs")
    assert_png(drawing, min_side=100)
    rows = dict(metrics["data"])
    assert rows["graphs"] == "3"
    assert rows["valid (tree)"].endswith("%")


def test_mesh_tab_returns_glb_and_obj(client):
    import trimesh

    viewer, files, stats = client.predict("cube", 0, api_name="/generate_mesh")
    assert Path(viewer).read_bytes()[:4] == b"glTF"
    assert sorted(Path(f).suffix for f in files) == [".glb", ".obj"]
    obj = next(f for f in files if f.endswith(".obj"))
    assert len(trimesh.load(obj, force="mesh").faces) > 0
    assert "faces" in stats


def test_audio_tab_returns_a_wav_and_a_spectrogram(client):
    import soundfile

    if "/generate_audio" not in endpoints(client):
        pytest.skip("no Audio tab: the fsdd-digits model is not shipped in assets/ (or did not load)")
    from omniar import load
    from omniar.app.tabs.audio import PEAK_DB

    pipe = load("fsdd-digits")
    wav, spectrogram, stats = client.predict(pipe.class_names[0], pipe.speakers[0], 0, True,
                                             api_name="/generate_audio")
    audio, rate = soundfile.read(wav)
    assert rate == pipe.sample_rate and len(audio) > 0
    assert np.abs(audio).max() == pytest.approx(10 ** (PEAK_DB / 20), abs=1e-3)
    assert_png(spectrogram)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"prompt": "   "}, "prompt is empty"),
        ({"num_images": 100}, "maximum"),
        ({"seed": -1}, "seed must be between"),
        ({"temperature": 9.0}, "maximum"),
    ],
    ids=["empty-prompt", "too-many-images", "negative-seed", "temperature-out-of-range"],
)
def test_bad_input_is_reported_and_the_app_keeps_serving(client, overrides, message):
    with pytest.raises(gradio_client.exceptions.AppError, match=message):
        generate_image(client, **overrides)
    gallery, _ = generate_image(client, num_images=1)
    assert len(gallery) == 1


def test_unknown_choices_are_refused(client):
    with pytest.raises(gradio_client.exceptions.AppError, match="no-such-class"):
        client.predict("no-such-class", 0, api_name="/generate_mesh")
    with pytest.raises(gradio_client.exceptions.AppError, match="no-such-model"):
        client.predict("no-such-model", 2, 0, api_name="/generate_graphs")


def test_page_loads_no_web_fonts(demo):
    with urllib.request.urlopen(demo.url, timeout=10) as response:
        html = response.read().decode()
    assert "fonts.googleapis" not in html and "fonts.gstatic" not in html


# ---------------------------------------------------------------- the pieces, in process


def test_tabs_are_ordered_and_the_audio_tab_follows_its_model():
    from omniar.app.models import embedded_pipelines
    from omniar.app.tabs import available_tabs

    titles = [tab.TITLE for tab in available_tabs()]
    expected = ["Image", "Audio", "3D", "Graph"]
    if "fsdd-digits" not in embedded_pipelines("AudioPipeline"):
        expected.remove("Audio")
    assert titles == expected


class FakeAudioPipeline:
    """Stands in for `omniar.AudioPipeline`: a 0.5 s tone for any digit and speaker."""

    class_names = ["zero", "one"]
    speakers = ["theo", "jackson"]
    device = "cpu"

    def __call__(self, class_labels, speaker, generator, peak_db=None):
        self.peak_db = peak_db
        tone = 0.5 * np.sin(np.linspace(0, 2 * np.pi * 220, 4000)).astype(np.float32)
        return SimpleNamespace(audios=[tone], sample_rate=8000, stats={"forward_passes": 10, "seconds": 0.1})


def test_generate_audio_writes_a_wav_and_draws_a_spectrogram(tmp_path):
    import soundfile

    from omniar.app.spectrogram import NUM_MELS
    from omniar.app.tabs.audio import generate_audio

    pipe = FakeAudioPipeline()
    result = generate_audio(pipe, "one", "theo", 0, tmp_path)
    assert pipe.peak_db is None
    generate_audio(pipe, "one", "theo", 0, tmp_path, peak_db=-1.0)
    assert pipe.peak_db == -1.0
    audio, rate = soundfile.read(result.wav)
    assert (rate, len(audio)) == (8000, 4000)
    assert result.stats["duration"] == pytest.approx(0.5)
    assert result.spectrogram.height == 4 * NUM_MELS and result.spectrogram.width > 0
    with pytest.raises(ValueError, match="speaker must be one of"):
        generate_audio(FakeAudioPipeline(), "one", "nobody", 0, tmp_path)


def test_validation_names_the_field_and_the_range():
    from omniar.app.validation import check_integer, check_number, check_prompt

    assert check_prompt("  red apple ") == "red apple"
    assert check_integer("number of images", 4.0, 1, 16) == 4
    for bad in (2.5, "3", None, True):
        with pytest.raises(ValueError, match="number of images must be a whole number"):
            check_integer("number of images", bad, 1, 16)
    with pytest.raises(ValueError, match="guidance scale must be between 1.0 and 10.0"):
        check_number("guidance scale", float("inf"), 1.0, 10.0)
    with pytest.raises(ValueError, match="guidance scale must be a number"):
        check_number("guidance scale", float("nan"), 1.0, 10.0)
