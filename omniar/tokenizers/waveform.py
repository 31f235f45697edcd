"""Waveform conventions shared by the audio codec, the audio data sets and the metrics.

- A waveform is float32 in [-1, 1]; mono is ``(T,)``, a batch is ``(B, T)``.
- Multi-channel input is **downmixed** to mono by averaging the channels, with a ``UserWarning``
  (omniar's audio models are mono); it is never silently dropped.
- Zero-length audio, all-silent audio (every ``|x| <= SILENCE_THRESHOLD``) and NaN/inf samples
  are refused with a ``ValueError`` that names the input.

These checks live in the tokenizers layer because the codec tokenizer applies them to its input;
`omniar.data.audio_io` (WAV files) builds on them and re-exports them. Resampling is torchaudio's
band-limited ``torchaudio.functional.resample``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
import torchaudio.functional as AF

SILENCE_THRESHOLD = 1e-5
"""Peak amplitude at or below which a waveform counts as silent."""


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


def resample(waveform: torch.Tensor, orig_sample_rate: int, new_sample_rate: int) -> torch.Tensor:
    """Resample the last dimension from ``orig_sample_rate`` to ``new_sample_rate`` (Hz)."""
    orig = check_sample_rate(orig_sample_rate, "orig_sample_rate")
    new = check_sample_rate(new_sample_rate, "new_sample_rate")
    if orig == new:
        return waveform
    return AF.resample(waveform, orig, new)
