"""VAR checkpoints (`var_d16.pth` ... `var_d36.pth`) as next-scale `AutoregressiveModel`s.

VAR's transformer is configuration of the one `AutoregressiveModel` (see
`omniar.models.layer_variant`): LayerNorm without affine parameters (eps 1e-6), cosine
attention with a learned per-head scale, query and value biases (no key bias), a tanh-GELU MLP
at 4x width, AdaLN from the class embedding in every block and before the head (shared AdaLN
for d36-s), no rotary positions but a learned table of absolute positions.

The mapping:

- the fused `mat_qkv` projection is split into our query and key/value projections;
- VAR's six AdaLN chunks come in the order (gamma1, gamma2, scale1, scale2, shift1, shift2);
  ours are (shift1, scale1, gate1, shift2, scale2, gate2), so the rows are permuted;
- inputs: VAR embeds a scale's input features with `word_embed` and adds the level embedding of
  its scale; our next-scale order feeds the features with a one-hot of the scale, so the
  feature projection is `[word_embed | lvl_embed^T]` and reproduces both sums;
- positions: `pos_1LC` is our position table; its row 0 (the start slot, which predicts scale 0)
  also takes `pos_start` and level 0's embedding, so our prefix (the class embedding at row 0)
  is VAR's start token, while the AdaLN condition stays the bare class embedding.

Buffers VAR keeps beside the weights (`zero_k_bias`, `lvl_1L`, `attn_bias_for_masking`) are
dropped; every other key must be mapped and present. The model's token table is stored as zeros:
the next-scale order feeds features, never token ids.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch

from omniar.convert.state_keys import check_keys, required_key
from omniar.errors import OmniarError
from omniar.models.ar_model import AutoregressiveModel

# hidden size -> VAR name; VAR's models have width 64 * depth and as many heads as blocks
VAR_WIDTHS = {1024: "VAR-d16", 1280: "VAR-d20", 1536: "VAR-d24", 1920: "VAR-d30", 2304: "VAR-d36"}
# number of positions -> scales (VAR's `--pn 256` and `--pn 512`)
VAR_SCALES = {680: (1, 2, 3, 4, 5, 6, 8, 10, 13, 16), 2240: (1, 2, 3, 4, 6, 9, 13, 18, 24, 32)}
IGNORED = re.compile(r"^(lvl_1L|attn_bias_for_masking)$|\.attn\.zero_k_bias$")
BLOCK_KEY = re.compile(r"^blocks\.(\d+)\.")
VAE_MARKER = "quantize.embedding.weight"
# ours[i] = VAR's chunk ADALN_ORDER[i]: shift1, scale1, gate1, shift2, scale2, gate2
ADALN_ORDER = (4, 2, 0, 5, 3, 1)
BLOCK_KEYS = ("attn.mat_qkv.weight", "attn.q_bias", "attn.v_bias", "attn.scale_mul_1H11", "attn.proj.weight",
              "attn.proj.bias", "ffn.fc1.weight", "ffn.fc1.bias", "ffn.fc2.weight", "ffn.fc2.bias")
TOP_KEYS = ("pos_start", "pos_1LC", "word_embed.weight", "word_embed.bias", "class_emb.weight",
            "lvl_embed.weight", "head_nm.ada_lin.1.weight", "head_nm.ada_lin.1.bias", "head.weight", "head.bias")


@dataclass(frozen=True)
class VARLayout:
    """What a VAR file holds, read from its tensor shapes."""

    name: str
    hidden_size: int
    num_heads: int
    num_layers: int
    intermediate_size: int
    vocab_size: int
    latent_channels: int
    num_classes: int
    scales: tuple[int, ...]
    shared_adaln: bool

    @property
    def image_size(self) -> int:
        """Pixels per side: VAR's VQVAE downsamples by 16."""
        return 16 * self.scales[-1]

    @property
    def description(self) -> str:
        shared = ", shared AdaLN" if self.shared_adaln else ""
        return f"{self.name}, {self.num_layers} blocks, width {self.hidden_size}{shared}, {self.image_size}px"


def _expect(state: dict[str, torch.Tensor], key: str, path: str) -> torch.Tensor:
    return required_key(state, key, "--var", path, "VAR")


def infer_var_layout(state: dict[str, torch.Tensor], path: str) -> VARLayout:
    """The architecture of a VAR state dict; an OmniarError if it is not one."""
    if VAE_MARKER in state:
        raise OmniarError(f"--var {path}: this is a VQVAE checkpoint; pass it as --vae, and a VAR model as --var")
    classes, hidden = _expect(state, "class_emb.weight", path).shape
    if hidden not in VAR_WIDTHS:
        widths = ", ".join(f"{width} ({name})" for width, name in VAR_WIDTHS.items())
        raise OmniarError(f"--var {path}: unknown VAR architecture of width {hidden}; expected one of {widths}")
    positions = _expect(state, "pos_1LC", path).shape[1]
    if positions not in VAR_SCALES:
        raise OmniarError(f"--var {path}: {positions} positions; expected {sorted(VAR_SCALES)} "
                          "(VAR's scales for 256 or 512 pixels)")
    blocks = sorted({int(m.group(1)) for key in state if (m := BLOCK_KEY.match(key))})
    if not blocks or blocks != list(range(len(blocks))):
        raise OmniarError(f"--var {path}: expected blocks numbered 0..N-1, found {blocks[:8]}")
    heads = _expect(state, "blocks.0.attn.scale_mul_1H11", path).shape[1]
    vocab_size = _expect(state, "head.weight", path).shape[0]
    latent_channels = _expect(state, "word_embed.weight", path).shape[1]
    intermediate = _expect(state, "blocks.0.ffn.fc1.weight", path).shape[0]
    return VARLayout(VAR_WIDTHS[hidden], hidden, heads, len(blocks), intermediate, vocab_size, latent_channels,
                     classes - 1, VAR_SCALES[positions], "shared_ada_lin.1.weight" in state)


