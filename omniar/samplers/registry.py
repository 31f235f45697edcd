"""Decoding strategies by name: `decoding="sequential"` and the parallel decoders."""

from __future__ import annotations

from collections.abc import Callable

from omniar.samplers.decode import decode_sequential
from omniar.samplers.jacobi import decode_jacobi
from omniar.samplers.zipar import decode_zipar

DECODERS: dict[str, Callable] = {
    "sequential": decode_sequential,
    "jacobi": decode_jacobi,
    "zipar": decode_zipar,
}


def get_decoder(name: str) -> Callable:
    """The decode function called `name`, or a ValueError listing the valid names."""
    if name not in DECODERS:
        raise ValueError(f"unknown decoding {name!r}; expected one of {sorted(DECODERS)}")
    return DECODERS[name]
