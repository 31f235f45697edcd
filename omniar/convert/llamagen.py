"""LlamaGen GPT checkpoints as `AutoregressiveModel`s: architecture from the shapes, key mapping.

LlamaGen's GPT is a Llama decoder over VQ codes with a class token (c2i: 1,000 classes and the
null class 1000) or 120 projected T5 caption tokens (t2i) in front. What differs from omniar's
defaults becomes configuration of the one `AutoregressiveModel`: RMSNorm epsilon 1e-5, zero
rotation (cos = sin = 0) on condition tokens, the explicit SwiGLU width, an MLP caption
projection and the fixed unconditional caption (a buffer in the file, converted as a weight).

Two layouts differ and are mapped here: the fused `wqkv` projection is split into our query and
key/value projections, and LlamaGen rotates interleaved pairs (dims 2i, 2i + 1) where omniar
rotates halves (dims i, i + D/2), so the query and key rows of every head are permuted. The
permutation is applied to both, so attention scores are unchanged. Both use the same 2D
frequencies: the first half of the pairs rotates by the row, the second by the column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch

from omniar.convert.state_keys import check_keys, required_key
from omniar.errors import OmniarError
from omniar.models.ar_model import AutoregressiveModel
from omniar.samplers.guidance import GuidanceSchedule

# hidden size -> (LlamaGen name, heads, published depth); heads are not visible in the shapes
GPT_WIDTHS = {
    768: ("GPT-B", 12, 12), 1024: ("GPT-L", 16, 24), 1280: ("GPT-XL", 20, 36),
    1536: ("GPT-XXL", 24, 48), 2048: ("GPT-1B", 32, 22), 2560: ("GPT-XXXL", 40, 48),
    3200: ("GPT-3B", 32, 24), 4096: ("GPT-7B", 32, 32),
}
# guidance scale of the published FID figures (top-k off, temperature 1)
FID_GUIDANCE = {"GPT-B": 2.0, "GPT-L": 2.0, "GPT-XL": 1.75, "GPT-XXL": 1.75, "GPT-3B": 1.65}
IGNORED = re.compile(r"^(freqs_cis|causal_mask)$|\.kv_cache\.[kv]_cache$")
LAYER_KEY = re.compile(r"^layers\.(\d+)\.")
VQ_MARKER = "quantize.embedding.weight"


@dataclass(frozen=True)
class GPTLayout:
    """What a LlamaGen GPT file holds, read from its tensor shapes."""

    name: str
    hidden_size: int
    num_heads: int
    num_kv_heads: int
    num_layers: int
    intermediate_size: int
    vocab_size: int
    condition: str
    num_classes: int = 1000
    caption_dim: int | None = None
    caption_length: int | None = None

    @property
    def description(self) -> str:
        kind = "c2i" if self.condition == "class" else "t2i"
        return f"{self.name} {kind}, {self.num_layers} layers, width {self.hidden_size}"


def _expect(state: dict[str, torch.Tensor], key: str, path: str) -> torch.Tensor:
    return required_key(state, key, "--gpt", path, "LlamaGen GPT")


def infer_gpt_layout(state: dict[str, torch.Tensor], path: str) -> GPTLayout:
    """The architecture of a LlamaGen GPT state dict; an OmniarError if it is not one."""
    if VQ_MARKER in state:
        raise OmniarError(f"--gpt {path}: this is a VQ tokenizer checkpoint; pass it as --vq, and a GPT as --gpt")
    tokens = _expect(state, "tok_embeddings.weight", path)
    vocab_size, hidden = tokens.shape
    if hidden not in GPT_WIDTHS:
        widths = ", ".join(f"{width} ({name})" for width, (name, _, _) in GPT_WIDTHS.items())
        raise OmniarError(f"--gpt {path}: unknown LlamaGen architecture of width {hidden}; expected one of {widths}")
    name, heads, _ = GPT_WIDTHS[hidden]
    layers = sorted({int(m.group(1)) for key in state if (m := LAYER_KEY.match(key))})
    if not layers or layers != list(range(len(layers))):
        raise OmniarError(f"--gpt {path}: expected transformer layers numbered 0..N-1, found {layers[:8]}")
    head_dim = hidden // heads
    qkv_rows = _expect(state, "layers.0.attention.wqkv.weight", path).shape[0]
    kv_heads = (qkv_rows - hidden) // (2 * head_dim)
    intermediate = _expect(state, "layers.0.feed_forward.w1.weight", path).shape[0]
    if "cls_embedding.embedding_table.weight" in state:
        classes = state["cls_embedding.embedding_table.weight"].shape[0] - 1
        return GPTLayout(name, hidden, heads, kv_heads, len(layers), intermediate, vocab_size, "class", classes)
    if "cls_embedding.cap_proj.fc1.weight" in state:
        null = _expect(state, "cls_embedding.uncond_embedding", path)
        return GPTLayout(name, hidden, heads, kv_heads, len(layers), intermediate, vocab_size, "text",
                         caption_dim=null.shape[1], caption_length=null.shape[0])
    raise OmniarError(
        f"--gpt {path}: expected a class embedding (c2i) or a caption projection (t2i) under cls_embedding"
    )


def build_model(layout: GPTLayout) -> AutoregressiveModel:
    """An `AutoregressiveModel` configured as LlamaGen's GPT (weights still random)."""
    text = layout.condition == "text"
    return AutoregressiveModel(
        vocab_size=layout.vocab_size, hidden_size=layout.hidden_size, num_layers=layout.num_layers,
        num_heads=layout.num_heads, num_kv_heads=layout.num_kv_heads,
        intermediate_size=layout.intermediate_size, rope_axes=2, rope_theta=10000.0,
        condition=layout.condition, class_sizes=[layout.num_classes],
        text_dim=layout.caption_dim if text else None, norm_eps=1e-5, prefix_rotation="zero",
        text_projection="mlp" if text else "linear", text_length=layout.caption_length if text else None,
    )


