"""A small spoken-digit classifier, and codec evaluation with it.

``DigitClassifier`` is a CNN on log-mel spectrograms, trained on the real FSDD training takes
(recipes/fsdd_digit_classifier.yaml). It measures intelligibility: how often a digit is still
recognised after passing through the codec (`omniar.eval.codec_eval`) or when generated.

Features are per-clip standardised log-mel magnitudes in dB (floored 80 dB below the clip's
peak), so the classifier ignores loudness and differences far below the audible range. Clips are
centre-cropped or zero-padded to ``num_samples`` (1.5 s at 8 kHz covers > 99% of FSDD).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torchaudio.transforms as T
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn

from omniar.data.audio_features import without_persistent_buffers
from omniar.data.audio_io import check_sample_rate, resample, validate_waveform
from omniar.data.fsdd import fit_length


class DigitClassifier(ModelMixin, ConfigMixin):
    """Log-mel CNN: waveform ``(B, num_samples)`` at ``sample_rate`` -> logits ``(B, num_classes)``.

    Args:
        sample_rate: input rate in Hz (``predict`` resamples other rates).
        num_samples: fixed input length; ``predict`` centre-crops / zero-pads to it.
        n_fft, hop_length, n_mels: the log-mel front end.
        channels: output channels of the conv blocks (each 3x3 conv, batch norm, ReLU, 2x2 pool).
        num_classes: number of digits.
        dropout: before the linear classifier.
    """

    @register_to_config
    def __init__(
        self,
        sample_rate: int = 8000,
        num_samples: int = 12000,
        n_fft: int = 256,
        hop_length: int = 80,
        n_mels: int = 40,
        channels: Sequence[int] = (16, 32, 64, 64),
        num_classes: int = 10,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.mel = without_persistent_buffers(
            T.MelSpectrogram(
                sample_rate=sample_rate,
                n_fft=n_fft,
                hop_length=hop_length,
                n_mels=n_mels,
                power=1.0,
            )
        )
        self.to_db = T.AmplitudeToDB(stype="magnitude", top_db=80.0)
        blocks: list[nn.Module] = []
        width = 1
        for out in channels:
            blocks += [
                nn.Conv2d(width, out, 3, padding=1),
                nn.BatchNorm2d(out),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            width = out
        self.features = nn.Sequential(*blocks)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(width, num_classes),
        )

    def log_mel(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` -> standardised log-mel ``(B, 1, n_mels, frames)``."""
        spec = self.to_db(self.mel(waveform.float()).unsqueeze(1))
        mean = spec.mean(dim=(-3, -2, -1), keepdim=True)
        std = spec.std(dim=(-3, -2, -1), keepdim=True).clamp_min(1e-3)
        return (spec - mean) / std

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(self.log_mel(waveform)))

    @torch.no_grad()
    def predict(
        self,
        waveforms: torch.Tensor | np.ndarray | Sequence[torch.Tensor],
        sample_rate: int,
        allow_silent: bool = False,
    ) -> torch.LongTensor:
        """Predicted digits ``(B,)`` for a ``(T,)`` clip, a ``(B, T)`` batch or a list of clips.

        Clips are validated (non-empty, finite, not silent unless ``allow_silent``), resampled
        to the classifier's rate, and centre-cropped / zero-padded to ``num_samples``.
        """
        rate = check_sample_rate(sample_rate)
        if isinstance(waveforms, np.ndarray):
            waveforms = torch.from_numpy(np.ascontiguousarray(waveforms))
        if torch.is_tensor(waveforms):
            waveforms = [waveforms] if waveforms.ndim == 1 else list(waveforms)
        clips = []
        for i, clip in enumerate(waveforms):
            clip = validate_waveform(
                torch.as_tensor(clip), f"waveforms[{i}]", allow_silent=allow_silent
            )
            if clip.ndim != 1:
                raise ValueError(f"waveforms[{i}] must be mono (T,), got {tuple(clip.shape)}")
            clip = resample(clip, rate, self.config.sample_rate)
            clips.append(fit_length(clip, self.config.num_samples, random=False))
        was_training = self.training
        self.eval()
        logits = torch.cat(
            [self(torch.stack(clips[i : i + 64]).to(self.device)) for i in range(0, len(clips), 64)]
        )
        self.train(was_training)
        return logits.argmax(dim=-1).cpu()


def classifier_accuracy(
    classifier: DigitClassifier,
    clips: Sequence[torch.Tensor],
    digits: Sequence[int],
    sample_rate: int,
) -> float:
    """Fraction of ``clips`` whose predicted digit equals ``digits`` (silent clips allowed)."""
    predicted = classifier.predict(list(clips), sample_rate, allow_silent=True)
    return float((predicted == torch.as_tensor(list(digits))).float().mean())
