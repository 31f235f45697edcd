"""PNG spectrograms of audio clips (log-mel, matplotlib on its Agg backend, no display needed).

Used by `omniar eval audio` and for the spoken-digit model card: one tile per clip, time on x,
mel bands on y, dB colour floored 80 dB below the clip's peak.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torchaudio.transforms as T


def log_mel(audio: np.ndarray | torch.Tensor, sample_rate: int, n_mels: int = 64) -> np.ndarray:
    """(n_mels, frames) mel magnitudes in dB of a mono clip (32 ms windows, 8 ms hop)."""
    waveform = torch.as_tensor(np.asarray(audio, dtype=np.float32))
    n_fft = round(0.032 * sample_rate)
    if waveform.ndim != 1 or waveform.numel() < n_fft:
        waveform = torch.nn.functional.pad(
            waveform.flatten(), (0, max(0, n_fft - waveform.numel()))
        )
    mel = T.MelSpectrogram(
        sample_rate, n_fft=n_fft, hop_length=n_fft // 4, n_mels=n_mels, power=1.0
    )
    return T.AmplitudeToDB("magnitude", top_db=80.0)(mel(waveform)).numpy()


def plot_spectrograms(
    audios: Sequence[np.ndarray | torch.Tensor],
    sample_rate: int,
    path: str | Path,
    titles: Sequence[str] | None = None,
    columns: int = 5,
) -> Path:
    """Write a grid of log-mel spectrograms of `audios` (mono, at `sample_rate`) to a PNG."""
    if not audios:
        raise ValueError("audios: nothing to plot")
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"spectrogram path {str(path)!r} must end in .png")
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    rows = math.ceil(len(audios) / columns)
    cols = min(columns, len(audios))
    figure, axes = plt.subplots(rows, cols, figsize=(2.4 * cols, 2.0 * rows), squeeze=False)
    for index, ax in enumerate(axes.flat):
        if index >= len(audios):
            ax.set_axis_off()
            continue
        spec = log_mel(audios[index], sample_rate)
        seconds = len(np.asarray(audios[index]).reshape(-1)) / sample_rate
        ax.imshow(
            spec, origin="lower", aspect="auto", cmap="magma", extent=(0, seconds, 0, spec.shape[0])
        )
        ax.set_yticks([])
        ax.tick_params(labelsize=7)
        if titles is not None:
            ax.set_title(titles[index], fontsize=9)
    figure.supxlabel("seconds", fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
