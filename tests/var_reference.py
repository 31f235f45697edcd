"""Independent references for the VAR parity tests, written from VAR's published equations.

Random state dicts use VAR's exact key names (the transformer of `var_d*.pth`, the VQVAE of
`vae_ch160v4096z32.pth`); the functions below read them by name and never touch omniar's
modules. Transformer: start token = class embedding + `pos_start`, inputs `word_embed(features)`,
plus level and absolute position embeddings; blocks with LayerNorm (no affine, eps 1e-6) modulated
by AdaLN chunks (gamma1, gamma2, scale1, scale2, shift1, shift2), cosine attention (q and k
l2-normalised, q times exp(min(scale_mul, log 100)), softmax scale 1, q and v biases), tanh-GELU
MLP; LayerNorm + AdaLN (scale, shift) before the head; block-causal mask between scales.
VQVAE: VQGAN encoder/decoder, 3x3 quant convs, Euclidean nearest code, residual coarse-to-fine
quantisation with bicubic upsampling, phi convolutions and area downsampling.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from vqgan_reference import RandomState, conv, norm_act, random_tensor, resnet

SCALES = (1, 2, 3, 4, 5, 6, 8, 10, 13, 16)
PHI_TABLE = (0, 0, 1, 1, 1, 2, 2, 3, 3, 3)


def var_state(depth: int = 2, width: int = 1024, heads: int = 16, vocab: int = 4096, cvae: int = 32,
              classes: int = 1000, scales: tuple[int, ...] = SCALES, shared: bool = False, seed: int = 0) -> dict:
    """A random VAR transformer state dict (d16 widths by default, `depth` blocks), with VAR's
    non-weight buffers."""
    g = torch.Generator().manual_seed(seed)
    length = sum(side * side for side in scales)
    levels = torch.cat([torch.full((side * side,), i) for i, side in enumerate(scales)])
    state = {
        "pos_start": random_tensor(g, 1, 1, width, std=0.5), "pos_1LC": random_tensor(g, 1, length, width, std=0.5),
        "lvl_1L": levels[None].clone(),
        "attn_bias_for_masking": torch.where(levels[:, None] >= levels[None], 0.0, -torch.inf)[None, None],
        "word_embed.weight": random_tensor(g, width, cvae, std=0.3), "word_embed.bias": random_tensor(g, width),
        "class_emb.weight": random_tensor(g, classes + 1, width, std=1.0),
        "lvl_embed.weight": random_tensor(g, len(scales), width, std=0.5),
        "head_nm.ada_lin.1.weight": random_tensor(g, 2 * width, width, std=0.02),
        "head_nm.ada_lin.1.bias": random_tensor(g, 2 * width, std=0.1),
        "head.weight": random_tensor(g, vocab, width), "head.bias": random_tensor(g, vocab, std=0.1),
    }
    if shared:
        state["shared_ada_lin.1.weight"] = random_tensor(g, 6 * width, width, std=0.02)
        state["shared_ada_lin.1.bias"] = random_tensor(g, 6 * width, std=0.1)
    for i in range(depth):
        p = f"blocks.{i}."
        scale_mul = math.log(4.0) + random_tensor(g, 1, heads, 1, 1, std=0.5)
        scale_mul[0, 0] = math.log(150.0)  # above VAR's clamp
        state.update({
            p + "attn.scale_mul_1H11": scale_mul, p + "attn.q_bias": random_tensor(g, width, std=0.1),
            p + "attn.v_bias": random_tensor(g, width, std=0.1), p + "attn.zero_k_bias": torch.zeros(width),
            p + "attn.mat_qkv.weight": random_tensor(g, 3 * width, width, std=0.03),
            p + "attn.proj.weight": random_tensor(g, width, width, std=0.03),
            p + "attn.proj.bias": random_tensor(g, width),
            p + "ffn.fc1.weight": random_tensor(g, 4 * width, width, std=0.03),
            p + "ffn.fc1.bias": random_tensor(g, 4 * width), p + "ffn.fc2.weight": random_tensor(g, width, 4 * width, std=0.02),
            p + "ffn.fc2.bias": random_tensor(g, width),
        })
        if shared:
            state[p + "ada_gss"] = random_tensor(g, 1, 1, 6, width, std=0.3)
        else:
            state[p + "ada_lin.1.weight"] = random_tensor(g, 6 * width, width, std=0.02)
            state[p + "ada_lin.1.bias"] = random_tensor(g, 6 * width, std=0.3)
    return state


def _layer_norm(x: torch.Tensor) -> torch.Tensor:
    return F.layer_norm(x, x.shape[-1:], eps=1e-6)


def _depth(state: dict) -> int:
    return len({key.split(".")[1] for key in state if key.startswith("blocks.")})


def _modulations(state: dict, block: str, cond: torch.Tensor) -> list[torch.Tensor]:
    """gamma1, gamma2, scale1, scale2, shift1, shift2, each (B, 1, C)."""
    width = cond.shape[-1]
    if "shared_ada_lin.1.weight" in state:
        shared = F.linear(F.silu(cond), state["shared_ada_lin.1.weight"], state["shared_ada_lin.1.bias"])
        chunks = shared.view(-1, 1, 6, width) + state[block + "ada_gss"]
    else:
        chunks = F.linear(F.silu(cond), state[block + "ada_lin.1.weight"], state[block + "ada_lin.1.bias"])
        chunks = chunks.view(-1, 1, 6, width)
    return list(chunks.unbind(2))


def _attention(state: dict, block: str, x: torch.Tensor, mask: torch.Tensor, heads: int) -> torch.Tensor:
    batch, length, width = x.shape
    bias = torch.cat([state[block + "attn.q_bias"], torch.zeros(width), state[block + "attn.v_bias"]])
    qkv = F.linear(x, state[block + "attn.mat_qkv.weight"], bias).view(batch, length, 3, heads, width // heads)
    q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
    scale = state[block + "attn.scale_mul_1H11"].clamp(max=math.log(100.0)).exp()
    q, k = F.normalize(q, dim=-1) * scale, F.normalize(k, dim=-1)
    scores = (q @ k.transpose(-2, -1)).masked_fill(~mask, float("-inf"))
    out = (scores.softmax(-1) @ v).transpose(1, 2).reshape(batch, length, width)
    return F.linear(out, state[block + "attn.proj.weight"], state[block + "attn.proj.bias"])


def var_logits(state: dict, labels: torch.Tensor, inputs: torch.Tensor | None, scales: tuple[int, ...] = SCALES
               ) -> torch.Tensor:
    """Teacher-forced logits (B, L, V) over the first L positions: the start token, then `inputs`
    (B, L - 1, Cvae), the features of scales 1.. (None: the start token alone)."""
    cond = state["class_emb.weight"][labels]
    x = (cond + state["pos_start"][0])[:, None]
    if inputs is not None:
        x = torch.cat([x, F.linear(inputs, state["word_embed.weight"], state["word_embed.bias"])], 1)
    length = x.shape[1]
    levels = torch.cat([torch.full((side * side,), i) for i, side in enumerate(scales)])[:length]
    x = x + state["lvl_embed.weight"][levels] + state["pos_1LC"][0, :length]
    mask = levels[:, None] >= levels[None]
    heads = state["blocks.0.attn.scale_mul_1H11"].shape[1]
    for i in range(_depth(state)):
        block = f"blocks.{i}."
        gamma1, gamma2, scale1, scale2, shift1, shift2 = _modulations(state, block, cond)
        x = x + _attention(state, block, _layer_norm(x) * (1 + scale1) + shift1, mask, heads) * gamma1
        h = _layer_norm(x) * (1 + scale2) + shift2
        h = F.linear(F.gelu(F.linear(h, state[block + "ffn.fc1.weight"], state[block + "ffn.fc1.bias"]),
                            approximate="tanh"), state[block + "ffn.fc2.weight"], state[block + "ffn.fc2.bias"])
        x = x + h * gamma2
    scale, shift = F.linear(F.silu(cond), state["head_nm.ada_lin.1.weight"],
                            state["head_nm.ada_lin.1.bias"]).view(-1, 1, 2, x.shape[-1]).unbind(2)
    return F.linear(_layer_norm(x) * (1 + scale) + shift, state["head.weight"], state["head.bias"])


def vae_state(seed: int = 0, ch: int = 32, ch_mult: tuple[int, ...] = (1, 1, 2, 2, 4), res_blocks: int = 2,
              cvae: int = 32, vocab: int = 4096, num_phi: int = 4) -> dict:
    """A random VAR VQVAE state dict (VAR's layout at a reduced width `ch`), with the codebook usage
    buffer VAR saves."""
    builder = RandomState(seed)

    def attn(name: str, c: int) -> None:
        builder.norm(name + ".norm", c)
        builder.conv(name + ".qkv", c, 3 * c, 1)
        builder.conv(name + ".proj_out", c, c, 1)

    def mid(side: str, c: int) -> None:
        builder.resnet(f"{side}.mid.block_1", c, c), attn(f"{side}.mid.attn_1", c)
        builder.resnet(f"{side}.mid.block_2", c, c)

    levels = len(ch_mult)
    builder.conv("encoder.conv_in", 3, ch)
    block_in = ch
    for i, mult in enumerate(ch_mult):
        for j in range(res_blocks):
            builder.resnet(f"encoder.down.{i}.block.{j}", block_in, ch * mult)
            block_in = ch * mult
            if i == levels - 1:
                attn(f"encoder.down.{i}.attn.{j}", block_in)
        if i != levels - 1:
            builder.conv(f"encoder.down.{i}.downsample.conv", block_in, block_in)
    mid("encoder", block_in)
    builder.norm("encoder.norm_out", block_in), builder.conv("encoder.conv_out", block_in, cvae)
    builder.conv("decoder.conv_in", cvae, block_in)
    mid("decoder", block_in)
    for level in reversed(range(levels)):
        for j in range(res_blocks + 1):
            builder.resnet(f"decoder.up.{level}.block.{j}", block_in, ch * ch_mult[level])
            block_in = ch * ch_mult[level]
            if level == levels - 1:
                attn(f"decoder.up.{level}.attn.{j}", block_in)
        if level != 0:
            builder.conv(f"decoder.up.{level}.upsample.conv", block_in, block_in)
    builder.norm("decoder.norm_out", block_in), builder.conv("decoder.conv_out", block_in, 3)
    builder.conv("quant_conv", cvae, cvae), builder.conv("post_quant_conv", cvae, cvae)
    for i in range(num_phi):
        builder.conv(f"quantize.quant_resi.qresi_ls.{i}", cvae, cvae)
    state = builder.state
    state["quantize.embedding.weight"] = random_tensor(builder.generator, vocab, cvae, std=0.5)
    state["quantize.ema_vocab_hit_SV"] = torch.zeros(10, vocab)
    return state


def _attn_block(state: dict, x: torch.Tensor, name: str) -> torch.Tensor:
    q, k, v = conv(state, norm_act(state, x, name + ".norm", act=False), name + ".qkv").flatten(2).chunk(3, 1)
    weights = (q.transpose(1, 2) @ k / math.sqrt(q.shape[1])).softmax(-1)  # (B, query, key)
    return x + conv(state, (v @ weights.transpose(1, 2)).view_as(x), name + ".proj_out")


def _stage(state: dict, h: torch.Tensor, prefix: str) -> torch.Tensor:
    j = 0
    while f"{prefix}.block.{j}.conv1.weight" in state:
        h = resnet(state, h, f"{prefix}.block.{j}")
        if f"{prefix}.attn.{j}.qkv.weight" in state:
            h = _attn_block(state, h, f"{prefix}.attn.{j}")
        j += 1
    return h


def _mid(state: dict, h: torch.Tensor, side: str) -> torch.Tensor:
    h = _attn_block(state, resnet(state, h, f"{side}.mid.block_1"), f"{side}.mid.attn_1")
    return resnet(state, h, f"{side}.mid.block_2")


def _levels(state: dict) -> int:
    return len({key.split(".")[2] for key in state if key.startswith("encoder.down.")})


def vae_latent(state: dict, images: torch.Tensor) -> torch.Tensor:
    """The latent f (B, Cvae, S, S): the encoder, then quant_conv."""
    h = conv(state, images, "encoder.conv_in")
    levels = _levels(state)
    for i in range(levels):
        h = _stage(state, h, f"encoder.down.{i}")
        if i != levels - 1:
            h = conv(state, F.pad(h, (0, 1, 0, 1)), f"encoder.down.{i}.downsample.conv", stride=2)
    h = conv(state, norm_act(state, _mid(state, h, "encoder"), "encoder.norm_out"), "encoder.conv_out")
    return conv(state, h, "quant_conv")


def _phi(state: dict, h: torch.Tensor, index: int) -> torch.Tensor:
    return h * 0.5 + conv(state, h, f"quantize.quant_resi.qresi_ls.{PHI_TABLE[index]}") * 0.5


def _refinement(state: dict, codes: torch.Tensor, index: int, side: int) -> torch.Tensor:
    """phi(upsample(embedding(codes))): the term scale `index`'s (B, s, s) codes add to f_hat."""
    h = state["quantize.embedding.weight"][codes].permute(0, 3, 1, 2)
    if h.shape[-1] != side:
        h = F.interpolate(h, size=(side, side), mode="bicubic")
    return _phi(state, h, index)


def vae_quantize(state: dict, latent: torch.Tensor, scales: tuple[int, ...] = SCALES
                 ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Codes (B, s, s) and f_hat (B, C, S, S) after each scale of the residual quantisation."""
    side = latent.shape[-1]
    embedding = state["quantize.embedding.weight"]
    rest, f_hat = latent.clone(), torch.zeros_like(latent)
    codes, features = [], []
    for index, scale in enumerate(scales):
        z = F.interpolate(rest, size=(scale, scale), mode="area") if scale != side else rest
        z = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])
        distances = z.square().sum(1, keepdim=True) + embedding.square().sum(1) - 2 * z @ embedding.T
        codes.append(distances.argmin(1).view(-1, scale, scale))
        h = _refinement(state, codes[-1], index, side)
        f_hat, rest = f_hat + h, rest - h
        features.append(f_hat)
    return codes, features


def next_scale_inputs(state: dict, codes: list[torch.Tensor], scales: tuple[int, ...] = SCALES) -> torch.Tensor:
    """VAR's teacher-forcing inputs (B, sum of s_k^2 for k >= 1, C): f_hat after scale k,
    area-downsampled to scale k + 1, for each given scale that has a next one."""
    side = scales[-1]
    f_hat = torch.zeros(codes[0].shape[0], state["quantize.embedding.weight"].shape[1], side, side)
    inputs = []
    for index, scale_codes in enumerate(codes[: len(scales) - 1]):
        f_hat = f_hat + _refinement(state, scale_codes, index, side)
        following = scales[index + 1]
        inputs.append(F.interpolate(f_hat, size=(following, following), mode="area").flatten(2).transpose(1, 2))
    return torch.cat(inputs, 1)


def vae_decode(state: dict, f_hat: torch.Tensor) -> torch.Tensor:
    """Images (B, 3, H, W), unclamped: post_quant_conv, then the decoder."""
    h = conv(state, conv(state, f_hat, "post_quant_conv"), "decoder.conv_in")
    h = _mid(state, h, "decoder")
    for level in reversed(range(_levels(state))):
        h = _stage(state, h, f"decoder.up.{level}")
        if level != 0:
            h = conv(state, F.interpolate(h, scale_factor=2.0, mode="nearest"), f"decoder.up.{level}.upsample.conv")
    return conv(state, norm_act(state, h, "decoder.norm_out"), "decoder.conv_out")


def greedy_reference(state: dict, vae: dict, labels: torch.Tensor, cfg: float, scales: tuple[int, ...] = SCALES
                     ) -> list[torch.Tensor]:
    """VAR's sampling loop with top-k 1, recomputing every position at each scale.

    Scale k's logits are `(1 + t) cond - t uncond` with t = cfg * k / (K - 1); the next input is
    f_hat after the scales so far, area-downsampled to the next scale.
    """
    batch = labels.shape[0]
    both = torch.cat([labels, torch.full_like(labels, state["class_emb.weight"].shape[0] - 1)])
    codes: list[torch.Tensor] = []
    for index, side in enumerate(scales):
        inputs = next_scale_inputs(vae, codes, scales) if codes else None
        inputs = None if inputs is None else torch.cat([inputs, inputs])
        logits = var_logits(state, both, inputs, scales)[:, -side * side:]
        t = cfg * index / (len(scales) - 1)
        guided = (1 + t) * logits[:batch] - t * logits[batch:]
        codes.append(guided.argmax(-1).view(batch, side, side))
    return codes
