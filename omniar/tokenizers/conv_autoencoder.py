"""The parts both image tokenizers share: a small convolutional encoder/decoder and a quantiser.

The encoder and decoder are diffusers' VAE ``Encoder``/``Decoder`` (ResNet blocks, GroupNorm,
an optional self-attention block at the latent resolution), configured small: one down block per
entry of ``block_out_channels``, every block but the last halving the resolution, so the
downsampling factor is ``2 ** (len(block_out_channels) - 1)``. With ``deepest_attention`` the
deepest encoder and decoder blocks also put self-attention after every ResNet layer (diffusers'
``AttnDownEncoderBlock2D`` / ``AttnUpDecoderBlock2D``), the layout of the VQGAN-style tokenizers
of taming-transformers and LlamaGen.

:class:`LatentQuantizer` gives the two quantisers of ``vector-quantize-pytorch`` one interface
(quantised latent, integer codes, auxiliary loss; codes back to latent vectors):

- ``"fsq"`` (default): finite scalar quantisation (Mentzer et al. 2023). No codebook to learn or
  collapse, no auxiliary loss, near-full codebook usage; ``fsq_levels`` from the paper's table
  (``[8, 6, 5]`` = 240 codes, ``[8, 5, 5, 5]`` = 1000, ``[7, 5, 5, 5, 5]`` = 4375,
  ``[8, 8, 8, 6, 5]`` = 15360).
- ``"vq"``: a learned codebook looked up in a low-dimensional, l2-normalised space (cosine
  similarity, ``codebook_dim`` dimensions, as in ViT-VQGAN / LlamaGen), updated by EMA with
  dead-code replacement; the auxiliary loss is the commitment loss. With
  ``codebook_metric="euclidean"`` the nearest entry is found by Euclidean distance on the raw
  vectors instead (VAR's multi-scale quantiser).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from diffusers.models.autoencoders.vae import Decoder, Encoder
from torch import nn
from vector_quantize_pytorch import FSQ, VectorQuantize

QUANTIZERS = ("fsq", "vq")
CODEBOOK_METRICS = ("cosine", "euclidean")


def check_autoencoder_config(
    downsample_factor: int, block_out_channels: tuple[int, ...], norm_num_groups: int
) -> None:
    """Raise ValueError when the encoder/decoder settings do not fit together."""
    if downsample_factor < 2 or downsample_factor & (downsample_factor - 1):
        raise ValueError(
            "downsample_factor: expected a power of two such as 4, 8 or 16, "
            f"got {downsample_factor}"
        )
    expected_blocks = int(math.log2(downsample_factor)) + 1
    if len(block_out_channels) != expected_blocks:
        raise ValueError(
            f"block_out_channels: downsample_factor {downsample_factor} needs "
            f"{expected_blocks} entries (one per resolution), got {len(block_out_channels)}"
        )
    if any(channels % norm_num_groups for channels in block_out_channels):
        raise ValueError(
            f"norm_num_groups: {norm_num_groups} must divide every entry of "
            f"block_out_channels {tuple(block_out_channels)}"
        )


def build_encoder(
    latent_channels: int,
    block_out_channels: tuple[int, ...],
    layers_per_block: int,
    norm_num_groups: int,
    mid_block_add_attention: bool,
    deepest_attention: bool = False,
) -> Encoder:
    """A diffusers VAE encoder mapping (B, 3, H, W) images to (B, latent_channels, h, w)."""
    deepest = "AttnDownEncoderBlock2D" if deepest_attention else "DownEncoderBlock2D"
    return Encoder(
        in_channels=3,
        out_channels=latent_channels,
        down_block_types=("DownEncoderBlock2D",) * (len(block_out_channels) - 1) + (deepest,),
        block_out_channels=tuple(block_out_channels),
        layers_per_block=layers_per_block,
        norm_num_groups=norm_num_groups,
        double_z=False,
        mid_block_add_attention=mid_block_add_attention,
    )


def build_decoder(
    latent_channels: int,
    block_out_channels: tuple[int, ...],
    layers_per_block: int,
    norm_num_groups: int,
    mid_block_add_attention: bool,
    deepest_attention: bool = False,
) -> Decoder:
    """A diffusers VAE decoder mapping (B, latent_channels, h, w) latents to (B, 3, H, W)."""
    deepest = "AttnUpDecoderBlock2D" if deepest_attention else "UpDecoderBlock2D"
    return Decoder(
        in_channels=latent_channels,
        out_channels=3,
        up_block_types=(deepest,) + ("UpDecoderBlock2D",) * (len(block_out_channels) - 1),
        block_out_channels=tuple(block_out_channels),
        layers_per_block=layers_per_block,
        norm_num_groups=norm_num_groups,
        mid_block_add_attention=mid_block_add_attention,
    )


@dataclass
class QuantizerOutput:
    """What :class:`LatentQuantizer` returns for a (B, C, h, w) latent."""

    quantized: torch.Tensor
    codes: torch.Tensor
    aux_loss: torch.Tensor


class LatentQuantizer(nn.Module):
    """FSQ or l2-normalised VQ over the channels of a (B, C, h, w) latent (see module docstring)."""

    def __init__(
        self,
        latent_channels: int,
        quantizer: str = "fsq",
        fsq_levels: tuple[int, ...] = (8, 5, 5, 5),
        codebook_size: int = 1024,
        codebook_dim: int = 8,
        commitment_weight: float = 0.25,
        codebook_decay: float = 0.99,
        codebook_metric: str = "cosine",
    ) -> None:
        super().__init__()
        if quantizer not in QUANTIZERS:
            raise ValueError(f"quantizer: expected one of {QUANTIZERS}, got {quantizer!r}")
        if codebook_metric not in CODEBOOK_METRICS:
            raise ValueError(f"codebook_metric: expected one of {CODEBOOK_METRICS}, got {codebook_metric!r}")
        self.kind = quantizer
        if quantizer == "fsq":
            if len(fsq_levels) == 0 or any(level < 3 for level in fsq_levels):
                raise ValueError(f"fsq_levels: expected levels >= 3, got {tuple(fsq_levels)}")
            self.quantizer = FSQ(levels=list(fsq_levels), dim=latent_channels)
            self.vocab_size = math.prod(fsq_levels)
        else:
            if codebook_size < 2:
                raise ValueError(f"codebook_size: expected at least 2, got {codebook_size}")
            self.quantizer = VectorQuantize(
                dim=latent_channels,
                codebook_size=codebook_size,
                codebook_dim=codebook_dim,
                use_cosine_sim=codebook_metric == "cosine",
                decay=codebook_decay,
                commitment_weight=commitment_weight,
                threshold_ema_dead_code=2,
                accept_image_fmap=True,
            )
            self.vocab_size = codebook_size

    def forward(self, latent: torch.Tensor) -> QuantizerOutput:
        """Quantise a (B, C, h, w) latent; codes are (B, h, w) int64."""
        if self.kind == "fsq":
            quantized, codes = self.quantizer(latent)
            aux_loss = latent.new_zeros(())
        else:
            quantized, codes, aux_loss = self.quantizer(latent)
            aux_loss = aux_loss.sum()
        return QuantizerOutput(quantized, codes.long(), aux_loss)

    def embed(self, codes: torch.Tensor) -> torch.Tensor:
        """The quantised latent vectors of (B, h, w) codes, as (B, C, h, w)."""
        if self.kind == "fsq":
            return self.quantizer.indices_to_codes(codes)
        # VectorQuantize.get_output_from_indices moves channels first before its output projection
        # when accept_image_fmap is set (vector-quantize-pytorch 1.32), so look the vectors up here.
        vectors = self.quantizer.project_out(self.quantizer.codebook[codes])
        return vectors.permute(0, 3, 1, 2)
