"""SEANet-style convolutional encoder and decoder for waveforms (as in EnCodec / SoundStream).

The encoder maps a mono waveform ``(B, 1, T)`` to latent frames ``(B, D, T / hop)`` with strided
1D convolutions; the decoder mirrors it with transposed convolutions. Each stage has residual
units with growing dilations, ELU (or Snake) activations and weight normalisation
(``torch.nn.utils.parametrizations.weight_norm``).

Hand-written rather than imported: transformers' ``EncodecEncoder`` / ``EncodecDecoder`` are the
nearest library blocks, but they are bound to ``EncodecConfig`` (and an LSTM we do not want on a
CPU budget) and transformers is only an optional dependency of omniar. diffusers' 1D blocks are
U-Net blocks for diffusion, not a strided codec encoder.

Convolutions are non-causal with "same" padding, so for an input whose length is a multiple of the
hop the encoder yields exactly ``T / hop`` frames and the decoder exactly ``frames * hop`` samples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm


def _conv(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    stride: int = 1,
    dilation: int = 1,
) -> nn.Module:
    """A weight-normalised Conv1d that keeps ``T / stride`` samples when ``T % stride == 0``."""
    if stride == 1:
        padding = dilation * (kernel_size - 1) // 2
    else:
        padding = math.ceil(stride / 2)
    return weight_norm(
        nn.Conv1d(in_channels, out_channels, kernel_size, stride, padding, dilation=dilation)
    )


class Snake(nn.Module):
    """``x + sin(alpha * x)^2 / alpha`` with a learned ``alpha`` per channel (BigVGAN / DAC).

    A periodic activation gives the convolutions an inductive bias towards harmonic signals:
    with it a codec reproduces voiced speech's harmonics and upper formants in far fewer steps
    than with ELU. Written here because it is three lines; the projects that define it (DAC,
    BigVGAN) ship it inside whole models, not as a dependency to import.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.sin(self.alpha * x).square() / (self.alpha + 1e-9)


ACTIVATIONS = ("elu", "snake")


def activation(kind: str, channels: int) -> nn.Module:
    """The activation ``kind`` (one of ``ACTIVATIONS``) for a ``channels``-wide signal."""
    if kind == "elu":
        return nn.ELU()
    if kind == "snake":
        return Snake(channels)
    raise ValueError(f"activation must be one of {ACTIVATIONS}, got {kind!r}")


def _conv_transpose(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    """A weight-normalised ConvTranspose1d (kernel ``2 * stride``) mapping L frames to L*stride."""
    padding = math.ceil(stride / 2)
    return weight_norm(
        nn.ConvTranspose1d(
            in_channels,
            out_channels,
            kernel_size=2 * stride,
            stride=stride,
            padding=padding,
            output_padding=2 * padding - stride,
        )
    )


class SEANetResidualUnit(nn.Module):
    """``x + Conv1x1(act(DilatedConv(act(x))))`` with a channel bottleneck of 2 (act: ELU or Snake)."""

    def __init__(
        self, channels: int, dilation: int, kernel_size: int = 3, act: str = "elu"
    ) -> None:
        super().__init__()
        hidden = max(channels // 2, 1)
        self.block = nn.Sequential(
            activation(act, channels),
            _conv(channels, hidden, kernel_size, dilation=dilation),
            activation(act, hidden),
            _conv(hidden, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class SEANetEncoderBlock(nn.Sequential):
    """Residual units at ``in_channels``, then a strided convolution to ``out_channels``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int,
        dilations: Sequence[int],
        act: str = "elu",
    ) -> None:
        super().__init__(
            *[SEANetResidualUnit(in_channels, d, act=act) for d in dilations],
            activation(act, in_channels),
            _conv(in_channels, out_channels, 2 * stride, stride=stride),
        )


class SEANetDecoderBlock(nn.Sequential):
    """A transposed (upsampling) convolution, then residual units at ``out_channels``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int,
        dilations: Sequence[int],
        act: str = "elu",
    ) -> None:
        super().__init__(
            activation(act, in_channels),
            _conv_transpose(in_channels, out_channels, stride),
            *[SEANetResidualUnit(out_channels, d, act=act) for d in dilations],
        )


class SEANetEncoder(nn.Module):
    """Waveform ``(B, 1, T)`` to latents ``(B, latent_dim, T / prod(strides))``.

    Channels double after every stride, starting from ``channels``.
    """

    def __init__(
        self,
        channels: int,
        latent_dim: int,
        strides: Sequence[int],
        dilations: Sequence[int],
        kernel_size: int = 7,
        act: str = "elu",
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [_conv(1, channels, kernel_size)]
        width = channels
        for stride in strides:
            layers.append(SEANetEncoderBlock(width, width * 2, stride, dilations, act))
            width *= 2
        layers += [activation(act, width), _conv(width, latent_dim, 3)]
        self.layers = nn.Sequential(*layers)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.layers(waveform)


class SEANetDecoder(nn.Module):
    """Latents ``(B, latent_dim, F)`` to a waveform ``(B, 1, F * prod(strides))``.

    The output is the last convolution's linear output; the codec bounds it (tanh).
    """

    def __init__(
        self,
        channels: int,
        latent_dim: int,
        strides: Sequence[int],
        dilations: Sequence[int],
        kernel_size: int = 7,
        act: str = "elu",
    ) -> None:
        super().__init__()
        width = channels * 2 ** len(strides)
        layers: list[nn.Module] = [_conv(latent_dim, width, kernel_size)]
        for stride in reversed(strides):
            layers.append(SEANetDecoderBlock(width, width // 2, stride, dilations, act))
            width //= 2
        layers += [activation(act, width), _conv(width, 1, kernel_size)]
        self.layers = nn.Sequential(*layers)

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return self.layers(latents)
