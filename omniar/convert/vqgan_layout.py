"""What LlamaGen's and VAR's tokenizers share: taming-transformers' VQGAN blocks in diffusers' names.

Both published tokenizers build their encoder and decoder from the same ResNet and attention
blocks (GroupNorm 32, eps 1e-6; single-head attention through 1x1 convolutions), which diffusers'
VAE `Encoder`/`Decoder` reproduce; they differ in how the blocks are named around these parts.
This module holds the part names and the codebook buffers of vector-quantize-pytorch, so each
converter only maps its own block paths.
"""

from __future__ import annotations

import torch

RES_PARTS = {"norm1": "norm1", "conv1": "conv1", "norm2": "norm2", "conv2": "conv2",
             "nin_shortcut": "conv_shortcut"}
ATTN_PARTS = {"norm": "group_norm", "q": "to_q", "k": "to_k", "v": "to_v", "proj_out": "to_out.0"}


def codebook_buffers(codebook: torch.Tensor, ours: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """vector-quantize-pytorch's codebook state (entries, EMA statistics, "initialised" flag)
    holding the (K, D) `codebook`, under `prefix` (e.g. "latent_quantizer.quantizer.")."""
    codebook = codebook.float()[None]
    return {
        prefix + "_codebook.embed": codebook,
        prefix + "_codebook.embed_avg": codebook.clone(),
        prefix + "_codebook.cluster_size": torch.ones(1, codebook.shape[1]),
        prefix + "_codebook.initted": ours[prefix + "_codebook.initted"].clone().fill_(True),
    }
