"""Decoding strategies by name: `decoding="sequential"` and the parallel decoders.

A decoder is a function `(model, order, condition, sampling, guidance, generator, context,
on_step, stop, compile, constraint, **options)`; its options (jacobi's `window`, `init`, ...)
are the keyword arguments after those, read from its signature by `decoder_options`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from omniar.errors import OmniarError, did_you_mean
from omniar.samplers.decode import decode_sequential
from omniar.samplers.jacobi import decode_jacobi
from omniar.samplers.zipar import decode_zipar

DECODERS: dict[str, Callable] = {
    "sequential": decode_sequential,
    "jacobi": decode_jacobi,
    "zipar": decode_zipar,
}
# Decoders for variable-length 1D sequences (zipar needs a fixed-size 2D raster grid).
SEQUENCE_DECODINGS = ("sequential", "jacobi")
# The arguments every decoder takes; what follows them in a signature is an option.
DECODER_ARGUMENTS = ("model", "order", "condition", "sampling", "guidance", "generator", "context",
                     "on_step", "stop", "compile", "constraint")


def get_decoder(name: str) -> Callable:
    """The decode function called `name`, or an OmniarError listing the valid names."""
    if name not in DECODERS:
        hint = did_you_mean(name, DECODERS) if isinstance(name, str) else ""
        raise OmniarError(f"decoding={name!r} is not valid{hint}; expected one of {sorted(DECODERS)}")
    return DECODERS[name]


def decoder_options(name: str) -> dict[str, Any]:
    """The options decoder `name` takes (`decoding_options` keys), with their defaults."""
    parameters = inspect.signature(get_decoder(name)).parameters
    return {key: parameter.default for key, parameter in parameters.items()
            if key not in DECODER_ARGUMENTS}
