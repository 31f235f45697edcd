"""Multi-scale residual image tokenizer (VAR, Tian et al. 2024) for the next-scale order.

The encoder's (C, S, S) latent ``f`` (S = ``scales[-1]``) is tokenized coarse to fine. For
scale k of side s_k, with ``f_hat`` starting at zero:

1. the residual ``f - f_hat`` is area-downsampled to s_k x s_k (``F.interpolate(mode="area")``),
2. quantised with ONE quantiser shared by all scales, giving the (B, s_k, s_k) codes of scale k,
3. the quantised vectors are upsampled back to S x S (bicubic, as in VAR; the last scale is
   already S x S),
4. refined by a small convolution ``phi`` and added to ``f_hat``.

``phi`` is VAR's residual convolution, ``h -> (1 - r) h + r conv3x3(h)`` with
``r = phi_residual_ratio``. VAR shares a few phis between its ten scales; here there are
``num_phi`` of them. ``phi_indices`` names the phi of every scale explicitly (VAR's
checkpoints: ``[0, 0, 1, 1, 1, 2, 2, 3, 3, 3]``, what VAR's nearest-tick lookup gives for ten
scales and four phis); without it scale k uses phi number ``round(k * (num_phi - 1) / (K - 1))``
(omniar's own models: neighbouring scales share a phi, the first and last get their own; it
differs from VAR's table at the eighth scale).

Published layouts add ``quant_conv_kernel_size`` (VAR: 3x3 convolutions between the encoder and
the quantiser and between ``f_hat`` and the decoder), ``deepest_attention`` (self-attention after
every ResNet layer of the deepest level, the VQGAN layout) and ``codebook_metric="euclidean"``
(VAR looks codes up by Euclidean distance, not cosine similarity).

The decoder reconstructs from the final ``f_hat``. :meth:`accumulated_features` replays steps
3-4 from codes, and :meth:`next_scale_inputs` gives the next-scale order its teacher-forcing
inputs: ``f_hat`` after scale k, area-downsampled to the size of scale k + 1.

Training adds VAR's latent loss to the quantiser's auxiliary loss: for every scale,
``mse(f_hat_k, sg(f)) + beta * mse(sg(f_hat_k), f)`` averaged over scales (beta =
``commitment_weight``), so every prefix of scales is a usable approximation of the latent.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn

from omniar.tokenizers.conv_autoencoder import (
    LatentQuantizer,
    build_decoder,
    build_encoder,
    check_autoencoder_config,
)
from omniar.tokenizers.image_inputs import ImageInput, to_image_tensor
from omniar.tokenizers.image_vq import ImageTokenizerOutput, check_codes

UPSAMPLE_MODES = ("bicubic", "bilinear")


class Phi(nn.Conv2d):
    """VAR's residual refinement: ``(1 - ratio) * h + ratio * conv3x3(h)``."""

    def __init__(self, channels: int, residual_ratio: float) -> None:
        super().__init__(channels, channels, kernel_size=3, padding=1)
        self.residual_ratio = residual_ratio

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        ratio = self.residual_ratio
        return hidden * (1.0 - ratio) + super().forward(hidden) * ratio


