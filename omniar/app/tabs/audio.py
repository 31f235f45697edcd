"""Audio tab: a spoken digit in a chosen voice from the shipped `AudioPipeline` ("fsdd-digits").

Shown only when that model is installed and loads. The clip is written as a WAV file for the
player and drawn as a log-mel spectrogram.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image

from omniar.app.events import GENERATION_JOB, shows_errors
from omniar.app.formatting import stats_table
from omniar.app.models import embedded_pipelines, get_pipeline, seeded_generator
from omniar.app.outputs import request_folder
from omniar.app.spectrogram import spectrogram_image
from omniar.app.validation import check_choice, check_seed
from omniar.data.audio_io import write_wav

TITLE = "Audio"
POSITION = 20

MODEL = "fsdd-digits"
PEAK_DB = -1.0
"""Level the "even out the volume" box scales clips to: the FSDD speakers recorded at levels ~20x apart."""
STATS_LABELS = {"duration": "seconds of audio", "forward_passes": "forward passes", "seconds": "seconds"}

logger = logging.getLogger(__name__)


@dataclass
class AudioResult:
    """The clip as a WAV file, its spectrogram, and the pipeline's stats (plus its duration)."""

    wav: Path
    spectrogram: Image.Image
    stats: dict[str, Any]


def available() -> bool:
    """True when the digits model is shipped and loads (its pipeline may not exist yet)."""
    if MODEL not in embedded_pipelines("AudioPipeline"):
        return False
    try:
        get_pipeline(MODEL)
    except Exception:  # any failure to load only hides this tab
        logger.warning("demo: the %s model did not load; no Audio tab", MODEL, exc_info=True)
        return False
    return True


def generate_audio(pipe: Any, digit: str, speaker: str, seed: int, folder: Path,
                   peak_db: float | None = None) -> AudioResult:
    """One clip of `digit` spoken by `speaker`, written to `folder` as WAV (peaking at `peak_db` dBFS if given)."""
    digit = check_choice("digit", digit, list(pipe.class_names))
    speaker = check_choice("speaker", speaker, list(pipe.speakers))
    output = pipe(class_labels=[digit], speaker=speaker, peak_db=peak_db,
                  generator=seeded_generator(pipe, check_seed(seed)))
    audio, rate = output.audios[0], int(output.sample_rate)
    wav = write_wav(folder / f"{digit}-{speaker}.wav", audio, rate)
    stats = {**output.stats, "duration": len(audio) / rate}
    return AudioResult(wav, spectrogram_image(audio, rate), stats)


@shows_errors
def on_generate(digit: str, speaker: str, seed: int, even_volume: bool,
                progress: gr.Progress = gr.Progress(track_tqdm=True)) -> tuple[str, Image.Image, str]:
    """Generate button: the WAV for the player, the spectrogram and a stats table."""
    progress(0, desc=f"loading {MODEL}")
    result = generate_audio(get_pipeline(MODEL), digit, speaker, seed, request_folder("audio"),
                            peak_db=PEAK_DB if even_volume else None)
    return str(result.wav), result.spectrogram, stats_table(result.stats, STATS_LABELS)


def build() -> None:
    """Digit, speaker and seed on the left; the player, the spectrogram and the stats on the right."""
    pipe = get_pipeline(MODEL)
    digits, speakers = list(pipe.class_names), list(pipe.speakers)
    with gr.Row():
        with gr.Column(scale=1):
            digit = gr.Dropdown(digits, value=digits[0], label="Digit")
            speaker = gr.Dropdown(speakers, value=speakers[0], label="Speaker")
            seed = gr.Number(0, label="Seed", precision=0)
            even_volume = gr.Checkbox(True, label=f"Even out the volume (peak {PEAK_DB:g} dBFS)")
            generate = gr.Button("Generate audio", variant="primary")
            stats = gr.Markdown()
        with gr.Column(scale=2):
            player = gr.Audio(label="Audio", type="filepath", interactive=False, buttons=["download"],
                              elem_id="audio-player")
            picture = gr.Image(label="Log-mel spectrogram", format="png", buttons=["download"],
                               elem_id="audio-spectrogram")
    generate.click(on_generate, [digit, speaker, seed, even_volume], [player, picture, stats], api_name="generate_audio",
                   **GENERATION_JOB)
