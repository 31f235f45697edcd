"""The one decoder-only transformer every order and modality runs on.

Llama-style by default: pre-norm RMSNorm, SwiGLU feed-forward (timm's), no biases, axial rotary
positions, optional QK-norm, grouped-query attention and AdaLN conditioning. Published
checkpoints choose other layers through configuration (`omniar.models.layer_variant`: LayerNorm,
GELU MLP, cosine attention, biases, shared AdaLN; no rotation; AdaLN before the head), never a
second model class. It maps input embeddings to hidden states and knows nothing about tokens,
orders or modalities: those live in the adapters (`omniar.models.ar_model`) and the orders
(`omniar.orders`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn

from omniar.models.attention_mask import additive_mask, causal_ranks, rank_visibility_mask
from omniar.models.cosine_attention import L2Norm, ScaledL2Norm
from omniar.models.kv_cache import StaticKVCache
from omniar.models.layer_variant import LayerVariant
from omniar.models.rope import AxialRotaryEmbedding, apply_rotary


class Attention(nn.Module):
    """Multi-head self-attention with GQA, optional QK-norm or cosine attention, a static cache."""

    def __init__(self, hidden_size: int, num_heads: int, num_kv_heads: int, qk_norm: bool, eps: float,
                 variant: LayerVariant = LayerVariant()):
        super().__init__()
        self.num_heads = num_heads
        self.num_kv_heads = num_kv_heads
        self.head_dim = hidden_size // num_heads
        self.q_proj = nn.Linear(hidden_size, num_heads * self.head_dim, bias=variant.bias)
        self.kv_proj = nn.Linear(hidden_size, 2 * num_kv_heads * self.head_dim, bias=False)
        self.v_bias = nn.Parameter(torch.zeros(num_kv_heads, 1, self.head_dim)) if variant.bias else None
        self.o_proj = nn.Linear(num_heads * self.head_dim, hidden_size, bias=variant.bias)
        self.scale = None
        if variant.attention == "cosine":
            self.q_norm, self.k_norm, self.scale = ScaledL2Norm(num_heads), L2Norm(), 1.0
        else:
            self.q_norm = nn.RMSNorm(self.head_dim, eps=eps) if qk_norm else nn.Identity()
            self.k_norm = nn.RMSNorm(self.head_dim, eps=eps) if qk_norm else nn.Identity()

    def forward(
        self,
        x: torch.Tensor,
        rotary: tuple[torch.Tensor, torch.Tensor] | None,
        mask: torch.Tensor,
        cache: StaticKVCache | None,
        layer: int,
        slots: torch.Tensor | None,
    ) -> torch.Tensor:
        batch, length, _ = x.shape
        q = self.q_proj(x).view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)
        k, v = self.kv_proj(x).view(batch, length, 2, self.num_kv_heads, self.head_dim).unbind(2)
        k, v = k.transpose(1, 2), v.transpose(1, 2)
        if self.v_bias is not None:
            v = v + self.v_bias
        q, k = self.q_norm(q), self.k_norm(k)
        if rotary is not None:
            q, k = apply_rotary(q, *rotary), apply_rotary(k, *rotary)
        if cache is not None:
            k, v = cache.write_layer(layer, slots, k, v)
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, scale=self.scale, enable_gqa=self.num_kv_heads != self.num_heads
        )
        return self.o_proj(out.transpose(1, 2).reshape(batch, length, -1))


class Block(nn.Module):
    """Pre-norm attention + MLP, optionally modulated by AdaLN (shift, scale, gate).

    The modulation is a projection of the condition per block, or (`variant.adaln_shared`) the
    shared modulation the transformer computes once, plus this block's learned offset.
    """

    def __init__(self, hidden_size: int, num_heads: int, num_kv_heads: int, intermediate_size: int,
                 qk_norm: bool, adaln_dim: int | None, eps: float, dropout: float,
                 variant: LayerVariant = LayerVariant()):
        super().__init__()
        self.attn_norm = variant.norm_layer(hidden_size, eps, affine=adaln_dim is None)
        self.attn = Attention(hidden_size, num_heads, num_kv_heads, qk_norm, eps, variant)
        self.mlp_norm = variant.norm_layer(hidden_size, eps, affine=adaln_dim is None)
        self.mlp = variant.mlp_layer(hidden_size, intermediate_size)
        self.dropout = nn.Dropout(dropout)
        self.modulated = adaln_dim is not None
        self.adaln = self.adaln_offset = None
        if self.modulated and variant.adaln_shared:
            self.adaln_offset = nn.Parameter(torch.zeros(6 * hidden_size))
        elif self.modulated:
            self.adaln = nn.Sequential(nn.SiLU(), nn.Linear(adaln_dim, 6 * hidden_size))

    def reset_adaln(self) -> None:
        """Zero the modulation so every block starts as the identity (as in DiT and VAR)."""
        if self.adaln is not None:
            nn.init.zeros_(self.adaln[1].weight)
            nn.init.zeros_(self.adaln[1].bias)

    def forward(self, x, rotary, mask, cache, layer, slots, adaln_cond):
        if not self.modulated:
            x = x + self.dropout(self.attn(self.attn_norm(x), rotary, mask, cache, layer, slots))
            return x + self.dropout(self.mlp(self.mlp_norm(x)))
        modulation = adaln_cond + self.adaln_offset if self.adaln is None else self.adaln(adaln_cond)
        shift1, scale1, gate1, shift2, scale2, gate2 = modulation[:, None].chunk(6, dim=-1)
        h = self.attn_norm(x) * (1 + scale1) + shift1
        x = x + gate1 * self.dropout(self.attn(h, rotary, mask, cache, layer, slots))
        h = self.mlp_norm(x) * (1 + scale2) + shift2
        return x + gate2 * self.dropout(self.mlp(h))


@dataclass
class BlockContext:
    """What every block of one forward pass shares: rotations, mask, cache slots, AdaLN condition.

    Returned by `Transformer.forward(..., return_context=True)` so that side branches (the
    neighbor order's vertical head) run extra blocks over the same attention layout and cache.
    With shared AdaLN, `adaln_cond` holds the shared modulation the blocks add their offsets to.
    """

    rotary: tuple[torch.Tensor, torch.Tensor] | None
    mask: torch.Tensor
    cache: StaticKVCache | None
    slots: torch.Tensor | None
    adaln_cond: torch.Tensor | None

    def run(self, blocks: nn.ModuleList, hidden: torch.Tensor, first_layer: int = 0
            ) -> torch.Tensor:
        """Apply `blocks` in turn; block i uses cache layer `first_layer + i`."""
        shared = (self.rotary, self.mask, self.cache)
        for offset, block in enumerate(blocks):
            hidden = block(hidden, *shared, first_layer + offset, self.slots, self.adaln_cond)
        return hidden


class Transformer(ModelMixin, ConfigMixin):
    """Decoder-only transformer over input embeddings.

    Args of `forward`: `inputs_embeds` (B, T, hidden), `position_ids` (B, T, rope_axes) float
    coordinates (all zero = identity rotation, used for condition tokens), and either an explicit
    boolean `attention_mask` (B, 1, T, T_keys) or token `ranks` (B, T) plus `valid` (B, T) from
    which the order's mask is derived (see `omniar.models.attention_mask`). With a `cache`, the
    new tokens are appended to it and attend to everything visible there. `zero_rotation` (B, T)
    marks tokens whose rotation is cos = sin = 0, i.e. whose queries and keys are zero (LlamaGen
    gives its condition tokens that instead of the identity).

    Layer choices (`norm_type`, `mlp_type`, `attention_type`, `bias`, `adaln_shared`) are
    described in `omniar.models.layer_variant`. `rope=False` turns rotary positions off (for
    models with learned absolute positions; `position_ids` are then unused). `adaln_head` gives
    the final norm no parameters of its own and modulates it by the AdaLN condition (scale,
    shift), as VAR does before its head.
    """

    @register_to_config
    def __init__(
        self,
        hidden_size: int = 256,
        num_layers: int = 4,
        num_heads: int = 4,
        num_kv_heads: int | None = None,
        intermediate_size: int | None = None,
        rope_axes: int = 1,
        rope_theta: float = 10000.0,
        qk_norm: bool = False,
        adaln_dim: int | None = None,
        norm_eps: float = 1e-6,
        dropout: float = 0.0,
        norm_type: str = "rms",
        mlp_type: str = "swiglu",
        attention_type: str = "dot_product",
        bias: bool = False,
        rope: bool = True,
        adaln_head: bool = False,
        adaln_shared: bool = False,
    ):
        super().__init__()
        if (adaln_head or adaln_shared) and adaln_dim is None:
            raise ValueError("adaln_head and adaln_shared need AdaLN conditioning (adaln_dim)")
        if qk_norm and attention_type == "cosine":
            raise ValueError("qk_norm does not apply to cosine attention, which normalises q and k itself")
        self.variant = LayerVariant(norm_type, mlp_type, attention_type, bias, adaln_shared)
        num_kv_heads = num_kv_heads or num_heads
        if hidden_size % num_heads or num_heads % num_kv_heads:
            raise ValueError(
                f"hidden_size={hidden_size} must be divisible by num_heads={num_heads}, and "
                f"num_heads by num_kv_heads={num_kv_heads}"
            )
        intermediate_size = intermediate_size or 32 * round(8 * hidden_size / 3 / 32)
        self.intermediate_size = intermediate_size
        self.head_dim = hidden_size // num_heads
        self.num_kv_heads = num_kv_heads
        self.rotary = AxialRotaryEmbedding(self.head_dim, rope_axes, rope_theta)
        self.blocks = nn.ModuleList(
            Block(hidden_size, num_heads, num_kv_heads, intermediate_size, qk_norm, adaln_dim,
                  norm_eps, dropout, self.variant)
            for _ in range(num_layers)
        )
        self.norm = self.variant.norm_layer(hidden_size, norm_eps, affine=not adaln_head)
        self.shared_adaln = self.head_adaln = None
        if adaln_shared:
            self.shared_adaln = nn.Sequential(nn.SiLU(), nn.Linear(adaln_dim, 6 * hidden_size))
        if adaln_head:
            self.head_adaln = nn.Sequential(nn.SiLU(), nn.Linear(adaln_dim, 2 * hidden_size))
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=0.02)
                if bias and module.bias is not None:
                    nn.init.zeros_(module.bias)
        for block in self.blocks:
            block.reset_adaln()
        for module in (self.shared_adaln, self.head_adaln):
            if module is not None:
                nn.init.zeros_(module[1].weight)
                nn.init.zeros_(module[1].bias)

    def make_block(self) -> Block:
        """A freshly initialised block with this transformer's settings (for side branches)."""
        cfg = self.config
        block = Block(cfg.hidden_size, cfg.num_heads, self.num_kv_heads, self.intermediate_size,
                      cfg.qk_norm, cfg.adaln_dim, cfg.norm_eps, cfg.dropout, self.variant)
        for module in block.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=0.02)
                if self.variant.bias and module.bias is not None:
                    nn.init.zeros_(module.bias)
        block.reset_adaln()
        return block

    def new_cache(self, batch_size: int, max_length: int, device=None, dtype=None,
                  extra_layers: int = 0, fixed_shape: bool = False) -> StaticKVCache:
        """A cache sized for `batch_size` sequences of up to `max_length` tokens.

        `extra_layers` adds cache layers for side-branch blocks run through `BlockContext.run`;
        `fixed_shape` makes attention read every slot (one shape per step size, for compiling).
        """
        param = next(self.parameters())
        return StaticKVCache(
            len(self.blocks) + extra_layers, batch_size, self.num_kv_heads, self.head_dim,
            max_length, device=device or param.device, dtype=dtype or param.dtype,
            fixed_shape=fixed_shape,
        )

    def _check(self, inputs_embeds, position_ids, ranks, valid, adaln_cond):
        if inputs_embeds.ndim != 3 or inputs_embeds.shape[-1] != self.config.hidden_size:
            raise ValueError(
                f"inputs_embeds must have shape (batch, tokens, {self.config.hidden_size}), "
                f"got {tuple(inputs_embeds.shape)}"
            )
        batch, length = inputs_embeds.shape[:2]
        expected = (batch, length, self.config.rope_axes)
        if tuple(position_ids.shape) != expected:
            raise ValueError(f"position_ids must have shape {expected}, got {tuple(position_ids.shape)}")
        for name, tensor in (("ranks", ranks), ("valid", valid)):
            if tensor is not None and tuple(tensor.shape) != (batch, length):
                raise ValueError(f"{name} must have shape {(batch, length)}, got {tuple(tensor.shape)}")
        if (self.config.adaln_dim is None) != (adaln_cond is None):
            raise ValueError(
                "adaln_cond must be given exactly when the model is configured with adaln_dim "
                f"(adaln_dim={self.config.adaln_dim})"
            )

    def _rotation(self, position_ids: torch.Tensor, zero_rotation: torch.Tensor | None
                  ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """cos and sin per token; tokens flagged in `zero_rotation` get zeros (null q and k).
        None when the model has no rotary positions."""
        if not self.config.rope:
            return None
        cos, sin = self.rotary.angles(position_ids)
        if zero_rotation is None:
            return cos, sin
        if tuple(zero_rotation.shape) != tuple(position_ids.shape[:2]):
            raise ValueError(
                f"zero_rotation must have shape {tuple(position_ids.shape[:2])}, got {tuple(zero_rotation.shape)}"
            )
        keep = (~zero_rotation.bool())[:, None, :, None].to(cos.dtype)
        return cos * keep, sin * keep

    def forward(
        self,
        inputs_embeds: torch.Tensor,
        position_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        ranks: torch.Tensor | None = None,
        valid: torch.Tensor | None = None,
        cache: StaticKVCache | None = None,
        adaln_cond: torch.Tensor | None = None,
        return_context: bool = False,
        zero_rotation: torch.Tensor | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, BlockContext]:
        """Hidden states (B, T, hidden) after the final norm (and the `BlockContext` if asked)."""
        self._check(inputs_embeds, position_ids, ranks, valid, adaln_cond)
        batch, length = inputs_embeds.shape[:2]
        device = inputs_embeds.device
        if ranks is None:
            ranks = causal_ranks(batch, length, device)
            if cache is not None:
                ranks = ranks + cache.lengths[:, None]
        if valid is None:
            valid = torch.ones(batch, length, dtype=torch.bool, device=device)
        slots = None
        if cache is not None:
            if cache.batch_size != batch:
                raise ValueError(f"cache was built for batch {cache.batch_size}, got inputs of batch {batch}")
            slots = cache.append(ranks, valid)
            key_ranks, key_valid = cache.key_layout()
        else:
            slots = torch.arange(length, device=device).expand(batch, length)
            key_ranks, key_valid = ranks, valid
        if attention_mask is None:
            attention_mask = rank_visibility_mask(ranks, slots, key_ranks, key_valid)
        elif attention_mask.ndim != 4 or attention_mask.shape[0] != batch or attention_mask.shape[2] != length \
                or attention_mask.shape[3] != key_ranks.shape[1]:
            raise ValueError(
                f"attention_mask must have shape (batch={batch}, 1 or heads, {length}, "
                f"{key_ranks.shape[1]}), got {tuple(attention_mask.shape)}"
            )
        if attention_mask.dtype == torch.bool:
            attention_mask = additive_mask(attention_mask, inputs_embeds.dtype)
        modulation = adaln_cond if self.shared_adaln is None else self.shared_adaln(adaln_cond)
        context = BlockContext(self._rotation(position_ids, zero_rotation), attention_mask, cache,
                               slots if cache is not None else None, modulation)
        hidden = self.norm(context.run(self.blocks, inputs_embeds))
        if self.head_adaln is not None:
            scale, shift = self.head_adaln(adaln_cond)[:, None].chunk(2, dim=-1)
            hidden = hidden * (1 + scale) + shift
        return (hidden, context) if return_context else hidden
