"""`torch_dtype=` of `from_pretrained` / `omniar.load`: which components run in which precision.

diffusers casts every component to one `torch_dtype`. omniar's compute sits in the transformer
(the decode loop runs it once per step); the image/audio tokenizers and caption encoders run once
per sample and lose quality in bf16 (the VQ decoder's convolutions, codebook distances) for no
measurable speed. So a single dtype applies to the `transformer` only and the other components
stay float32; a dict (diffusers' form, `{"transformer": torch.bfloat16, "default": ...}`) is
passed on unchanged for full control. Logits are processed in float32 whatever the model's dtype
(`omniar.samplers.processors`, `omniar.samplers.guidance.guide`).
"""

from __future__ import annotations

from typing import Any

import torch

from omniar.errors import bad_value

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
COMPUTE_COMPONENTS = ("transformer",)


def resolve_dtype(value: Any, name: str = "torch_dtype") -> torch.dtype:
    """A `torch.dtype` from a dtype or its name ("bfloat16", "torch.bfloat16"); OmniarError else."""
    if isinstance(value, torch.dtype) and value in DTYPES.values():
        return value
    if isinstance(value, str) and value.removeprefix("torch.") in DTYPES:
        return DTYPES[value.removeprefix("torch.")]
    raise bad_value(name, value, f"one of {sorted(DTYPES)} (a torch.dtype or its name)")


def component_dtypes(value: Any, name: str = "torch_dtype") -> dict[str, Any]:
    """diffusers' per-component `dtype` dict for a `torch_dtype=` argument (see the module doc)."""
    if isinstance(value, dict):
        return {key: resolve_dtype(dtype, f"{name}[{key!r}]") for key, dtype in value.items()}
    dtype = resolve_dtype(value, name)
    return {**{component: dtype for component in COMPUTE_COMPONENTS}, "default": torch.float32}