def build_model(layout: VARLayout) -> AutoregressiveModel:
    """An `AutoregressiveModel` configured as VAR's transformer (weights still random)."""
    return AutoregressiveModel(
        vocab_size=layout.vocab_size, hidden_size=layout.hidden_size, num_layers=layout.num_layers,
        num_heads=layout.num_heads, intermediate_size=layout.intermediate_size, rope_axes=2, adaln=True,
        condition="class", class_sizes=[layout.num_classes], input_dim=layout.latent_channels + len(layout.scales),
        norm_eps=1e-6, norm_type="layer", mlp_type="gelu", attention_type="cosine", bias=True, rope=False,
        adaln_head=True, adaln_shared=layout.shared_adaln,
        position_embeddings=sum(side * side for side in layout.scales),
    )


def adaln_to_ours(weight: torch.Tensor) -> torch.Tensor:
    """Rows (or entries) of VAR's six AdaLN chunks reordered to ours (see ADALN_ORDER)."""
    chunks = weight.reshape(6, -1, *weight.shape[1:]).unbind(0)
    return torch.cat([chunks[index] for index in ADALN_ORDER])


def _block_weights(state: dict[str, torch.Tensor], layout: VARLayout, index: int) -> dict[str, torch.Tensor]:
    source, target = f"blocks.{index}.", f"backbone.blocks.{index}."
    hidden, heads = layout.hidden_size, layout.num_heads
    qkv = state[source + "attn.mat_qkv.weight"]
    weights = {
        target + "attn.q_proj.weight": qkv[:hidden],
        target + "attn.q_proj.bias": state[source + "attn.q_bias"],
        target + "attn.kv_proj.weight": qkv[hidden:],
        target + "attn.v_bias": state[source + "attn.v_bias"].reshape(heads, 1, hidden // heads),
        target + "attn.q_norm.log_scale": state[source + "attn.scale_mul_1H11"].reshape(heads, 1, 1),
        target + "attn.o_proj.weight": state[source + "attn.proj.weight"],
        target + "attn.o_proj.bias": state[source + "attn.proj.bias"],
    }
    for layer in ("fc1", "fc2"):
        for leaf in ("weight", "bias"):
            weights[f"{target}mlp.{layer}.{leaf}"] = state[f"{source}ffn.{layer}.{leaf}"]
    if layout.shared_adaln:
        weights[target + "adaln_offset"] = adaln_to_ours(state[source + "ada_gss"].reshape(6, hidden)).flatten()
    else:
        for leaf in ("weight", "bias"):
            weights[f"{target}adaln.1.{leaf}"] = adaln_to_ours(state[f"{source}ada_lin.1.{leaf}"])
    return weights


def _expected_keys(layout: VARLayout) -> set[str]:
    per_block = BLOCK_KEYS + (("ada_gss",) if layout.shared_adaln else ("ada_lin.1.weight", "ada_lin.1.bias"))
    expected = set(TOP_KEYS) | {f"blocks.{i}.{key}" for i in range(layout.num_layers) for key in per_block}
    if layout.shared_adaln:
        expected |= {"shared_ada_lin.1.weight", "shared_ada_lin.1.bias"}
    return expected


def convert_var_state(state: dict[str, torch.Tensor], layout: VARLayout, path: str) -> dict[str, torch.Tensor]:
    """omniar's state dict for a VAR state dict; unknown or missing keys are an error listing them."""
    check_keys(_expected_keys(layout), (key for key in state if not IGNORED.search(key)), "--var", path,
               f"VAR {layout.description}")
    level = state["lvl_embed.weight"]
    positions = state["pos_1LC"][0].clone()
    positions[0] += state["pos_start"].reshape(-1) + level[0]
    converted = {
        "token_embed.weight": torch.zeros(layout.vocab_size, layout.hidden_size),
        "conditioner.tables.0.weight": state["class_emb.weight"],
        "feature_proj.weight": torch.cat([state["word_embed.weight"], level.T], dim=1),
        "feature_proj.bias": state["word_embed.bias"],
        "position_embed.weight": positions,
        "backbone.head_adaln.1.weight": state["head_nm.ada_lin.1.weight"],
        "backbone.head_adaln.1.bias": state["head_nm.ada_lin.1.bias"],
        "head.weight": state["head.weight"],
        "head.bias": state["head.bias"],
    }
    if layout.shared_adaln:
        for leaf in ("weight", "bias"):
            converted[f"backbone.shared_adaln.1.{leaf}"] = adaln_to_ours(state[f"shared_ada_lin.1.{leaf}"])
    for index in range(layout.num_layers):
        converted.update(_block_weights(state, layout, index))
    return {key: value.float().contiguous() for key, value in converted.items()}


def load_var(state: dict[str, torch.Tensor], path: str | Path) -> tuple[AutoregressiveModel, VARLayout]:
    """A converted, evaluation-mode model and its layout from a VAR state dict."""
    layout = infer_var_layout(state, str(path))
    model = build_model(layout)
    model.load_state_dict(convert_var_state(state, layout, str(path)))
    return model.eval(), layout
