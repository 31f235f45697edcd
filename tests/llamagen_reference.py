"""Independent references for the LlamaGen parity tests, written from the published equations.

Random state dicts use LlamaGen's exact key names; the reference forwards read them directly
(interleaved 2D rotary with cos = sin = 0 on condition tokens, RMSNorm eps 1e-5, SwiGLU, the
VQGAN encoder/decoder and the cosine codebook search), never through omniar's modules.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from vqgan_reference import conv as _conv
from vqgan_reference import norm_act as _norm_act
from vqgan_reference import random_tensor as _random
from vqgan_reference import resnet as _res

GPT_B = dict(dim=768, heads=12, inter=2048, vocab=16384)


def gpt_state(kind: str = "c2i", layers: int = 1, seed: int = 0, caption_dim: int = 2048,
              caption_length: int = 120, dim: int = 768, inter: int = 2048, vocab: int = 16384) -> dict:
    """A random LlamaGen GPT state dict (GPT-B widths by default), plus a `freqs_cis` non-weight."""
    g = torch.Generator().manual_seed(seed)
    state = {"tok_embeddings.weight": _random(g, vocab, dim, std=1.0), "norm.weight": 1 + _random(g, dim),
             "output.weight": _random(g, vocab, dim), "freqs_cis": torch.zeros(3, 2)}
    if kind == "c2i":
        state["cls_embedding.embedding_table.weight"] = _random(g, 1001, dim, std=1.0)
    else:
        state["cls_embedding.cap_proj.fc1.weight"] = _random(g, dim, caption_dim)
        state["cls_embedding.cap_proj.fc2.weight"] = _random(g, dim, dim)
        state["cls_embedding.uncond_embedding"] = _random(g, caption_length, caption_dim, std=caption_dim**-0.5)
    for i in range(layers):
        p = f"layers.{i}."
        state[p + "attention.wqkv.weight"] = _random(g, 3 * dim, dim)
        state[p + "attention.wo.weight"] = _random(g, dim, dim)
        state[p + "attention_norm.weight"] = 1 + _random(g, dim)
        state[p + "ffn_norm.weight"] = 1 + _random(g, dim)
        state[p + "feed_forward.w1.weight"] = _random(g, inter, dim)
        state[p + "feed_forward.w3.weight"] = _random(g, inter, dim)
        state[p + "feed_forward.w2.weight"] = _random(g, dim, inter)
    return state


def _rms(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * weight


def _rotary_tables(prefix: int, grid: int, count: int, head_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin (prefix + count, head_dim / 2): zeros for the prefix, then rows then columns."""
    quarter = head_dim // 4
    freqs = 1.0 / (10000 ** (torch.arange(quarter, dtype=torch.float) * 2 / (head_dim // 2)))
    index = torch.arange(count)
    angles = torch.cat([(index // grid)[:, None] * freqs, (index % grid)[:, None] * freqs], 1)
    zeros = torch.zeros(prefix, head_dim // 2)
    return torch.cat([zeros, angles.cos()]), torch.cat([zeros, angles.sin()])


def _rotate_interleaved(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    pairs = x.unflatten(-1, (-1, 2))
    a, b = pairs[..., 0], pairs[..., 1]
    cos, sin = cos[None, :, None], sin[None, :, None]
    return torch.stack([a * cos - b * sin, b * cos + a * sin], -1).flatten(-2)


def condition_embeddings(state: dict, labels: torch.Tensor | None = None,
                         captions: torch.Tensor | None = None) -> torch.Tensor:
    """(B, P, D) prefix: a class row, or the caption MLP (Linear, tanh-GELU, Linear) of captions."""
    if labels is not None:
        return state["cls_embedding.embedding_table.weight"][labels][:, None]
    hidden = F.gelu(captions @ state["cls_embedding.cap_proj.fc1.weight"].T, approximate="tanh")
    return hidden @ state["cls_embedding.cap_proj.fc2.weight"].T


def gpt_logits(state: dict, prefix: torch.Tensor, tokens: torch.Tensor, grid: int, heads: int = 12,
               prefix_valid: torch.Tensor | None = None, last_only: bool = False) -> torch.Tensor:
    """Logits (B, P + N, V) of the whole sequence [prefix, tokens] with causal attention (only the
    last position's with `last_only`); padded prefix keys (prefix_valid False) are masked, every
    token sees itself."""
    batch, prefix_length, dim = prefix.shape
    h = torch.cat([prefix, state["tok_embeddings.weight"][tokens]], 1)
    length, head_dim = h.shape[1], dim // heads
    cos, sin = _rotary_tables(prefix_length, grid, tokens.shape[1], head_dim)
    valid = torch.ones(batch, length, dtype=torch.bool)
    if prefix_valid is not None:
        valid[:, :prefix_length] = prefix_valid
    mask = torch.tril(torch.ones(length, length, dtype=torch.bool))[None] & valid[:, None, :]
    mask |= torch.eye(length, dtype=torch.bool)[None]
    layers = len({key.split(".")[1] for key in state if key.startswith("layers.")})
    for i in range(layers):
        p = f"layers.{i}."
        x = _rms(h, state[p + "attention_norm.weight"])
        q, k, v = (x @ state[p + "attention.wqkv.weight"].T).split(dim, -1)
        q, k, v = (t.view(batch, length, heads, head_dim) for t in (q, k, v))
        q, k = _rotate_interleaved(q, cos, sin), _rotate_interleaved(k, cos, sin)
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(head_dim)
        scores = scores.masked_fill(~mask[:, None], float("-inf"))
        out = torch.einsum("bhqk,bkhd->bqhd", scores.softmax(-1), v).reshape(batch, length, dim)
        h = h + out @ state[p + "attention.wo.weight"].T
        x = _rms(h, state[p + "ffn_norm.weight"])
        gate = F.silu(x @ state[p + "feed_forward.w1.weight"].T) * (x @ state[p + "feed_forward.w3.weight"].T)
        h = h + gate @ state[p + "feed_forward.w2.weight"].T
    if last_only:
        h = h[:, -1:]
    return _rms(h, state["norm.weight"]) @ state["output.weight"].T


def greedy_reference(state: dict, prefix: torch.Tensor, null_prefix: torch.Tensor, grid: int,
                     cfg_scale: float, cfg_interval: int = -1, prefix_valid: torch.Tensor | None = None
                     ) -> torch.Tensor:
    """LlamaGen's sampling loop with top-k 1, recomputing the whole sequence at every step.

    CFG as LlamaGen: the first token is always guided; decode step i (token i + 1) is guided
    while i <= cfg_interval (cfg_interval = -1: always); after that the conditional logits.
    """
    batch = prefix.shape[0]
    both = torch.cat([prefix, null_prefix])
    valid = None if prefix_valid is None else torch.cat([prefix_valid, prefix_valid])
    tokens = torch.zeros(batch, 0, dtype=torch.long)
    guided = True
    for step in range(grid * grid):
        if cfg_interval > -1 and step - 1 > cfg_interval:
            guided = False
        logits = gpt_logits(state, both, torch.cat([tokens, tokens]), grid, prefix_valid=valid, last_only=True)[:, -1]
        cond, uncond = logits[:batch], logits[batch:]
        logits = uncond + (cond - uncond) * cfg_scale if guided else cond
        tokens = torch.cat([tokens, logits.argmax(-1, keepdim=True)], 1)
    return tokens


def vq_state(seed: int = 0, ch: int = 32, ch_mult: tuple[int, ...] = (1, 1, 2), res_blocks: int = 2,
             z_channels: int = 32, codebook_size: int = 64, codebook_dim: int = 8) -> dict:
    """A random LlamaGen VQ state dict (attention at the deepest level and in the middle)."""
    g = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}

    def conv(name: str, cin: int, cout: int, k: int = 3) -> None:
        state[name + ".weight"] = _random(g, cout, cin, k, k, std=(cin * k * k) ** -0.5)
        state[name + ".bias"] = _random(g, cout, std=0.02)

    def norm(name: str, c: int) -> None:
        state[name + ".weight"], state[name + ".bias"] = 1 + _random(g, c, std=0.1), _random(g, c, std=0.1)

    def res(name: str, cin: int, cout: int) -> None:
        norm(name + ".norm1", cin), conv(name + ".conv1", cin, cout), norm(name + ".norm2", cout)
        conv(name + ".conv2", cout, cout)
        if cin != cout:
            conv(name + ".nin_shortcut", cin, cout, 1)

    def attn(name: str, c: int) -> None:
        norm(name + ".norm", c)
        for part in ("q", "k", "v", "proj_out"):
            conv(f"{name}.{part}", c, c, 1)

    def mid(side: str, c: int) -> None:
        res(f"{side}.mid.0", c, c), attn(f"{side}.mid.1", c), res(f"{side}.mid.2", c, c)

    levels = len(ch_mult)
    conv("encoder.conv_in", 3, ch)
    block_in = ch
    for i, mult in enumerate(ch_mult):
        for j in range(res_blocks):
            res(f"encoder.conv_blocks.{i}.res.{j}", block_in, ch * mult)
            block_in = ch * mult
            if i == levels - 1:
                attn(f"encoder.conv_blocks.{i}.attn.{j}", block_in)
        if i != levels - 1:
            conv(f"encoder.conv_blocks.{i}.downsample.conv", block_in, block_in)
    mid("encoder", block_in)
    norm("encoder.norm_out", block_in), conv("encoder.conv_out", block_in, z_channels)
    conv("decoder.conv_in", z_channels, block_in)
    mid("decoder", block_in)
    for position, level in enumerate(reversed(range(levels))):
        for j in range(res_blocks + 1):
            res(f"decoder.conv_blocks.{position}.res.{j}", block_in, ch * ch_mult[level])
            block_in = ch * ch_mult[level]
            if level == levels - 1:
                attn(f"decoder.conv_blocks.{position}.attn.{j}", block_in)
        if level != 0:
            conv(f"decoder.conv_blocks.{position}.upsample.conv", block_in, block_in)
    norm("decoder.norm_out", block_in), conv("decoder.conv_out", block_in, 3)
    conv("quant_conv", z_channels, codebook_dim, 1), conv("post_quant_conv", codebook_dim, z_channels, 1)
    state["quantize.embedding.weight"] = torch.randn(codebook_size, codebook_dim, generator=g)
    state["quantize.codebook_used"] = torch.zeros(65536)
    return state


def _attn(state: dict, x: torch.Tensor, name: str) -> torch.Tensor:
    h = _norm_act(state, x, name + ".norm", act=False)
    q, k, v = (_conv(state, h, f"{name}.{part}").flatten(2) for part in ("q", "k", "v"))
    weights = (q.transpose(1, 2) @ k / math.sqrt(q.shape[1])).softmax(-1)  # (B, query, key)
    out = (v @ weights.transpose(1, 2)).view_as(x)
    return x + _conv(state, out, name + ".proj_out")


def _stage(state: dict, h: torch.Tensor, prefix: str, blocks: int) -> torch.Tensor:
    for j in range(blocks):
        h = _res(state, h, f"{prefix}.res.{j}")
        if f"{prefix}.attn.{j}.q.weight" in state:
            h = _attn(state, h, f"{prefix}.attn.{j}")
    return h


def _mid(state: dict, h: torch.Tensor, side: str) -> torch.Tensor:
    return _res(state, _attn(state, _res(state, h, f"{side}.mid.0"), f"{side}.mid.1"), f"{side}.mid.2")


def _levels(state: dict) -> int:
    return len({key.split(".")[2] for key in state if key.startswith("encoder.conv_blocks.")})


def _res_blocks(state: dict) -> int:
    return len({key.split(".")[4] for key in state if key.startswith("encoder.conv_blocks.0.res.")})


def vq_encode(state: dict, images: torch.Tensor) -> torch.Tensor:
    """Codes (B, h, w): encoder, quant_conv, nearest l2-normalised codebook entry."""
    levels, blocks = _levels(state), _res_blocks(state)
    h = _conv(state, images, "encoder.conv_in")
    for i in range(levels):
        h = _stage(state, h, f"encoder.conv_blocks.{i}", blocks)
        if i != levels - 1:
            h = _conv(state, F.pad(h, (0, 1, 0, 1)), f"encoder.conv_blocks.{i}.downsample.conv", stride=2)
    h = _conv(state, _norm_act(state, _mid(state, h, "encoder"), "encoder.norm_out"), "encoder.conv_out")
    z = F.normalize(_conv(state, h, "quant_conv").permute(0, 2, 3, 1), dim=-1)
    codebook = F.normalize(state["quantize.embedding.weight"], dim=-1)
    distances = z.pow(2).sum(-1, keepdim=True) + codebook.pow(2).sum(-1) - 2 * z @ codebook.T
    return distances.argmin(-1)


def vq_decode(state: dict, codes: torch.Tensor) -> torch.Tensor:
    """Images (B, 3, H, W), unclamped: codebook rows, post_quant_conv, decoder."""
    levels, blocks = _levels(state), _res_blocks(state)
    z = F.normalize(state["quantize.embedding.weight"], dim=-1)[codes].permute(0, 3, 1, 2)
    h = _conv(state, _conv(state, z, "post_quant_conv"), "decoder.conv_in")
    h = _mid(state, h, "decoder")
    for position in range(levels):
        h = _stage(state, h, f"decoder.conv_blocks.{position}", blocks + 1)
        if position != levels - 1:
            h = _conv(state, F.interpolate(h, scale_factor=2.0, mode="nearest"),
                      f"decoder.conv_blocks.{position}.upsample.conv")
    return _conv(state, _norm_act(state, h, "decoder.norm_out"), "decoder.conv_out")
