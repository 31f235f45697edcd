"""WAV reading and writing (soundfile), waveform validation and resampling (torchaudio).

Conventions used across omniar's audio code:

- A waveform is float32 in [-1, 1]; mono is ``(T,)``, a batch is ``(B, T)``.
- Multi-channel input is **downmixed** to mono by averaging the channels, with a ``UserWarning``
  (omniar's audio models are mono); it is never silently dropped.
- Zero-length audio, all-silent audio (every ``|x| <= SILENCE_THRESHOLD``) and NaN/inf samples
  are refused with a ``ValueError`` that names the input.
- Writing refuses samples outside [-1, 1] instead of letting the WAV encoder clip them.

soundfile (libsndfile) is used for I/O because torchaudio's own loaders now need torchcodec and
FFmpeg; resampling is torchaudio's band-limited ``torchaudio.functional.resample``.
"""

from __future__ import annotations

import math
import numbers
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

SILENCE_THRESHOLD = 1e-5
"""Peak amplitude at or below which a waveform counts as silent."""

_WAV_FORMATS = {"WAV", "WAVEX", "RF64"}


def check_sample_rate(sample_rate: float, name: str = "sample_rate") -> int:
    """Return ``sample_rate`` as an int, or raise ``ValueError`` if it is not a positive integer.

    Any two positive integer rates can be resampled between (non-integer ratios included).
    """
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, float, np.number)):
        # omniar's contract: every bad argument raises ValueError, including wrong types.
        raise ValueError(  # noqa: TRY004
            f"{name} must be a positive integer number of Hz, got {sample_rate!r}"
        )
    if not math.isfinite(float(sample_rate)) or sample_rate <= 0:
        raise ValueError(f"{name} must be a positive integer number of Hz, got {sample_rate!r}")
    if float(sample_rate) != int(sample_rate):
        raise ValueError(f"{name} must be a whole number of Hz, got {sample_rate!r}")
    return int(sample_rate)


def downmix(waveform: torch.Tensor, channel_dim: int, name: str = "waveform") -> torch.Tensor:
    """Average the channels along ``channel_dim``, warning when there is more than one."""
    channels = waveform.shape[channel_dim]
    if channels > 1:
        warnings.warn(
            f"{name} has {channels} channels; downmixing to mono by averaging them.",
            UserWarning,
            stacklevel=3,
        )
    return waveform.mean(dim=channel_dim)


def validate_waveform(
    waveform: torch.Tensor, name: str = "waveform", allow_silent: bool = False
) -> torch.Tensor:
    """Check a ``(..., T)`` waveform: non-empty, finite, and (unless allowed) not silent.

    Silence is checked per waveform (per row of a batch), so one silent item is reported by index.
    Returns the waveform as float32.
    """
    if not torch.is_tensor(waveform):
        raise ValueError(f"{name} must be a torch.Tensor or numpy array, got {type(waveform)}")
    if not waveform.is_floating_point():
        raise ValueError(f"{name} must hold float samples in [-1, 1], got dtype {waveform.dtype}")
    if waveform.ndim == 0 or waveform.shape[-1] == 0 or waveform.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(waveform.shape)}); expected samples")
    waveform = waveform.float()
    if not torch.isfinite(waveform).all():
        bad = int((~torch.isfinite(waveform)).sum())
        raise ValueError(f"{name} contains {bad} NaN or infinite samples")
    if not allow_silent:
        peaks = waveform.abs().reshape(-1, waveform.shape[-1]).amax(dim=-1)
        silent = (peaks <= SILENCE_THRESHOLD).nonzero().flatten().tolist()
        if silent:
            where = "" if waveform.ndim == 1 else f" (batch items {silent})"
            raise ValueError(f"{name} is all silent{where}: peak amplitude <= {SILENCE_THRESHOLD}")
    return waveform


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


def resample(waveform: torch.Tensor, orig_sample_rate: int, new_sample_rate: int) -> torch.Tensor:
    """Resample the last dimension from ``orig_sample_rate`` to ``new_sample_rate`` (Hz)."""
    orig = check_sample_rate(orig_sample_rate, "orig_sample_rate")
    new = check_sample_rate(new_sample_rate, "new_sample_rate")
    if orig == new:
        return waveform
    return AF.resample(waveform, orig, new)


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
