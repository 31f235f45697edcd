"""Losses for training audio codecs: multi-resolution mel loss and an STFT-domain GAN.

- ``MultiResolutionMelLoss``: L1 between log-mel (and linear mel) spectrograms at several FFT
  sizes (torchaudio ``MelSpectrogram``), as in EnCodec / DAC. Waveform L1 is plain
  ``F.l1_loss`` and is added by the training task.
- ``MultiScaleSTFTDiscriminator``: EnCodec's MS-STFT discriminator: 2D convolutions over the
  complex STFT (real and imaginary parts as channels) at several FFT sizes, returning logits and
  intermediate features for feature matching.
- ``adversarial_losses``: hinge losses and feature matching computed so that **one optimiser**
  over generator and discriminator parameters trains both correctly: the discriminator loss sees
  the reconstruction detached (no gradient to the codec), and the generator losses run the
  discriminator with detached parameters (``torch.func.functional_call``), so no gradient reaches
  the discriminator from them. With a per-parameter optimiser (Adam/AdamW) one backward of
  ``generator_loss + discriminator_loss`` is then the usual alternating update (same learning
  rate for both; gradient clipping by global norm is shared).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
import torchaudio.transforms as T
from torch import nn
from torch.func import functional_call
from torch.nn.utils.parametrizations import weight_norm

from omniar.data.audio_features import without_persistent_buffers

LOG_FLOOR = 1e-5


class MultiResolutionMelLoss(nn.Module):
    """Mean over FFT sizes of ``L1(log10 mel) + L1(mel)`` between prediction and target.

    Mel spectrograms are magnitude (power 1) with hop ``n_fft // 4`` and
    ``n_mels = min(n_fft // 8, max_mels)`` bands, so small FFTs get no empty mel bands.
    Before the log both spectrograms are floored at the target's peak minus
    ``dynamic_range_db`` (and at least 1e-5): with a fixed tiny floor the loss is dominated by
    matching near-silent bands exactly (e.g. everything but the fundamental of a tone), which
    slows training to a crawl on a CPU budget; a 40-60 dB range keeps the audible structure.
    """

    def __init__(
        self,
        sample_rate: int,
        n_ffts: Sequence[int] = (128, 256, 512, 1024),
        max_mels: int = 80,
        dynamic_range_db: float = 50.0,
    ) -> None:
        super().__init__()
        self.floor_ratio = 10 ** (-dynamic_range_db / 20)
        self.transforms = without_persistent_buffers(
            nn.ModuleList(
                T.MelSpectrogram(
                    sample_rate=sample_rate,
                    n_fft=n_fft,
                    hop_length=n_fft // 4,
                    n_mels=min(n_fft // 8, max_mels),
                    power=1.0,
                    center=True,
                )
                for n_fft in n_ffts
            )
        )

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = prediction.new_zeros(())
        for transform in self.transforms:
            mel_p, mel_t = transform(prediction.float()), transform(target.float())
            floor = (mel_t.amax(dim=(-2, -1), keepdim=True) * self.floor_ratio).clamp_min(LOG_FLOOR)
            total = total + F.l1_loss(mel_p, mel_t)
            total = total + F.l1_loss(
                torch.maximum(mel_p, floor).log10(), torch.maximum(mel_t, floor).log10()
            )
        return total / len(self.transforms)


class STFTDiscriminator(nn.Module):
    """One scale of the MS-STFT discriminator: complex STFT (B, 2, frames, bins) -> 2D convs."""

    def __init__(
        self, n_fft: int, channels: int = 16, dilations: Sequence[int] = (1, 2, 4)
    ) -> None:
        super().__init__()
        self.spectrogram = without_persistent_buffers(
            T.Spectrogram(
                n_fft=n_fft, hop_length=n_fft // 4, power=None, normalized=True, center=True
            )
        )
        layers = [weight_norm(nn.Conv2d(2, channels, (3, 9), padding=(1, 4)))]
        for d in dilations:
            layers.append(
                weight_norm(
                    nn.Conv2d(
                        channels,
                        channels,
                        (3, 9),
                        stride=(1, 2),
                        dilation=(d, 1),
                        padding=(d, 4),
                    )
                )
            )
        layers.append(weight_norm(nn.Conv2d(channels, channels, (3, 3), padding=1)))
        self.layers = nn.ModuleList(layers)
        self.out = weight_norm(nn.Conv2d(channels, 1, (3, 3), padding=1))

    def forward(self, waveform: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        spec = self.spectrogram(waveform.float())  # (B, bins, frames) complex
        x = torch.stack([spec.real, spec.imag], dim=1).transpose(2, 3)
        features = []
        for layer in self.layers:
            x = F.leaky_relu(layer(x), 0.2)
            features.append(x)
        return self.out(x), features


class MultiScaleSTFTDiscriminator(nn.Module):
    """STFT discriminators at several FFT sizes; returns one (logits, features) per scale."""

    def __init__(self, n_ffts: Sequence[int] = (128, 256, 512), channels: int = 16) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(STFTDiscriminator(n, channels) for n in n_ffts)

    def forward(self, waveform: torch.Tensor) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
        return [d(waveform) for d in self.discriminators]


def adversarial_losses(
    discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Hinge GAN losses and feature matching for one step (see the module docstring).

    Returns ``generator`` (adversarial hinge, gradient to the codec only),
    ``feature_matching`` (relative L1 between discriminator features of real and fake, codec
    only) and ``discriminator`` (hinge on real vs detached fake, discriminator only).
    """
    frozen = {name: p.detach() for name, p in discriminator.named_parameters()}
    frozen.update(dict(discriminator.named_buffers()))
    real_out = discriminator(real)
    fake_out = discriminator(fake.detach())
    disc = sum(
        F.relu(1 - lr).mean() + F.relu(1 + lf).mean()
        for (lr, _), (lf, _) in zip(real_out, fake_out)
    ) / len(real_out)

    gen_out = functional_call(discriminator, frozen, (fake,))
    gen = sum(F.relu(1 - lg).mean() for lg, _ in gen_out) / len(gen_out)
    matching = []
    for (_, feats_real), (_, feats_fake) in zip(real_out, gen_out):
        for fr, ff in zip(feats_real, feats_fake):
            fr = fr.detach()
            matching.append(F.l1_loss(ff, fr) / fr.abs().mean().clamp_min(1e-8))
    return {
        "generator": gen,
        "feature_matching": torch.stack(matching).mean(),
        "discriminator": disc,
    }
