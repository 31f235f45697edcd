"""VAR's multi-scale VQVAE (`vae_ch160v4096z32.pth`) as a `MultiScaleVQTokenizer`.

VAR's tokenizer is the VQGAN encoder/decoder (`ch=160`, channel multipliers 1, 1, 2, 2, 4, two
ResNet layers per level, self-attention after each layer of the deepest level and in the middle
block; `omniar.convert.vqgan_layout`), 3x3 convolutions around a 4,096 x 32 codebook searched by
Euclidean distance, and four phi convolutions shared by the ten scales by the fixed table
`VAR_PHI_INDICES`. The scales themselves are not in the file: they come from the VAR model the
tokenizer is converted with (256 or 512 pixels).

VAR names its blocks `down.{level}.block.{j}` / `attn.{j}` with one fused `qkv` convolution,
`mid.block_1`, `mid.attn_1`, `mid.block_2`, and numbers decoder levels from the finest
(`up.{level}`), where diffusers' `up_blocks` start at the deepest. The codebook usage statistics
(`quantize.ema_vocab_hit_SV`) are training state and are dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch

from omniar.convert.state_keys import check_keys
from omniar.convert.vqgan_layout import ATTN_PARTS, RES_PARTS, codebook_buffers
from omniar.errors import OmniarError
from omniar.tokenizers.multiscale_vq import MultiScaleVQTokenizer

VAR_PHI_INDICES = (0, 0, 1, 1, 1, 2, 2, 3, 3, 3)
VAR_MARKER = "class_emb.weight"
IGNORED = re.compile(r"^quantize\.ema_vocab_hit_SV$")
LEVEL = re.compile(r"^encoder\.down\.(\d+)\.")
PHI = re.compile(r"^quantize\.quant_resi\.qresi_ls\.(\d+)\.weight$")
MID = {"block_1": "resnets.0", "attn_1": "attentions.0", "block_2": "resnets.1"}
QUANTIZER = "latent_quantizer.quantizer."


@dataclass(frozen=True)
class VAELayout:
    """Sizes of a VAR VQVAE file, read from its tensor shapes."""

    block_out_channels: tuple[int, ...]
    layers_per_block: int
    latent_channels: int
    codebook_size: int
    num_phi: int
    quant_conv_kernel_size: int

    @property
    def downsample_factor(self) -> int:
        return 2 ** (len(self.block_out_channels) - 1)


def infer_vae_layout(state: dict[str, torch.Tensor], path: str) -> VAELayout:
    """The architecture of a VAR VQVAE state dict; an OmniarError if it is not one."""
    if VAR_MARKER in state:
        raise OmniarError(f"--vae {path}: this is a VAR model checkpoint; pass it as --var, and the VQVAE as --vae")
    needed = ("quantize.embedding.weight", "encoder.conv_out.weight", "quant_conv.weight",
              "quantize.quant_resi.qresi_ls.0.weight")
    if any(key not in state for key in needed):
        raise OmniarError(
            f"--vae {path}: expected VAR's VQVAE checkpoint (quantize.embedding.weight, "
            "quantize.quant_resi.*, quant_conv.*, encoder.*, decoder.*), but its keys do not match"
        )
    levels = sorted({int(m.group(1)) for key in state if (m := LEVEL.match(key))})
    channels = tuple(state[f"encoder.down.{i}.block.0.conv1.weight"].shape[0] for i in levels)
    layers = len({key.split(".")[4] for key in state if key.startswith("encoder.down.0.block.")})
    codebook_size = state["quantize.embedding.weight"].shape[0]
    phis = len([key for key in state if PHI.match(key)])
    return VAELayout(channels, layers, state["encoder.conv_out.weight"].shape[0], codebook_size, phis,
                     state["quant_conv.weight"].shape[-1])


def build_tokenizer(layout: VAELayout, scales: tuple[int, ...]) -> MultiScaleVQTokenizer:
    """A `MultiScaleVQTokenizer` with VAR's VQVAE layout over `scales` (weights still random)."""
    return MultiScaleVQTokenizer(
        scales=scales, downsample_factor=layout.downsample_factor, block_out_channels=layout.block_out_channels,
        layers_per_block=layout.layers_per_block, norm_num_groups=32, mid_block_add_attention=True,
        latent_channels=layout.latent_channels, quantizer="vq", codebook_size=layout.codebook_size,
        codebook_dim=layout.latent_channels, num_phi=layout.num_phi, phi_residual_ratio=0.5,
        upsample_mode="bicubic", phi_indices=VAR_PHI_INDICES, quant_conv_kernel_size=layout.quant_conv_kernel_size,
        deepest_attention=True, codebook_metric="euclidean",
    )


