"""Single-scale image tokenizer: a convolutional autoencoder with a quantised (h, w) latent grid.

An image of H x W pixels becomes an (H / f) x (W / f) grid of integer codes in
[0, vocab_size), f = ``downsample_factor``; the raster, next-patch and neighbor orders model
that grid. The quantiser is FSQ by default or an l2-normalised low-dimensional VQ codebook (see
:mod:`omniar.tokenizers.conv_autoencoder`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config

from omniar.tokenizers.conv_autoencoder import (
    LatentQuantizer,
    build_decoder,
    build_encoder,
    check_autoencoder_config,
)
from omniar.tokenizers.image_inputs import ImageInput, to_image_tensor


@dataclass
class ImageTokenizerOutput:
    """What a tokenizer's ``forward`` returns for training and evaluation.

    ``reconstruction`` is the decoded image in roughly [-1, 1] (not clamped, so the loss sees
    overshoot), ``aux_loss`` the quantiser's auxiliary loss (0 for FSQ), ``codes`` the tokens
    (a tensor, or a list of tensors for the multi-scale tokenizer) and ``quantized_latent`` what
    the decoder received.
    """

    reconstruction: torch.Tensor
    aux_loss: torch.Tensor
    codes: torch.Tensor | list[torch.Tensor]
    quantized_latent: torch.Tensor


def check_codes(codes: torch.Tensor, vocab_size: int, argument: str = "codes") -> torch.Tensor:
    """Raise ValueError unless ``codes`` is an integer (B, h, w) tensor in [0, vocab_size)."""
    if not isinstance(codes, torch.Tensor) or codes.ndim != 3:
        shape = tuple(codes.shape) if isinstance(codes, torch.Tensor) else type(codes).__name__
        raise ValueError(f"{argument}: expected an integer tensor shaped (B, h, w), got {shape}")
    if torch.is_floating_point(codes) or torch.is_complex(codes) or codes.dtype == torch.bool:
        raise ValueError(f"{argument}: expected an integer tensor, got {codes.dtype}")
    if codes.numel() and (codes.min() < 0 or codes.max() >= vocab_size):
        raise ValueError(
            f"{argument}: expected codes in [0, {vocab_size}), got values in "
            f"[{int(codes.min())}, {int(codes.max())}]"
        )
    return codes.long()


class ImageVQTokenizer(ModelMixin, ConfigMixin):
    """Images <-> (B, h, w) grids of discrete codes.

    Args:
        downsample_factor: pixels per token side (4, 8 or 16); needs
            ``len(block_out_channels) == log2(downsample_factor) + 1``.
        block_out_channels: encoder channels per resolution (the decoder mirrors them).
        layers_per_block: ResNet layers per encoder block (the decoder uses one more).
        norm_num_groups: GroupNorm groups; must divide every channel count.
        mid_block_add_attention: self-attention at the latent resolution.
        deepest_attention: self-attention after every ResNet layer of the deepest encoder and
            decoder blocks too (LlamaGen's VQ-8/VQ-16 layout).
        latent_channels: channels of the continuous latent fed to the quantiser.
        quantizer: ``"fsq"`` (default) or ``"vq"`` (l2-normalised low-dimensional codebook).
        fsq_levels: FSQ levels; the vocabulary is their product (``[8, 5, 5, 5]`` = 1000).
        codebook_size, codebook_dim, commitment_weight, codebook_decay: ``"vq"`` settings.
    """

    @register_to_config
    def __init__(
        self,
        downsample_factor: int = 4,
        block_out_channels: tuple[int, ...] = (32, 64, 64),
        layers_per_block: int = 1,
        norm_num_groups: int = 16,
        mid_block_add_attention: bool = True,
        latent_channels: int = 4,
        quantizer: str = "fsq",
        fsq_levels: tuple[int, ...] = (8, 5, 5, 5),
        codebook_size: int = 1024,
        codebook_dim: int = 8,
        commitment_weight: float = 0.25,
        codebook_decay: float = 0.99,
        deepest_attention: bool = False,
    ) -> None:
        super().__init__()
        check_autoencoder_config(downsample_factor, tuple(block_out_channels), norm_num_groups)
        parts = (latent_channels, tuple(block_out_channels), layers_per_block, norm_num_groups)
        self.encoder = build_encoder(*parts, mid_block_add_attention, deepest_attention)
        self.decoder = build_decoder(*parts, mid_block_add_attention, deepest_attention)
        self.latent_quantizer = LatentQuantizer(
            latent_channels,
            quantizer,
            tuple(fsq_levels),
            codebook_size,
            codebook_dim,
            commitment_weight,
            codebook_decay,
        )

    @property
    def vocab_size(self) -> int:
        """Number of distinct codes; every code is in [0, vocab_size)."""
        return self.latent_quantizer.vocab_size

    def token_shape(self, image_size: int | tuple[int, int]) -> tuple[int, int]:
        """(h, w) of the code grid for an image of ``image_size`` (an int for square images)."""
        height, width = (image_size, image_size) if isinstance(image_size, int) else image_size
        factor = self.config.downsample_factor
        if height <= 0 or width <= 0 or height % factor or width % factor:
            raise ValueError(
                f"image_size: expected height and width that are positive multiples of the "
                f"downsampling factor {factor}, got {height}x{width}"
            )
        return height // factor, width // factor

    def _prepare(self, images: ImageInput) -> torch.Tensor:
        tensor = to_image_tensor(images, device=self.device, dtype=self.dtype)
        self.token_shape(tuple(tensor.shape[-2:]))
        return tensor

    def forward(self, images: ImageInput) -> ImageTokenizerOutput:
        """Encode, quantise and decode; the reconstruction is not clamped (for the loss)."""
        latent = self.encoder(self._prepare(images))
        quantized = self.latent_quantizer(latent)
        reconstruction = self.decoder(quantized.quantized)
        return ImageTokenizerOutput(
            reconstruction, quantized.aux_loss, quantized.codes, quantized.quantized
        )

    @torch.no_grad()
    def encode(self, images: ImageInput) -> torch.Tensor:
        """Images (tensor in [-1, 1] or PIL) -> int64 codes shaped (B, H / f, W / f)."""
        return self.latent_quantizer(self.encoder(self._prepare(images))).codes

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, h, w) codes -> (B, 3, h * f, w * f) images in [-1, 1]."""
        codes = check_codes(codes, self.vocab_size).to(self.device)
        latent = self.latent_quantizer.embed(codes).to(self.dtype)
        return self.decoder(latent).clamp(-1.0, 1.0)