def interleaved_to_halves(weight: torch.Tensor, heads: int) -> torch.Tensor:
    """Reorder the output rows of a (heads * D, in) projection from interleaved rotary pairs to
    halves: our dim i < D/2 is LlamaGen's 2i, our dim D/2 + i is LlamaGen's 2i + 1."""
    head_dim = weight.shape[0] // heads
    order = torch.cat([torch.arange(0, head_dim, 2), torch.arange(1, head_dim, 2)])
    return weight.view(heads, head_dim, -1)[:, order].reshape_as(weight)


def _layer_weights(state: dict[str, torch.Tensor], layout: GPTLayout, index: int) -> dict[str, torch.Tensor]:
    source, target = f"layers.{index}.", f"backbone.blocks.{index}."
    head_dim = layout.hidden_size // layout.num_heads
    kv_size = layout.num_kv_heads * head_dim
    q, k, v = state[source + "attention.wqkv.weight"].split([layout.hidden_size, kv_size, kv_size])
    return {
        target + "attn.q_proj.weight": interleaved_to_halves(q, layout.num_heads),
        target + "attn.kv_proj.weight": torch.cat([interleaved_to_halves(k, layout.num_kv_heads), v]),
        target + "attn.o_proj.weight": state[source + "attention.wo.weight"],
        target + "attn_norm.weight": state[source + "attention_norm.weight"],
        target + "mlp_norm.weight": state[source + "ffn_norm.weight"],
        target + "mlp.fc1_g.weight": state[source + "feed_forward.w1.weight"],
        target + "mlp.fc1_x.weight": state[source + "feed_forward.w3.weight"],
        target + "mlp.fc2.weight": state[source + "feed_forward.w2.weight"],
    }


LAYER_SOURCE_KEYS = ("attention.wqkv.weight", "attention.wo.weight", "attention_norm.weight",
                     "ffn_norm.weight", "feed_forward.w1.weight", "feed_forward.w2.weight",
                     "feed_forward.w3.weight")
CONDITION_KEYS = {
    "class": {"cls_embedding.embedding_table.weight": "conditioner.tables.0.weight"},
    "text": {"cls_embedding.cap_proj.fc1.weight": "conditioner.proj.0.weight",
             "cls_embedding.cap_proj.fc2.weight": "conditioner.proj.2.weight",
             "cls_embedding.uncond_embedding": "conditioner.null_states"},
}
TOP_KEYS = {"tok_embeddings.weight": "token_embed.weight", "norm.weight": "backbone.norm.weight",
            "output.weight": "head.weight"}


def convert_gpt_state(state: dict[str, torch.Tensor], layout: GPTLayout, path: str) -> dict[str, torch.Tensor]:
    """omniar's state dict for a LlamaGen GPT's; unknown or missing keys are an error listing them."""
    direct = {**TOP_KEYS, **CONDITION_KEYS[layout.condition]}
    expected = set(direct) | {f"layers.{i}.{key}" for i in range(layout.num_layers) for key in LAYER_SOURCE_KEYS}
    present = {key for key in state if not IGNORED.search(key)}
    check_keys(expected, present, "--gpt", path, f"LlamaGen {layout.description}")
    converted = {target: state[source] for source, target in direct.items()}
    for index in range(layout.num_layers):
        converted.update(_layer_weights(state, layout, index))
    return {key: value.float().contiguous() for key, value in converted.items()}


def load_gpt(state: dict[str, torch.Tensor], path: str | Path) -> tuple[AutoregressiveModel, GPTLayout]:
    """A converted, evaluation-mode model and its layout from a LlamaGen GPT state dict."""
    layout = infer_gpt_layout(state, str(path))
    model = build_model(layout)
    model.load_state_dict(convert_gpt_state(state, layout, str(path)))
    return model.eval(), layout


def cfg_interval_schedule(cfg_scale: float, cfg_interval: int, num_tokens: int) -> GuidanceSchedule:
    """LlamaGen's `cfg_interval` (a token count; -1 = guide every token) as a guidance schedule.

    LlamaGen's loop guides the first token, then decode steps 0..cfg_interval, i.e. tokens
    0..cfg_interval + 1, and uses the conditional logits alone after that. omniar's "interval"
    schedule guides steps with step / (num_tokens - 1) <= end, so end = (cfg_interval + 1) /
    (num_tokens - 1) selects exactly those steps (the same division on both sides).
    """
    last = cfg_interval + 1
    if cfg_interval < 0 or last >= num_tokens - 1:
        return GuidanceSchedule(scale=cfg_scale)
    return GuidanceSchedule(scale=cfg_scale, schedule="interval", interval=(0.0, last / (num_tokens - 1)))