def _block_path(side: str, parts: list[str], levels: int) -> str:
    """Our prefix for VAR's `{side}.down|up.{level}.block|attn|downsample|upsample.{...}` path."""
    level, kind = int(parts[0]), parts[1]
    if side == "encoder":
        prefix = f"encoder.down_blocks.{level}."
    else:
        prefix = f"decoder.up_blocks.{levels - 1 - level}."
    if kind == "block":
        return prefix + f"resnets.{parts[2]}"
    if kind == "attn":
        return prefix + f"attentions.{parts[2]}"
    if kind in ("downsample", "upsample"):
        return prefix + f"{kind}rs.0"
    raise KeyError(kind)


def _target(key: str, levels: int) -> tuple[str, str]:
    """(our module path, VAR's part below it) for one VAR key; a KeyError outside the layout."""
    parts = key.split(".")
    side = parts[0]
    if side in ("quant_conv", "post_quant_conv"):
        return side, parts[1]
    if side not in ("encoder", "decoder"):
        raise KeyError(key)
    if parts[1] in ("conv_in", "conv_out"):
        return f"{side}.{parts[1]}", parts[2]
    if parts[1] == "norm_out":
        return f"{side}.conv_norm_out", parts[2]
    if parts[1] == "mid":
        return f"{side}.mid_block.{MID[parts[2]]}", ".".join(parts[3:])
    if parts[1] in ("down", "up"):
        depth = 3 if parts[3] in ("block", "attn") else 2
        return _block_path(side, parts[2:], levels), ".".join(parts[2 + depth:])
    raise KeyError(key)


def _part_weights(module: str, part: str, value: torch.Tensor, ours: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our weights for one VAR tensor: ResNet and conv parts renamed, attention's qkv split."""
    if ".attentions." not in module:
        name, leaf = part.rsplit(".", 1) if "." in part else ("", part)
        name = RES_PARTS.get(name, name) if ".resnets." in module else name
        return {".".join(p for p in (module, name, leaf) if p): value}
    name, leaf = part.split(".")
    if name == "qkv":
        targets = [f"{module}.{ATTN_PARTS[piece]}.{leaf}" for piece in ("q", "k", "v")]
        return {target: chunk.reshape(ours[target].shape) for target, chunk in zip(targets, value.chunk(3))}
    target = f"{module}.{ATTN_PARTS[name]}.{leaf}"
    return {target: value.reshape(ours[target].shape) if target in ours else value}


def convert_vae_state(state: dict[str, torch.Tensor], tokenizer: MultiScaleVQTokenizer, path: str
                      ) -> dict[str, torch.Tensor]:
    """Our tokenizer's state dict from VAR's VQVAE; unknown or missing keys are an error listing them."""
    ours = tokenizer.state_dict()
    levels = len(tokenizer.config.block_out_channels)
    converted: dict[str, torch.Tensor] = {}
    unknown = []
    for key, value in state.items():
        if IGNORED.search(key) or key == "quantize.embedding.weight":
            continue
        if key.startswith("quantize.quant_resi.qresi_ls."):
            converted["phis." + key.removeprefix("quantize.quant_resi.qresi_ls.")] = value
            continue
        try:
            converted.update(_part_weights(*_target(key, levels), value, ours))
        except KeyError:
            unknown.append(key)
    converted.update(codebook_buffers(state["quantize.embedding.weight"], ours, QUANTIZER))
    unknown += [key for key in converted if key not in ours]
    check_keys(ours, [key for key in converted if key in ours] + unknown, "--vae", path, "VAR VQVAE")
    return {key: value.float().contiguous() if value.is_floating_point() else value
            for key, value in converted.items()}


def load_vae(state: dict[str, torch.Tensor], path: str | Path, scales: tuple[int, ...]
             ) -> tuple[MultiScaleVQTokenizer, VAELayout]:
    """A converted, evaluation-mode tokenizer over `scales` and its layout from a VAR VQVAE state dict."""
    layout = infer_vae_layout(state, str(path))
    if layout.num_phi != 4 or len(scales) != len(VAR_PHI_INDICES):
        raise OmniarError(f"--vae {path}: {layout.num_phi} phi convolutions for {len(scales)} scales; VAR's "
                          f"VQVAE has 4 for 10 scales")
    tokenizer = build_tokenizer(layout, scales)
    tokenizer.load_state_dict(convert_vae_state(state, tokenizer, str(path)))
    return tokenizer.eval(), layout
