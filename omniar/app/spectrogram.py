"""A log-mel spectrogram picture of a waveform, to show beside the audio player."""

from __future__ import annotations

import numpy as np
import torch
import torchaudio
from matplotlib import colormaps
from PIL import Image

FRAME_SECONDS = 0.032
NUM_MELS = 64
DYNAMIC_RANGE_DB = 80.0


def spectrogram_image(audio: np.ndarray, sample_rate: int, scale: int = 4) -> Image.Image:
    """Log-mel spectrogram (32 ms frames, 8 ms hop, 64 bands, 80 dB range) coloured with magma,
    low frequencies at the bottom, each cell upscaled `scale` times."""
    n_fft = max(16, int(round(FRAME_SECONDS * sample_rate)))
    mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=sample_rate, n_fft=n_fft, hop_length=n_fft // 4, n_mels=NUM_MELS,
    )(torch.as_tensor(audio, dtype=torch.float32).flatten())
    decibels = 10 * torch.log10(mel.clamp_min(1e-10))
    decibels = decibels.clamp_min(decibels.max() - DYNAMIC_RANGE_DB)
    level = ((decibels - decibels.min()) / (decibels.max() - decibels.min()).clamp_min(1e-6)).numpy()
    colours = (colormaps["magma"](np.flipud(level))[..., :3] * 255).astype(np.uint8)
    image = Image.fromarray(colours)
    return image.resize((image.width * scale, image.height * scale), Image.NEAREST)
