"""WAV reading and writing (soundfile) and peak normalisation.

The waveform conventions (float32 in [-1, 1], downmixing with a warning, refusing empty, silent
or non-finite audio) and resampling live in `omniar.tokenizers.waveform`, which the codec
tokenizer uses too; they are re-exported here. Writing refuses samples outside [-1, 1] instead
of letting the WAV encoder clip them.

soundfile (libsndfile) is used for I/O because torchaudio's own loaders now need torchcodec and
FFmpeg.
"""

from __future__ import annotations

import math
import numbers
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from omniar.tokenizers.waveform import (
    SILENCE_THRESHOLD,
    check_sample_rate,
    downmix,
    resample,
    validate_waveform,
)

__all__ = [
    "SILENCE_THRESHOLD",
    "check_peak_db",
    "check_sample_rate",
    "downmix",
    "normalize_peak",
    "read_wav",
    "resample",
    "validate_waveform",
    "write_wav",
]

_WAV_FORMATS = {"WAV", "WAVEX", "RF64"}


def check_peak_db(peak_db: float) -> float:
    """Return ``peak_db`` if it is a finite level at or below full scale (0 dBFS), else raise."""
    real = isinstance(peak_db, numbers.Real) and not isinstance(peak_db, bool)
    if not real or not math.isfinite(peak_db) or peak_db > 0:
        raise ValueError(f"peak_db must be a finite level <= 0 dBFS (e.g. -1.0), got {peak_db!r}")
    return float(peak_db)


def normalize_peak(waveform: torch.Tensor, peak_db: float) -> torch.Tensor:
    """Scale a ``(T,)`` or ``(B, T)`` waveform so each clip peaks at ``peak_db`` dBFS.

    Peak rather than BS.1770 loudness: the gated loudness measure needs 400 ms blocks, and the
    clips omniar generates are often shorter. Silent clips (peak <= ``SILENCE_THRESHOLD``) are
    returned unchanged rather than amplified noise. ``peak_db`` must be <= 0, or the clip
    would clip.
    """
    check_peak_db(peak_db)
    waveform = validate_waveform(waveform, allow_silent=True)
    peaks = waveform.abs().amax(dim=-1, keepdim=True)
    gain = torch.where(
        peaks > SILENCE_THRESHOLD, 10 ** (peak_db / 20) / peaks.clamp_min(SILENCE_THRESHOLD), 1.0
    )
    return waveform * gain


def read_wav(
    path: str | Path,
    sample_rate: int | None = None,
    allow_silent: bool = False,
) -> tuple[torch.Tensor, int]:
    """Read a WAV file as a mono float32 waveform ``(T,)`` and its sample rate.

    Multi-channel files are downmixed (with a warning). With ``sample_rate`` the audio is
    resampled to it and that rate is returned. Raises ``ValueError`` naming the file when it is
    missing, not a WAV, corrupt, empty, silent (unless ``allow_silent``) or holds NaN/inf.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"WAV file {str(path)!r} does not exist")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as err:
        raise ValueError(f"{str(path)!r} is not a readable audio file: {err}") from err
    if info.format not in _WAV_FORMATS:
        raise ValueError(f"{str(path)!r} is a {info.format} file; expected WAV")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise ValueError(f"{str(path)!r} is a corrupt WAV file: {err}") from err
    waveform = torch.from_numpy(data.T.copy())
    if waveform.shape[-1] == 0:
        raise ValueError(f"WAV file {str(path)!r} has no samples")
    waveform = downmix(waveform, channel_dim=0, name=f"WAV file {str(path)!r}")
    waveform = validate_waveform(waveform, f"WAV file {str(path)!r}", allow_silent=allow_silent)
    if sample_rate is not None:
        waveform = resample(waveform, rate, sample_rate)
        rate = int(sample_rate)
    return waveform, int(rate)


def write_wav(
    path: str | Path,
    waveform: torch.Tensor | np.ndarray,
    sample_rate: int,
    subtype: str = "PCM_16",
) -> Path:
    """Write a mono ``(T,)`` (or ``(1, T)``) waveform to a WAV file and return its path.

    Raises ``ValueError`` for NaN/inf samples, more than one channel, or samples outside
    [-1, 1], which a PCM encoder would clip: scale the audio first (omniar's codec output is
    already bounded by a tanh).
    """
    rate = check_sample_rate(sample_rate)
    if isinstance(waveform, np.ndarray):
        waveform = torch.from_numpy(waveform)
    if waveform.ndim == 2 and waveform.shape[0] == 1:
        waveform = waveform[0]
    if waveform.ndim != 1:
        raise ValueError(
            f"waveform must be mono with shape (T,) or (1, T), got {tuple(waveform.shape)}"
        )
    waveform = validate_waveform(waveform.detach().cpu(), allow_silent=True)
    peak = float(waveform.abs().max())
    if peak > 1.0:
        raise ValueError(
            f"waveform peak is {peak:.3f} > 1.0 and would clip when written to {str(path)!r}; "
            "scale it into [-1, 1] first"
        )
    path = Path(path)
    if path.suffix.lower() != ".wav":
        raise ValueError(f"output path {str(path)!r} must end in .wav")
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), waveform.numpy(), rate, subtype=subtype, format="WAV")
    return path
