"""A neural audio codec tokenizer: SEANet encoder/decoder around a residual vector quantizer.

``AudioCodecTokenizer`` turns mono audio into ``K`` parallel streams of discrete tokens at a fixed
frame rate (EnCodec / SoundStream style) and back:

>>> codec = AudioCodecTokenizer()                       # 8 kHz, hop 160 -> 50 frames/s
>>> codes = codec.encode(waveform, sample_rate=8000)    # LongTensor (B, 8, frames)
>>> audio = codec.decode(codes[:, :4])                  # (B, frames * 160), 4 codebooks

The quantizer is ``vector_quantize_pytorch.ResidualVQ`` with k-means initialisation, EMA
codebooks, dead-code expiry and quantizer dropout: during training a random number of residual
levels is kept per step, so one model decodes from any prefix of its codebooks, i.e. serves
several bitrates (``bitrate(num_quantizers)``).

Clipping is prevented, not hidden: the decoder output passes through ``tanh``, so decoded audio is
always strictly inside (-1, 1) and can be written as PCM without clipping. (The codec learns to
stay in the near-linear range of the tanh for speech at normal levels.)
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from diffusers.utils import BaseOutput
from vector_quantize_pytorch import ResidualVQ

from omniar.tokenizers.waveform import check_sample_rate, downmix, resample, validate_waveform
from omniar.tokenizers.seanet import SEANetDecoder, SEANetEncoder


@dataclass
class AudioCodecOutput(BaseOutput):
    """What ``AudioCodecTokenizer.forward`` returns during training.

    audio: reconstruction ``(B, T)``, same length as the input.
    codes: ``(B, num_quantizers, frames)``; levels removed by quantizer dropout hold -1.
    commitment_loss: scalar, summed over the residual levels.
    """

    audio: torch.Tensor
    codes: torch.Tensor
    commitment_loss: torch.Tensor


class AudioCodecTokenizer(ModelMixin, ConfigMixin):
    """Mono waveform <-> ``(num_quantizers, frames)`` discrete codes.

    Args:
        sample_rate: the codec's audio rate in Hz; ``encode`` resamples other rates to it.
        channels: encoder channels after the first convolution (doubled after every stride).
        latent_dim: dimension of the latent frames and of the codebook vectors.
        strides: downsampling factors; ``hop_length = prod(strides)`` samples per frame.
        dilations: dilations of the residual units in every encoder/decoder stage.
        num_quantizers: residual quantizer levels (codebooks).
        codebook_size: entries per codebook.
        codebook_decay: EMA decay of the codebooks.
        threshold_ema_dead_code: codes used less than this (EMA count) are re-seeded from the batch.
        kmeans_iters: k-means iterations of the codebook initialisation on the first batch.
        quantize_dropout: train with a random number of levels so that prefixes decode well.
        commitment_weight: weight of the commitment loss inside each quantizer level.
        activation: ``"elu"`` (SEANet) or ``"snake"`` (periodic, as in DAC / BigVGAN; learns
            harmonics faster) in the encoder and decoder.
    """

    @register_to_config
    def __init__(
        self,
        sample_rate: int = 8000,
        channels: int = 16,
        latent_dim: int = 64,
        strides: Sequence[int] = (2, 4, 4, 5),
        dilations: Sequence[int] = (1, 3),
        num_quantizers: int = 8,
        codebook_size: int = 256,
        codebook_decay: float = 0.99,
        threshold_ema_dead_code: float = 2.0,
        kmeans_iters: int = 10,
        quantize_dropout: bool = True,
        commitment_weight: float = 1.0,
        activation: str = "elu",
    ) -> None:
        super().__init__()
        check_sample_rate(sample_rate)
        if not strides or any(int(s) < 1 for s in strides):
            raise ValueError(f"strides must be positive integers, got {strides!r}")
        if num_quantizers < 1 or codebook_size < 2:
            raise ValueError(
                f"need num_quantizers >= 1 and codebook_size >= 2, got {num_quantizers} and "
                f"{codebook_size}"
            )
        self.encoder = SEANetEncoder(channels, latent_dim, strides, dilations, act=activation)
        self.decoder = SEANetDecoder(channels, latent_dim, strides, dilations, act=activation)
        self.quantizer = ResidualVQ(
            dim=latent_dim,
            num_quantizers=num_quantizers,
            codebook_size=codebook_size,
            decay=codebook_decay,
            kmeans_init=True,
            kmeans_iters=kmeans_iters,
            threshold_ema_dead_code=threshold_ema_dead_code,
            quantize_dropout=quantize_dropout,
            commitment_weight=commitment_weight,
        )

    # ---------------------------------------------------------------- geometry and bitrate

    @property
    def sample_rate(self) -> int:
        return int(self.config.sample_rate)

    @property
    def hop_length(self) -> int:
        """Audio samples per code frame (the product of the strides)."""
        return int(math.prod(self.config.strides))

    @property
    def frame_rate(self) -> float:
        """Code frames per second of audio."""
        return self.sample_rate / self.hop_length

    @property
    def num_quantizers(self) -> int:
        return int(self.config.num_quantizers)

    @property
    def codebook_size(self) -> int:
        return int(self.config.codebook_size)

    def num_frames(self, num_samples: int) -> int:
        """Frames ``encode`` yields for ``num_samples`` samples at the codec's rate."""
        return math.ceil(num_samples / self.hop_length)

    def bitrate(self, num_quantizers: int | None = None) -> float:
        """Bits per second: ``frame_rate * num_quantizers * log2(codebook_size)``."""
        n = self._check_num_quantizers(num_quantizers)
        return self.frame_rate * n * math.log2(self.codebook_size)

    def _check_num_quantizers(self, num_quantizers: int | None) -> int:
        if num_quantizers is None:
            return self.num_quantizers
        if not isinstance(num_quantizers, (int, np.integer)) or not (
            1 <= num_quantizers <= self.num_quantizers
        ):
            raise ValueError(
                f"num_quantizers must be an int in [1, {self.num_quantizers}], "
                f"got {num_quantizers!r}"
            )
        return int(num_quantizers)

    # ---------------------------------------------------------------- internals

    def _as_batch(self, waveform: torch.Tensor | np.ndarray, name: str) -> torch.Tensor:
        """(T,), (B, T) or (B, C, T) -> (B, T) on the model's device; C > 1 is downmixed."""
        if isinstance(waveform, np.ndarray):
            waveform = torch.from_numpy(np.ascontiguousarray(waveform))
        if not torch.is_tensor(waveform):
            raise ValueError(f"{name} must be a torch.Tensor or numpy array, got {type(waveform)}")
        if waveform.ndim == 1:
            waveform = waveform[None]
        elif waveform.ndim == 3:
            waveform = downmix(waveform, channel_dim=1, name=name)
        elif waveform.ndim != 2:
            raise ValueError(
                f"{name} must have shape (T,), (B, T) or (B, channels, T), "
                f"got {tuple(waveform.shape)}"
            )
        return waveform.to(self.device)

    def _pad_to_hop(self, waveform: torch.Tensor) -> torch.Tensor:
        extra = (-waveform.shape[-1]) % self.hop_length
        return F.pad(waveform, (0, extra)) if extra else waveform

    def _decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """(B, D, F) latents -> (B, F * hop) audio bounded by tanh (no clipping possible)."""
        return torch.tanh(self.decoder(latents)).squeeze(1)

    @contextmanager
    def _inference_mode(self) -> Iterator[None]:
        """Eval mode for the duration (no quantizer dropout, no codebook updates)."""
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                yield
        finally:
            self.train(was_training)

    # ---------------------------------------------------------------- public API

    def encode(
        self,
        waveform: torch.Tensor | np.ndarray,
        sample_rate: int,
        num_quantizers: int | None = None,
    ) -> torch.LongTensor:
        """Encode audio to codes ``(B, num_quantizers, ceil(T' / hop_length))``.

        ``waveform`` is ``(T,)``, ``(B, T)`` (a batch of mono clips) or ``(B, C, T)`` (channels
        are averaged, with a warning), float in [-1, 1] at ``sample_rate`` Hz; it is resampled to
        the codec's rate (``T'`` samples) when the rates differ, then right-padded with zeros to
        a whole number of frames. ``num_quantizers`` keeps the first levels only (lower bitrate).
        Raises ``ValueError`` for empty, silent or non-finite audio and bad sample rates.
        """
        n = self._check_num_quantizers(num_quantizers)
        rate = check_sample_rate(sample_rate)
        batch = self._as_batch(waveform, "waveform")
        batch = validate_waveform(batch, "waveform")
        batch = resample(batch, rate, self.sample_rate)
        with self._inference_mode():
            latents = self.encoder(self._pad_to_hop(batch)[:, None].to(self.dtype))
            _, indices, _ = self.quantizer(latents.transpose(1, 2))
        return indices[..., :n].transpose(1, 2).long().contiguous()

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Decode codes ``(B, K, frames)`` (any ``1 <= K <= num_quantizers`` first levels) to
        float32 audio ``(B, frames * hop_length)`` at ``sample_rate``, strictly inside (-1, 1).
        """
        if not torch.is_tensor(codes) or codes.dtype.is_floating_point or codes.ndim != 3:
            raise ValueError(
                "codes must be an integer tensor of shape (batch, num_quantizers, frames), got "
                f"{getattr(codes, 'dtype', type(codes))} {tuple(getattr(codes, 'shape', ()))}"
            )
        levels = self._check_num_quantizers(codes.shape[1])
        if levels < self.num_quantizers and not self.config.quantize_dropout:
            raise ValueError(
                f"codes have {levels} of {self.num_quantizers} levels, but this codec was built "
                "without quantize_dropout and decodes only full code stacks"
            )
        if codes.shape[-1] == 0:
            raise ValueError("codes have zero frames")
        if codes.numel() and (codes.min() < 0 or codes.max() >= self.codebook_size):
            raise ValueError(
                f"codes must lie in [0, {self.codebook_size}), got values in "
                f"[{int(codes.min())}, {int(codes.max())}]"
            )
        with self._inference_mode():
            latents = self.quantizer.get_output_from_indices(
                codes.to(self.device).long().transpose(1, 2)
            )
            audio = self._decode_latents(latents.transpose(1, 2).to(self.dtype))
        return audio.float()

    def forward(self, waveform: torch.Tensor) -> AudioCodecOutput:
        """Training pass: encode, quantize (with dropout in train mode), decode.

        ``waveform`` is ``(B, T)`` or ``(B, 1, T)`` at the codec's sample rate; it is not
        validated (random training crops may be silent). The reconstruction keeps length ``T``.
        """
        if waveform.ndim == 3:
            waveform = waveform[:, 0]
        length = waveform.shape[-1]
        latents = self.encoder(self._pad_to_hop(waveform)[:, None])
        quantized, indices, losses = self.quantizer(latents.transpose(1, 2))
        audio = self._decode_latents(quantized.transpose(1, 2))[:, :length]
        return AudioCodecOutput(
            audio=audio, codes=indices.transpose(1, 2), commitment_loss=losses.sum()
        )
