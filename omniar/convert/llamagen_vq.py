"""LlamaGen's VQ-8 / VQ-16 tokenizers as `ImageVQTokenizer`s.

LlamaGen's tokenizer is the taming-transformers VQGAN layout: ResNet blocks with GroupNorm (32
groups, eps 1e-6), self-attention after every ResNet layer of the deepest level and in the
middle block, 1x1 convolutions into and out of an 8-dimensional codebook of 16,384 entries that
is searched by cosine similarity (both sides l2-normalised). diffusers' VAE `Encoder`/`Decoder`
have the same layout (`deepest_attention=True`), the 1x1 quant convolutions are the codebook
projections of `vector-quantize-pytorch`'s `VectorQuantize`, and the codebook is stored
normalised; this module maps the key names and infers the sizes from the shapes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from omniar.convert.state_keys import check_keys
from omniar.convert.vqgan_layout import ATTN_PARTS, RES_PARTS, codebook_buffers
from omniar.errors import OmniarError
from omniar.tokenizers.image_vq import ImageVQTokenizer

GPT_MARKER = "tok_embeddings.weight"
IGNORED = re.compile(r"^quantize\.codebook_used$")
LEVEL = re.compile(r"^encoder\.conv_blocks\.(\d+)\.")
QUANTIZER = "latent_quantizer.quantizer."


@dataclass(frozen=True)
class VQLayout:
    """Sizes of a LlamaGen VQ file, read from its tensor shapes."""

    block_out_channels: tuple[int, ...]
    layers_per_block: int
    latent_channels: int
    codebook_size: int
    codebook_dim: int

    @property
    def downsample_factor(self) -> int:
        return 2 ** (len(self.block_out_channels) - 1)


def infer_vq_layout(state: dict[str, torch.Tensor], path: str) -> VQLayout:
    """The architecture of a LlamaGen VQ state dict; an OmniarError if it is not one."""
    if GPT_MARKER in state:
        raise OmniarError(f"--vq {path}: this is a GPT checkpoint; pass it as --gpt, and the VQ tokenizer as --vq")
    if "quantize.embedding.weight" not in state or "encoder.conv_out.weight" not in state:
        raise OmniarError(
            f"--vq {path}: expected a LlamaGen VQ tokenizer checkpoint (quantize.embedding.weight, "
            "encoder.*, decoder.*), but its keys do not match"
        )
    levels = sorted({int(m.group(1)) for key in state if (m := LEVEL.match(key))})
    channels = tuple(state[f"encoder.conv_blocks.{i}.res.0.conv1.weight"].shape[0] for i in levels)
    layers = len({key.split(".")[4] for key in state if key.startswith("encoder.conv_blocks.0.res.")})
    codebook_size, codebook_dim = state["quantize.embedding.weight"].shape
    return VQLayout(channels, layers, state["encoder.conv_out.weight"].shape[0], codebook_size, codebook_dim)


def build_tokenizer(layout: VQLayout) -> ImageVQTokenizer:
    """An `ImageVQTokenizer` with LlamaGen's VQ layout (weights still random)."""
    return ImageVQTokenizer(
        downsample_factor=layout.downsample_factor, block_out_channels=layout.block_out_channels,
        layers_per_block=layout.layers_per_block, norm_num_groups=32, mid_block_add_attention=True,
        latent_channels=layout.latent_channels, quantizer="vq", codebook_size=layout.codebook_size,
        codebook_dim=layout.codebook_dim, deepest_attention=True,
    )


def _block_key(parts: list[str], attn_name: str) -> str:
    """'res.{j}.conv1.weight' / 'attn.{j}.q.weight' below a LlamaGen block, in diffusers' names."""
    kind, index, module, leaf = parts[0], parts[1], ".".join(parts[2:-1]), parts[-1]
    if kind == "res":
        return f"resnets.{index}.{RES_PARTS[module]}.{leaf}"
    if kind == "attn":
        return f"{attn_name}.{index}.{ATTN_PARTS[module]}.{leaf}"
    raise KeyError(kind)


def _target_key(key: str) -> str:
    """Our key for one LlamaGen VQ key (a KeyError for keys outside the layout)."""
    parts = key.split(".")
    side = parts[0]
    if side not in ("encoder", "decoder"):
        raise KeyError(key)
    if parts[1] in ("conv_in", "conv_out"):
        return key
    if parts[1] == "norm_out":
        return f"{side}.conv_norm_out.{parts[-1]}"
    if parts[1] == "mid":
        slot, module, leaf = int(parts[2]), ".".join(parts[3:-1]), parts[-1]
        if slot == 1:
            return f"{side}.mid_block.attentions.0.{ATTN_PARTS[module]}.{leaf}"
        return f"{side}.mid_block.resnets.{slot // 2}.{RES_PARTS[module]}.{leaf}"
    if parts[1] == "conv_blocks":
        blocks = "down_blocks" if side == "encoder" else "up_blocks"
        level, rest = parts[2], parts[3:]
        if rest[0] in ("downsample", "upsample"):
            sampler = "downsamplers" if rest[0] == "downsample" else "upsamplers"
            return f"{side}.{blocks}.{level}.{sampler}.0.{'.'.join(rest[1:])}"
        return f"{side}.{blocks}.{level}.{_block_key(rest, 'attentions')}"
    raise KeyError(key)


def convert_vq_state(state: dict[str, torch.Tensor], tokenizer: ImageVQTokenizer, path: str) -> dict[str, torch.Tensor]:
    """Our tokenizer's state dict from LlamaGen's; unknown or missing keys are an error listing them."""
    ours = tokenizer.state_dict()
    converted: dict[str, torch.Tensor] = {}
    unknown = []
    for key, value in state.items():
        if IGNORED.search(key) or key.startswith("quantize.") or "quant_conv" in key:
            continue
        try:
            target = _target_key(key)
        except KeyError:
            unknown.append(key)
            continue
        if target not in ours:
            unknown.append(key)
            continue
        converted[target] = value.reshape(ours[target].shape)  # 1x1 attention convs -> linear
    for source, target in (("quant_conv", "project_in"), ("post_quant_conv", "project_out")):
        for leaf in ("weight", "bias"):
            if f"{source}.{leaf}" in state:
                value = state[f"{source}.{leaf}"]
                converted[QUANTIZER + f"{target}.{leaf}"] = value.flatten(1) if leaf == "weight" else value
    codebook = F.normalize(state["quantize.embedding.weight"].float(), dim=-1)
    converted.update(codebook_buffers(codebook, ours, QUANTIZER))
    check_keys(ours, set(converted) | set(unknown), "--vq", path, "LlamaGen VQ")
    return {key: value.float().contiguous() if value.is_floating_point() else value
            for key, value in converted.items()}


def load_vq(state: dict[str, torch.Tensor], path: str | Path) -> tuple[ImageVQTokenizer, VQLayout]:
    """A converted, evaluation-mode tokenizer and its layout from a LlamaGen VQ state dict."""
    layout = infer_vq_layout(state, str(path))
    tokenizer = build_tokenizer(layout)
    tokenizer.load_state_dict(convert_vq_state(state, tokenizer, str(path)))
    return tokenizer.eval(), layout
