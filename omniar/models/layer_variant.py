"""The per-layer choices of the shared transformer: norm, feed-forward, attention, biases.

omniar's own models are Llama-style (RMSNorm, SwiGLU, dot-product attention, no biases).
Published checkpoints differ in these choices and nothing else structural, so the choices are
configuration of the one `Transformer`, not separate model classes. VAR, for instance, uses
LayerNorm without affine parameters, a GELU (tanh) MLP, cosine attention and biases.
"""

from __future__ import annotations

from dataclasses import dataclass

from timm.layers import GELUTanh, Mlp, SwiGLU
from torch import nn

NORM_TYPES = ("rms", "layer")
MLP_TYPES = ("swiglu", "gelu")
ATTENTION_TYPES = ("dot_product", "cosine")


@dataclass(frozen=True)
class LayerVariant:
    """Which norm, MLP and attention a block uses, and whether its projections have biases.

    `bias`: query, value, output and MLP projections get biases; keys never do (under
    dot-product attention a key bias only adds the same amount to every score of a query, which
    softmax ignores, and VAR has none either). `adaln_shared`: AdaLN blocks add a learned
    per-block offset to one modulation shared by all blocks (VAR's d36-s) instead of having a
    projection each.
    """

    norm: str = "rms"
    mlp: str = "swiglu"
    attention: str = "dot_product"
    bias: bool = False
    adaln_shared: bool = False

    def __post_init__(self) -> None:
        for name, value, allowed in (("norm_type", self.norm, NORM_TYPES), ("mlp_type", self.mlp, MLP_TYPES),
                                     ("attention_type", self.attention, ATTENTION_TYPES)):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")

    def norm_layer(self, size: int, eps: float, affine: bool) -> nn.Module:
        """RMSNorm or LayerNorm over `size` features (without parameters when not `affine`)."""
        if self.norm == "rms":
            return nn.RMSNorm(size, eps=eps, elementwise_affine=affine)
        return nn.LayerNorm(size, eps=eps, elementwise_affine=affine)

    def mlp_layer(self, size: int, intermediate_size: int) -> nn.Module:
        """SwiGLU (timm's, keys fc1_g/fc1_x/fc2) or a tanh-GELU MLP (timm's Mlp, keys fc1/fc2)."""
        if self.mlp == "swiglu":
            return SwiGLU(size, intermediate_size, bias=self.bias)
        return Mlp(size, intermediate_size, act_layer=GELUTanh, bias=self.bias)
