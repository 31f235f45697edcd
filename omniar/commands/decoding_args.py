"""`--decoding`, `--window`, `--init` and `--dtype`: the decoding options the generate commands share.

`add_decoding_arguments` puts them on a parser; `decoding_options` checks the parsed values
against the chosen decoder and turns them into the pipelines' `decoding_options` dict;
`decoding_summary` is the stats line (forward passes, mean accepted tokens per pass). The
options a decoder takes are read from its function's signature in `omniar.samplers.registry`,
so a new decoder or option needs no change here beyond its help text.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from omniar.errors import OmniarError
from omniar.samplers.jacobi import INITS
from omniar.samplers.registry import DECODERS, SEQUENCE_DECODINGS
from omniar.samplers.registry import decoder_options as all_decoder_options

OPTIONS = ("window", "init")
DTYPE_CHOICES = ("float32", "bfloat16")
__all__ = ["SEQUENCE_DECODINGS", "add_decoding_arguments", "add_dtype_argument", "decoding_options",
           "decoding_summary", "dtype_kwargs"]


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0 (the decoders check their own lower bound beyond that)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def add_decoding_arguments(parser: argparse.ArgumentParser,
                           decodings: Sequence[str] = tuple(DECODERS),
                           with_options: bool = True) -> None:
    """Add `--decoding` (choices `decodings`) and, with `with_options`, `--window` and `--init`.

    `with_options=False` is for pipelines that take `decoding=` but no `decoding_options`:
    their parallel decoders run with the decoder's defaults.
    """
    parser.add_argument("--decoding", choices=list(decodings), default="sequential",
                        help="decoding strategy (default sequential): " + ", ".join(decodings))
    if not with_options:
        return
    parser.add_argument("--window", type=non_negative_int, metavar="N",
                        help="jacobi: draft steps verified per forward pass (default 16; 0 = one "
                        "step per pass); zipar: tokens a row must have before the next row "
                        "starts (>= 1, default half a row)")
    parser.add_argument("--init", choices=INITS,
                        help="jacobi: how new drafts start: random (uniform, default) or left "
                        "(a copy of the left neighbour)")


def add_dtype_argument(parser: argparse.ArgumentParser) -> None:
    """`--dtype float32|bfloat16`: the transformer's precision (tokenizers stay float32)."""
    parser.add_argument("--dtype", choices=DTYPE_CHOICES, default="float32",
                        help="precision of the transformer (default float32); bfloat16 is faster "
                        "on CPUs with AVX512-BF16/AMX and on GPUs; tokenizers stay float32")


def dtype_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """`from_pretrained` keyword arguments for the parsed `--dtype` ({} for the default)."""
    dtype = getattr(args, "dtype", "float32")
    return {} if dtype == "float32" else {"torch_dtype": dtype}


def decoder_options(decoding: str) -> dict[str, Any]:
    """The options `decoding` accepts on the command line (of `OPTIONS`), with their defaults."""
    accepted = all_decoder_options(decoding)
    return {name: accepted[name] for name in OPTIONS if name in accepted}


def decoding_options(args: argparse.Namespace) -> dict[str, Any] | None:
    """The given `--window`/`--init` as `decoding_options` (None when none was given).

    OmniarError when an option does not apply to `--decoding` (e.g. `--init` with zipar, or any
    option with sequential), rather than silently ignoring it.
    """
    given = {name: getattr(args, name, None) for name in OPTIONS}
    given = {name: value for name, value in given.items() if value is not None}
    accepted = decoder_options(args.decoding)
    for name in given:
        if name not in accepted:
            takes = f"takes {', '.join('--' + o for o in accepted)}" if accepted else "takes none"
            raise OmniarError(f"--{name} does not apply to --decoding {args.decoding} "
                             f"(it {takes})")
    return given or None


def decoding_summary(stats: dict[str, Any], decoding: str,
                     options: dict[str, Any] | None = None) -> str:
    """One line: the decoder and its settings, forward passes, mean accepted tokens per pass.

    Accepted tokens per pass are per sample (each sample of a batch advances by its own
    count); sequential raster decoding gains exactly one token per pass.
    """
    settings = {**decoder_options(decoding), **(options or {})}
    if "window" in stats:
        settings["window"] = int(stats["window"])
    described = ", ".join(f"{name} {value}" for name, value in settings.items())
    accepted = stats.get("mean_accepted_tokens_per_pass", stats.get("tokens_per_pass", 0.0))
    samples = int(stats.get("samples", 0))
    return (f"decoding {decoding}" + (f" ({described})" if described else "")
            + f": {stats.get('forward_passes', 0)} forward passes for {samples} sample"
            + ("s" if samples != 1 else "")
            + f", {accepted:.2f} accepted tokens per pass per sample, "
            f"{stats.get('seconds', 0.0):.2f} s")
