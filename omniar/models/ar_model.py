"""The token-level adapter around the shared transformer.

`AutoregressiveModel` embeds discrete tokens (K codebooks summed, for audio), groups of tokens
(their embeddings averaged: next-patch training) or continuous features (next-scale inputs),
prepends the condition prefix, runs the `Transformer`, and maps hidden states to logits with one
head per codebook. With `vertical_head_layers > 0` it also has the neighbor order's vertical
head: extra transformer blocks over the trunk output (same mask and KV cache) + norm + head.
Orders decide which tokens are fed, with which positions and ranks, and which outputs predict
which targets.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn

from omniar.models.conditioning import (
    ClassConditioner,
    Prefix,
    TextConditioner,
    UnconditionalPrefix,
    pad_text,
)
from omniar.models.kv_cache import StaticKVCache
from omniar.models.transformer import Transformer

CONDITIONS = ("class", "text", "none")
PREFIX_ROTATIONS = ("identity", "zero")


@dataclass
class ARModelOutput:
    """Logits (B, T, V) or (B, T, K, V) for every fed slot (prefix included when fed).

    `vertical_logits` (same shape) come from the vertical head, when the model has one.
    """

    logits: torch.Tensor
    hidden: torch.Tensor
    adaln_cond: torch.Tensor | None
    prefix_length: int
    vertical_logits: torch.Tensor | None = None


class AutoregressiveModel(ModelMixin, ConfigMixin):
    """Token embeddings + condition prefix + `Transformer` + output heads.

    The defaults are omniar's own models. Published checkpoints set the options that differ
    (see `omniar.convert.llamagen`): `norm_eps` (RMSNorm epsilon), `prefix_rotation` ("identity":
    condition tokens at coordinate 0; "zero": cos = sin = 0 there, so their queries and keys are
    zero, as LlamaGen does), `text_projection` ("linear" or LlamaGen's "mlp") and `text_length`
    (captions padded to this many tokens, with a fixed null caption of that length for CFG).
    VAR (`omniar.convert.var`) sets the layer choices of `omniar.models.layer_variant`
    (`norm_type`, `mlp_type`, `attention_type`, `bias`, `adaln_shared`; `bias` also gives the
    heads a bias), `adaln_head`, `rope=False` and `position_embeddings`: a learned table of that
    many absolute positions, row `position_index` added to each fed slot's input (orders that
    feed `position_index`, e.g. next-scale, say which row); every prefix slot gets row 0.
    """

    @register_to_config
    def __init__(
        self,
        vocab_size: int,
        num_codebooks: int = 1,
        hidden_size: int = 256,
        num_layers: int = 4,
        num_heads: int = 4,
        num_kv_heads: int | None = None,
        intermediate_size: int | None = None,
        rope_axes: int = 1,
        rope_theta: float = 10000.0,
        qk_norm: bool = False,
        adaln: bool = False,
        dropout: float = 0.0,
        condition: str = "class",
        class_sizes: tuple[int, ...] | list[int] = (1,),
        text_dim: int | None = None,
        input_dim: int | None = None,
        vertical_head_layers: int = 0,
        norm_eps: float = 1e-6,
        prefix_rotation: str = "identity",
        text_projection: str = "linear",
        text_length: int | None = None,
        norm_type: str = "rms",
        mlp_type: str = "swiglu",
        attention_type: str = "dot_product",
        bias: bool = False,
        rope: bool = True,
        adaln_head: bool = False,
        adaln_shared: bool = False,
        position_embeddings: int = 0,
    ):
        super().__init__()
        if condition not in CONDITIONS:
            raise ValueError(f"condition must be one of {CONDITIONS}, got {condition!r}")
        if prefix_rotation not in PREFIX_ROTATIONS:
            raise ValueError(f"prefix_rotation must be one of {PREFIX_ROTATIONS}, got {prefix_rotation!r}")
        if vocab_size < 2 or num_codebooks < 1:
            raise ValueError(f"need vocab_size >= 2 and num_codebooks >= 1, got {vocab_size}, {num_codebooks}")
        self.token_embed = nn.Embedding(num_codebooks * vocab_size, hidden_size)
        nn.init.normal_(self.token_embed.weight, std=0.02)
        self.feature_proj = nn.Linear(input_dim, hidden_size) if input_dim else None
        if condition == "class":
            self.conditioner = ClassConditioner(list(class_sizes), hidden_size)
        elif condition == "text":
            if not text_dim:
                raise ValueError("condition='text' needs text_dim (the text encoder's hidden size)")
            self.conditioner = TextConditioner(text_dim, hidden_size, text_projection, text_length)
        else:
            self.conditioner = UnconditionalPrefix(hidden_size)
        self.backbone = Transformer(
            hidden_size=hidden_size, num_layers=num_layers, num_heads=num_heads,
            num_kv_heads=num_kv_heads, intermediate_size=intermediate_size, rope_axes=rope_axes,
            rope_theta=rope_theta, qk_norm=qk_norm, adaln_dim=hidden_size if adaln else None,
            norm_eps=norm_eps, dropout=dropout, norm_type=norm_type, mlp_type=mlp_type,
            attention_type=attention_type, bias=bias, rope=rope, adaln_head=adaln_head,
            adaln_shared=adaln_shared,
        )
        self.position_embed = None
        if position_embeddings:
            self.position_embed = nn.Embedding(position_embeddings, hidden_size)
            nn.init.normal_(self.position_embed.weight, std=0.02)
        self.head = nn.Linear(hidden_size, num_codebooks * vocab_size, bias=bias)
        nn.init.normal_(self.head.weight, std=0.02)
        if bias:
            nn.init.zeros_(self.head.bias)
        if vertical_head_layers < 0:
            raise ValueError(f"vertical_head_layers must be >= 0, got {vertical_head_layers}")
        self.vertical_blocks = self.vertical_norm = self.vertical_head = None
        if vertical_head_layers:
            self.vertical_blocks = nn.ModuleList(
                self.backbone.make_block() for _ in range(vertical_head_layers)
            )
            self.vertical_norm = nn.RMSNorm(hidden_size, eps=self.backbone.config.norm_eps)
            self.vertical_head = nn.Linear(hidden_size, num_codebooks * vocab_size, bias=bias)
            nn.init.normal_(self.vertical_head.weight, std=0.02)
        self.register_buffer(
            "codebook_offsets", torch.arange(num_codebooks) * vocab_size, persistent=False
        )

    def embed_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, T) or (B, T, K) token ids to (B, T, D); codebook embeddings are summed."""
        k = self.config.num_codebooks
        if k > 1 and (tokens.ndim != 3 or tokens.shape[-1] != k):
            raise ValueError(f"tokens must have shape (batch, steps, {k}), got {tuple(tokens.shape)}")
        if k == 1 and tokens.ndim != 2:
            raise ValueError(f"tokens must have shape (batch, steps), got {tuple(tokens.shape)}")
        checked = tokens.numel() and not torch.compiler.is_compiling()  # a check reads ids on the host
        if checked and (tokens.min() < 0 or tokens.max() >= self.config.vocab_size):
            raise ValueError(
                f"token ids must be in [0, {self.config.vocab_size}), got range "
                f"[{int(tokens.min())}, {int(tokens.max())}]"
            )
        if k == 1:
            return self.token_embed(tokens)
        return self.token_embed(tokens + self.codebook_offsets).sum(2)

    def logits_from_hidden(self, hidden: torch.Tensor, head: nn.Module | None = None
                           ) -> torch.Tensor:
        """(B, T, D) hidden states to (B, T, V) or (B, T, K, V) logits by `head` (default: main)."""
        logits = (head or self.head)(hidden)
        if self.config.num_codebooks == 1:
            return logits
        return logits.unflatten(-1, (self.config.num_codebooks, self.config.vocab_size))

    def prefix(
        self,
        batch_size: int,
        class_labels: torch.Tensor | None = None,
        text_states: torch.Tensor | None = None,
        text_mask: torch.Tensor | None = None,
        drop_condition: torch.Tensor | None = None,
    ) -> Prefix:
        """The condition prefix; `drop_condition` (B,) bool selects the learned null condition."""
        condition = self.config.condition
        if condition == "class":
            if class_labels is None:
                raise ValueError("this model is class-conditional: pass class_labels")
            return self.conditioner(class_labels.to(self.device), drop_condition)
        if condition == "text":
            if text_states is None:
                raise ValueError("this model is text-conditional: pass text_states (and text_mask)")
            mask = None if text_mask is None else text_mask.to(self.device)
            return self.conditioner(text_states.to(self.device, self.dtype), mask, drop_condition)
        return self.conditioner(batch_size)

    def pad_text(self, text_states: torch.Tensor, text_mask: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """Captions padded to the model's `text_length` (unchanged when it has none)."""
        return pad_text(text_states, text_mask, self.config.text_length)

    def new_cache(self, batch_size: int, max_length: int, fixed_shape: bool = False) -> StaticKVCache:
        """A cache for `max_length` slots, plus `text_length` when the model pads captions itself
        (a caller sizing the cache by the caption it holds may hold a shorter one).
        `fixed_shape`: attention reads every slot (see `StaticKVCache`), for compiled steps."""
        extra = self.config.vertical_head_layers
        padding = self.config.text_length or 0
        return self.backbone.new_cache(batch_size, max_length + padding, extra_layers=extra,
                                       fixed_shape=fixed_shape)

    def _absolute_positions(self, position_index: torch.Tensor | None, batch: int, length: int
                            ) -> torch.Tensor:
        """Rows of the learned position table for (B, T) fed slots."""
        if position_index is None:
            raise ValueError("this model has learned absolute positions: the order must feed "
                             "position_index with the tokens or features")
        if tuple(position_index.shape) != (batch, length):
            raise ValueError(f"position_index must have shape {(batch, length)}, got {tuple(position_index.shape)}")
        return self.position_embed(position_index.to(self.position_embed.weight.device))

    def forward(
        self,
        tokens: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        ranks: torch.Tensor | None = None,
        valid: torch.Tensor | None = None,
        features: torch.Tensor | None = None,
        with_prefix: bool = False,
        class_labels: torch.Tensor | None = None,
        text_states: torch.Tensor | None = None,
        text_mask: torch.Tensor | None = None,
        drop_condition: torch.Tensor | None = None,
        batch_size: int | None = None,
        cache: StaticKVCache | None = None,
        adaln_cond: torch.Tensor | None = None,
        pooled_tokens: torch.Tensor | None = None,
        position_index: torch.Tensor | None = None,
    ) -> ARModelOutput:
        """Feed `tokens` (or continuous `features`) at `position_ids` with `ranks`.

        `pooled_tokens` (B, T, P) or (B, T, P, K) feeds each group of P tokens as one slot, the
        mean of their embeddings (next-patch training).

        With `with_prefix=True` the condition prefix is fed first (rank 0, rotation per
        `prefix_rotation`).
        AdaLN models take the pooled condition from the prefix, or `adaln_cond` on later cached
        steps (returned by the first call). `position_index` (B, T): rows of the learned position
        table for the fed slots (ignored by models without one).
        """
        if tokens is not None:
            embeds = self.embed_tokens(tokens)
        elif pooled_tokens is not None:
            if pooled_tokens.ndim < 3:
                raise ValueError(
                    "pooled_tokens must have shape (batch, slots, group[, codebooks]), "
                    f"got {tuple(pooled_tokens.shape)}"
                )
            groups = pooled_tokens.shape[1:3]
            embeds = self.embed_tokens(pooled_tokens.flatten(1, 2)).unflatten(1, groups).mean(2)
        elif features is not None:
            if self.feature_proj is None:
                raise ValueError("this model was not configured with input_dim, so it takes tokens, not features")
            embeds = self.feature_proj(features.to(self.feature_proj.weight.dtype))
        else:
            batch = batch_size or (class_labels.shape[0] if class_labels is not None else
                                   text_states.shape[0] if text_states is not None else 1)
            embeds = torch.zeros(batch, 0, self.config.hidden_size, device=self.device, dtype=self.dtype)
        batch, length = embeds.shape[:2]
        if self.position_embed is not None and length:
            embeds = embeds + self._absolute_positions(position_index, batch, length)
        axes = self.config.rope_axes
        if position_ids is None:
            if length:
                raise ValueError("position_ids are required when tokens or features are fed")
            position_ids = embeds.new_zeros(batch, 0, axes)
        if ranks is None:
            if length:
                raise ValueError("ranks are required when tokens or features are fed (see omniar.orders)")
            ranks = torch.zeros(batch, 0, dtype=torch.long, device=embeds.device)
        if valid is None:
            valid = torch.ones(batch, length, dtype=torch.bool, device=embeds.device)
        prefix_length = 0
        zero_rotation = None
        if with_prefix:
            prefix = self.prefix(batch, class_labels, text_states, text_mask, drop_condition)
            prefix_length = prefix.embeds.shape[1]
            prefix_embeds = prefix.embeds
            if self.position_embed is not None:
                prefix_embeds = prefix_embeds + self.position_embed.weight[0]
            embeds = torch.cat([prefix_embeds.to(embeds.dtype), embeds], dim=1)
            position_ids = torch.cat([position_ids.new_zeros(batch, prefix_length, axes), position_ids], 1)
            ranks = torch.cat([ranks.new_zeros(batch, prefix_length), ranks], dim=1)
            valid = torch.cat([prefix.valid, valid], dim=1)
            if self.config.prefix_rotation == "zero":
                zero_rotation = torch.arange(prefix_length + length, device=embeds.device) < prefix_length
                zero_rotation = zero_rotation.expand(batch, -1)
            if self.config.adaln:
                adaln_cond = prefix.pooled
        if self.config.adaln and adaln_cond is None:
            raise ValueError("AdaLN models need the condition: feed the prefix or pass adaln_cond")
        hidden, context = self.backbone(
            embeds, position_ids.float(), ranks=ranks, valid=valid, cache=cache,
            adaln_cond=adaln_cond if self.config.adaln else None, return_context=True,
            zero_rotation=zero_rotation,
        )
        vertical_logits = None
        if self.vertical_blocks is not None:
            first = len(self.backbone.blocks)
            vertical = context.run(self.vertical_blocks, hidden, first_layer=first)
            vertical = self.vertical_norm(vertical)
            vertical_logits = self.logits_from_hidden(vertical, self.vertical_head)
        logits = self.logits_from_hidden(hidden)
        return ARModelOutput(logits, hidden, adaln_cond, prefix_length, vertical_logits)
