"""Checks of the arguments every pipeline shares, run before any work.

Each pipeline's `check_inputs` calls these at the top of `__call__` (and the CLI calls
`check_inputs` before it writes anything), so bad input fails at once with one
`OmniarError` that names the argument, the bad value and what is accepted, instead of a
TypeError deep in the decode loop or an out-of-memory error after minutes of work. Sampling
numbers (temperature, top-k, top-p, min-p, guidance) are checked where they are defined,
by `SamplingConfig` and `GuidanceSchedule`.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import torch

from omniar.errors import OmniarError, bad_value, check_known_keys, did_you_mean
from omniar.samplers.registry import DECODERS, decoder_options

# The most samples one call produces: enough for any figure in the model cards, small enough
# that the tokens, the guidance batch and the outputs fit in memory. Ask again for more.
MAX_SAMPLES_PER_CALL = 4096


def check_count(argument: str, value: Any, maximum: int | None = None) -> int:
    """`value` as an int >= 1 (and <= `maximum`); an OmniarError otherwise."""
    is_int = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not is_int or value < 1 or (maximum is not None and value > maximum):
        accepted = f"an integer from 1 to {maximum}" if maximum is not None else "an integer >= 1"
        if maximum is not None and is_int and value > maximum:
            accepted += " (the most one call generates; call again for more)"
        raise bad_value(argument, value, accepted)
    return int(value)


def check_choice(argument: str, value: Any, choices: Iterable[str]) -> str:
    """`value` if it is one of `choices`; else an OmniarError with a did-you-mean hint."""
    choices = list(choices)
    if not isinstance(value, str) or value not in choices:
        hint = did_you_mean(value, choices) if isinstance(value, str) else ""
        raise OmniarError(f"{argument}={value!r} is not valid{hint}; expected one of {choices}")
    return value


def check_prompts(prompt: Any, argument: str = "prompt") -> list[str]:
    """A prompt or list of prompts as a non-empty list of non-empty strings."""
    expected = "a non-empty string or a non-empty list of non-empty strings"
    prompts = [prompt] if isinstance(prompt, str) else prompt
    if not isinstance(prompts, (list, tuple)) or not prompts:
        raise bad_value(argument, prompt, expected)
    for item in prompts:
        if not isinstance(item, str) or not item.strip():
            raise bad_value(argument, prompt, expected)
    return list(prompts)


def check_decoding(decoding: Any, options: Any, decodings: Sequence[str] = tuple(DECODERS)) -> None:
    """`decoding` is one of `decodings` and `options` only has keys its decoder takes."""
    check_choice("decoding", decoding, decodings)
    if options is None:
        return
    if not isinstance(options, dict):
        raise bad_value("decoding_options", options, f"None or a dict of {decoding}'s options")
    accepted = decoder_options(decoding)
    if not accepted and options:
        raise OmniarError(f"decoding_options={options!r} is not valid; decoding={decoding!r} "
                          "takes no options")
    check_known_keys(f"decoding_options (decoding={decoding!r})", options, accepted)


def check_generator(generator: Any, num_samples: int) -> None:
    """None, one `torch.Generator`, or a list of one generator per sample."""
    if generator is None or isinstance(generator, torch.Generator):
        return
    expected = (f"None, a torch.Generator, or a list of {num_samples} torch.Generator "
                "(one per sample)")
    if not isinstance(generator, (list, tuple)):
        raise bad_value("generator", generator, expected)
    if len(generator) != num_samples or not all(isinstance(g, torch.Generator) for g in generator):
        kinds = sorted({type(g).__name__ for g in generator})
        raise OmniarError(f"generator: a list of {len(generator)} ({', '.join(kinds) or 'empty'}) "
                          f"is not valid; expected {expected}")