class MultiScaleVQTokenizer(ModelMixin, ConfigMixin):
    """Images <-> lists of (B, s, s) code maps, one per scale, coarse to fine.

    Args:
        scales: side of each scale's code map, strictly increasing; the last equals the latent
            side, so images must be ``scales[-1] * downsample_factor`` pixels square.
        num_phi: number of phi convolutions shared across scales (see module docstring).
        phi_residual_ratio: ``r`` in ``(1 - r) h + r conv(h)``.
        upsample_mode: ``"bicubic"`` (VAR) or ``"bilinear"`` for scale -> latent upsampling.
        phi_indices: the phi of each scale (one entry per scale), or None for the linear rule.
        quant_conv_kernel_size: side of the convolutions around the quantiser (0: none).
        deepest_attention, codebook_metric: see the module docstring.
        Other arguments: as :class:`~omniar.tokenizers.image_vq.ImageVQTokenizer`.
    """

    @register_to_config
    def __init__(
        self,
        scales: tuple[int, ...] = (1, 2, 3, 4, 6, 8),
        downsample_factor: int = 4,
        block_out_channels: tuple[int, ...] = (32, 64, 64),
        layers_per_block: int = 1,
        norm_num_groups: int = 16,
        mid_block_add_attention: bool = True,
        latent_channels: int = 16,
        quantizer: str = "fsq",
        fsq_levels: tuple[int, ...] = (8, 5, 5, 5),
        codebook_size: int = 1024,
        codebook_dim: int = 8,
        commitment_weight: float = 0.25,
        codebook_decay: float = 0.99,
        num_phi: int = 3,
        phi_residual_ratio: float = 0.5,
        upsample_mode: str = "bicubic",
        phi_indices: tuple[int, ...] | None = None,
        quant_conv_kernel_size: int = 0,
        deepest_attention: bool = False,
        codebook_metric: str = "cosine",
    ) -> None:
        super().__init__()
        check_autoencoder_config(downsample_factor, tuple(block_out_channels), norm_num_groups)
        scales = tuple(int(side) for side in scales)
        if not scales or scales[0] < 1 or any(a >= b for a, b in itertools.pairwise(scales)):
            raise ValueError(f"scales: expected strictly increasing positive sides, got {scales}")
        if upsample_mode not in UPSAMPLE_MODES:
            raise ValueError(
                f"upsample_mode: expected one of {UPSAMPLE_MODES}, got {upsample_mode!r}"
            )
        if num_phi < 1:
            raise ValueError(f"num_phi: expected at least 1, got {num_phi}")
        if phi_indices is not None and (
            len(phi_indices) != len(scales) or not all(0 <= int(i) < num_phi for i in phi_indices)
        ):
            raise ValueError(
                f"phi_indices: expected one index in [0, {num_phi}) per scale ({len(scales)}), "
                f"got {tuple(phi_indices)}"
            )
        if quant_conv_kernel_size < 0 or quant_conv_kernel_size % 2 == 0 and quant_conv_kernel_size:
            raise ValueError(
                f"quant_conv_kernel_size: expected 0 (none) or an odd size, got {quant_conv_kernel_size}"
            )
        parts = (latent_channels, tuple(block_out_channels), layers_per_block, norm_num_groups)
        self.encoder = build_encoder(*parts, mid_block_add_attention, deepest_attention)
        self.decoder = build_decoder(*parts, mid_block_add_attention, deepest_attention)
        self.quant_conv = self.post_quant_conv = None
        if quant_conv_kernel_size:
            self.quant_conv, self.post_quant_conv = (
                nn.Conv2d(latent_channels, latent_channels, quant_conv_kernel_size,
                          padding=quant_conv_kernel_size // 2)
                for _ in range(2)
            )
        self.latent_quantizer = LatentQuantizer(
            latent_channels,
            quantizer,
            tuple(fsq_levels),
            codebook_size,
            codebook_dim,
            commitment_weight,
            codebook_decay,
            codebook_metric,
        )
        self.phis = nn.ModuleList(Phi(latent_channels, phi_residual_ratio) for _ in range(num_phi))

    @property
    def vocab_size(self) -> int:
        """Number of distinct codes (shared by all scales); codes are in [0, vocab_size)."""
        return self.latent_quantizer.vocab_size

    @property
    def scales(self) -> tuple[int, ...]:
        return tuple(self.config.scales)

    @property
    def tokens_per_image(self) -> int:
        """Total number of codes over all scales (e.g. 130 for scales 1, 2, 3, 4, 6, 8)."""
        return sum(side * side for side in self.scales)

    @property
    def image_size(self) -> int:
        """The one image side this tokenizer accepts: ``scales[-1] * downsample_factor``."""
        return self.scales[-1] * self.config.downsample_factor

    def token_shape(self, image_size: int | tuple[int, int]) -> list[tuple[int, int]]:
        """The (s, s) shape of each scale's code map; ``image_size`` must be :attr:`image_size`."""
        height, width = (image_size, image_size) if isinstance(image_size, int) else image_size
        if (height, width) != (self.image_size, self.image_size):
            raise ValueError(
                f"image_size: this tokenizer takes {self.image_size}x{self.image_size} images "
                f"(last scale {self.scales[-1]} x downsampling factor "
                f"{self.config.downsample_factor}), got {height}x{width}"
            )
        return [(side, side) for side in self.scales]

    def _phi(self, scale_index: int) -> Phi:
        if self.config.phi_indices is not None:
            return self.phis[int(self.config.phi_indices[scale_index])]
        last = len(self.scales) - 1
        if last == 0:
            return self.phis[0]
        return self.phis[round(scale_index * (len(self.phis) - 1) / last)]

    def _upsampled_refinement(self, vectors: torch.Tensor, scale_index: int) -> torch.Tensor:
        """Steps 3-4: quantised vectors of one scale -> the term added to ``f_hat``."""
        side = self.scales[-1]
        if vectors.shape[-1] != side:
            vectors = F.interpolate(vectors, size=(side, side), mode=self.config.upsample_mode)
        return self._phi(scale_index)(vectors)

    def quantize(
        self, latent: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
        """Multi-scale residual quantisation of a (B, C, S, S) latent.

        Returns the final ``f_hat`` (what the decoder receives), the codes of every scale and the
        auxiliary loss (quantiser loss + VAR latent loss, averaged over scales).
        """
        f_hat = torch.zeros_like(latent)
        codes, aux_losses = [], []
        beta = self.config.commitment_weight
        for index, side in enumerate(self.scales):
            residual = latent - f_hat
            if side != self.scales[-1]:
                residual = F.interpolate(residual, size=(side, side), mode="area")
            quantized = self.latent_quantizer(residual)
            f_hat = f_hat + self._upsampled_refinement(quantized.quantized, index)
            codes.append(quantized.codes)
            latent_loss = F.mse_loss(f_hat, latent.detach()) + beta * F.mse_loss(
                f_hat.detach(), latent
            )
            aux_losses.append(quantized.aux_loss + latent_loss)
        return f_hat, codes, torch.stack(aux_losses).mean()

    def _prepare(self, images: ImageInput) -> torch.Tensor:
        tensor = to_image_tensor(images, device=self.device, dtype=self.dtype)
        self.token_shape(tuple(tensor.shape[-2:]))
        return tensor

    def latent(self, images: ImageInput) -> torch.Tensor:
        """The (B, C, S, S) latent the scales quantise: encoder, then the quant convolution."""
        latent = self.encoder(self._prepare(images))
        return latent if self.quant_conv is None else self.quant_conv(latent)

    def decode_features(self, f_hat: torch.Tensor) -> torch.Tensor:
        """Images (unclamped) from accumulated features: the post-quant convolution, the decoder."""
        return self.decoder(f_hat if self.post_quant_conv is None else self.post_quant_conv(f_hat))

    def forward(self, images: ImageInput) -> ImageTokenizerOutput:
        """Encode, quantise over all scales and decode; the reconstruction is not clamped."""
        f_hat, codes, aux_loss = self.quantize(self.latent(images))
        return ImageTokenizerOutput(self.decode_features(f_hat), aux_loss, codes, f_hat)

    @torch.no_grad()
    def encode(self, images: ImageInput) -> list[torch.Tensor]:
        """Images -> one int64 (B, s, s) code map per scale, coarse to fine."""
        return self.quantize(self.latent(images))[1]

    def _check_code_list(self, codes_list: list[torch.Tensor]) -> list[torch.Tensor]:
        if not isinstance(codes_list, (list, tuple)) or not 1 <= len(codes_list) <= len(
            self.scales
        ):
            raise ValueError(
                f"codes_list: expected a list of 1 to {len(self.scales)} code maps (one per "
                f"scale, coarse to fine), got {type(codes_list).__name__}"
                + (f" of length {len(codes_list)}" if isinstance(codes_list, (list, tuple)) else "")
            )
        checked = []
        for index, codes in enumerate(codes_list):
            codes = check_codes(codes, self.vocab_size, f"codes_list[{index}]")
            side = self.scales[index]
            if codes.shape[1:] != (side, side) or codes.shape[0] != codes_list[0].shape[0]:
                raise ValueError(
                    f"codes_list[{index}]: expected shape (B, {side}, {side}) with the batch size "
                    f"of codes_list[0], got {tuple(codes.shape)}"
                )
            checked.append(codes.to(self.device))
        return checked

    def embed_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """The quantised vectors of one scale's (B, s, s) codes, as (B, C, s, s)."""
        codes = check_codes(codes, self.vocab_size).to(self.device)
        return self.latent_quantizer.embed(codes).to(self.dtype)

    def accumulated_features(self, codes_list: list[torch.Tensor]) -> list[torch.Tensor]:
        """``f_hat`` (B, C, S, S) after each scale of ``codes_list`` (a full list or a prefix)."""
        codes_list = self._check_code_list(codes_list)
        f_hat = None
        features = []
        for index, codes in enumerate(codes_list):
            term = self._upsampled_refinement(
                self.latent_quantizer.embed(codes).to(self.dtype), index
            )
            f_hat = term if f_hat is None else f_hat + term
            features.append(f_hat)
        return features

    def next_scale_inputs(self, codes_list: list[torch.Tensor]) -> list[torch.Tensor]:
        """Teacher-forcing inputs of the next-scale order.

        Entry k is ``f_hat`` after scale k, area-downsampled to scale k + 1's size:
        (B, C, s_{k+1}, s_{k+1}). There is one entry per scale of ``codes_list`` that has a next
        scale (K - 1 entries for a full list).
        """
        features = self.accumulated_features(codes_list)
        inputs = []
        for index, f_hat in enumerate(features[: len(self.scales) - 1]):
            side = self.scales[index + 1]
            if side != self.scales[-1]:
                f_hat = F.interpolate(f_hat, size=(side, side), mode="area")
            inputs.append(f_hat)
        return inputs

    @torch.no_grad()
    def decode(self, codes_list: list[torch.Tensor]) -> torch.Tensor:
        """Code maps -> (B, 3, H, W) images in [-1, 1].

        A prefix of the scales decodes the coarser approximation those scales carry.
        """
        return self.decode_features(self.accumulated_features(codes_list)[-1]).clamp(-1.0, 1.0)
