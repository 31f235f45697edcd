"""What every omniar pipeline shares: sampling arguments and presets, micro-batched decoding
with a progress bar and step callbacks, and the stats it reports."""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from diffusers import DiffusionPipeline
from diffusers.utils import BaseOutput

from omniar.errors import OmniarError, bad_value, check_known_keys, did_you_mean
from omniar.modalities import component_modules
from omniar.orders.base import Order
from omniar.pipelines.dtypes import component_dtypes
from omniar.pipelines.input_checks import check_count, check_decoding, check_generator
from omniar.samplers.condition import Condition
from omniar.samplers.constraints import ConstraintProcessor
from omniar.samplers.decode import DecodeStats, StopCondition
from omniar.samplers.guidance import GuidanceSchedule
from omniar.samplers.processors import SamplingConfig
from omniar.samplers.registry import DECODERS, get_decoder

SAMPLING_KEYS = ("temperature", "top_k", "top_p", "min_p", "guidance_scale", "guidance_schedule")
GUIDANCE_EXTRAS = ("guidance_interval", "guidance_power")  # preset-only settings of a schedule
DEFAULT_SAMPLING = {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "min_p": 0.0, "guidance_scale": 1.0,
                    "guidance_schedule": "constant"}


@dataclass
class GenerationOutput(BaseOutput):
    """Base of pipeline outputs: `stats` holds forward passes, tokens, seconds, settings used."""

    stats: dict[str, Any] = field(default_factory=dict)


def merge_stats(parts: list[DecodeStats]) -> DecodeStats:
    """Stats of several micro-batches decoded one after another (passes per micro-batch summed)."""
    total = DecodeStats()
    for part in parts:
        total.forward_passes += part.forward_passes
        total.tokens_generated += part.tokens_generated
        total.seconds += part.seconds
        total.samples += part.samples
        total.sample_passes += part.sample_passes
    for key in {key for part in parts for key in part.extra}:
        pairs = [(part.extra[key], part.sample_passes) for part in parts if key in part.extra]
        total.extra[key] = sum(value * weight for value, weight in pairs) / max(sum(w for _, w in pairs), 1)
    return total


COMPONENT_MODULES = component_modules()


def import_component_modules(folder: str | os.PathLike) -> None:
    """Import the omniar modules a saved pipeline's components live in.

    diffusers only loads components from modules that are already imported (it will not import
    a module just because model_index.json names it), so a pipeline imports its own first.
    """
    index = Path(folder) / "model_index.json"
    if index.is_file():
        entries = json.loads(index.read_text()).values()
        names = {entry[0] for entry in entries if isinstance(entry, list) and entry and isinstance(entry[0], str)}
        modules = sorted(name for name in names if name.startswith("omniar."))
    else:
        modules = list(COMPONENT_MODULES)
    for module in modules:
        importlib.import_module(module)


class AutoregressivePipeline(DiffusionPipeline):
    """Shared machinery; subclasses register their components and implement `__call__`.

    `sampling_presets` (in the pipeline config, i.e. model_index.json) maps preset names to the
    sampling settings a shipped model's quality figures were measured with; "default" is used
    unless the caller names another. Explicit arguments override the preset.
    """

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any):
        """Load a saved pipeline (components in eval mode); see `omniar.load` for embedded names.

        `torch_dtype` (or diffusers' `dtype`), e.g. `torch.bfloat16`, runs the transformer in that
        precision and keeps the tokenizers and encoders in float32; a dict sets each component's
        (see `omniar.pipelines.dtypes`). `compile=True` sets `compile_decoding` (below).
        """
        compile_decoding = kwargs.pop("compile", False)
        if not isinstance(compile_decoding, bool):
            raise bad_value("compile", compile_decoding, "True or False")
        given = {name: kwargs.pop(name) for name in ("torch_dtype", "dtype") if kwargs.get(name) is not None}
        if len(given) > 1:
            raise OmniarError("pass torch_dtype or dtype, not both")
        for name, value in given.items():
            kwargs["dtype"] = component_dtypes(value, name)
        import_component_modules(pretrained_model_name_or_path)
        pipeline = super().from_pretrained(pretrained_model_name_or_path, **kwargs)
        for component in pipeline.components.values():
            if isinstance(component, torch.nn.Module):
                component.eval()
        pipeline.compile_decoding = compile_decoding
        return pipeline

    compile_decoding: bool = False
    """Run the decode steps through `torch.compile` (fullgraph, one graph per step size; CUDA
    graphs on CUDA): the first call compiles, later ones reuse the graphs. Token constraints
    (grammar masks) run on the host between the compiled steps. Eager is the default: see benchmarks/results/decode_speed_cpu.md
    for where compiling pays off."""

    def resolve_sampling(self, preset: str | None = None, **explicit: Any) -> tuple[SamplingConfig, GuidanceSchedule, dict]:
        """The sampling settings of a call: `preset`'s (else "default"'s), overridden by the
        arguments given (not None). An OmniarError names any unknown preset or bad value."""
        presets = dict(getattr(self.config, "sampling_presets", None) or {})
        name = preset or "default"
        if preset is not None and preset not in presets:
            raise OmniarError(f"preset={preset!r} is not valid{did_you_mean(preset, presets)}; "
                              f"this model has {sorted(presets) or 'no presets'}")
        settings = {**DEFAULT_SAMPLING, **presets.get(name, {})}
        settings.update({key: value for key, value in explicit.items() if value is not None})
        check_known_keys("sampling settings", settings, (*SAMPLING_KEYS, *GUIDANCE_EXTRAS))
        sampling = SamplingConfig(settings["temperature"], settings["top_k"], settings["top_p"], settings["min_p"])
        guidance = GuidanceSchedule(
            settings["guidance_scale"], settings["guidance_schedule"],
            settings.get("guidance_interval", (0.0, 1.0)), settings.get("guidance_power", 2.75),
        )
        return sampling, guidance, settings

    check_count = staticmethod(check_count)

    def check_sampling_inputs(
        self,
        num_samples: int,
        generator: Any = None,
        decoding: str = "sequential",
        decoding_options: dict[str, Any] | None = None,
        batch_size: int = 16,
        preset: str | None = None,
        decodings: Sequence[str] = tuple(DECODERS),
        **sampling: Any,
    ) -> None:
        """Check what every pipeline call shares, before any work: the sampling settings (with
        the preset), `decoding` (one of `decodings`) and its options, the micro-batch size and
        `generator` (one, or one per sample of the `num_samples`)."""
        self.resolve_sampling(preset, **sampling)
        check_decoding(decoding, decoding_options, decodings)
        check_count("batch_size", batch_size)
        check_generator(generator, num_samples)

    def generate_tokens(
        self,
        model: torch.nn.Module,
        order: Order,
        condition: Condition,
        sampling: SamplingConfig,
        guidance: GuidanceSchedule,
        generator: torch.Generator | None = None,
        decoding: str = "sequential",
        decoding_options: dict[str, Any] | None = None,
        batch_size: int = 16,
        callback_on_step_end: Callable | None = None,
        stop_tokens: tuple[int, int] | None = None,
        context: Any = None,
        make_stop: Callable[[int, torch.device], StopCondition] | None = None,
        constraint: ConstraintProcessor | None = None,
    ) -> tuple[torch.Tensor, DecodeStats]:
        """Decode `condition.batch_size` samples in micro-batches of `batch_size`.

        `generator` is one generator for all samples, or a list of one per sample: then each
        sample is decoded on its own with its generator, so it does not depend on the others.
        `stop_tokens` = (eos, pad) for variable-length sequences; `make_stop(batch, device)`
        builds another `StopCondition` per micro-batch instead. `callback_on_step_end(pipe,
        step, num_steps, {"tokens": tokens})` is called after every decoding step. `constraint`
        masks sampling to a token rule with any decoding (`omniar.samplers.constraints`).
        """
        decode = get_decoder(decoding)
        check_count("batch_size", batch_size)
        check_generator(generator, condition.batch_size)
        per_sample = isinstance(generator, (list, tuple))
        size = 1 if per_sample else batch_size
        chunks = [slice(i, i + size) for i in range(0, condition.batch_size, size)]
        results, parts = [], []
        with self.progress_bar(total=len(chunks) * order.num_steps) as progress:
            def on_step(step: int, num_steps: int, tokens: torch.Tensor) -> None:
                progress.update(1)
                if callback_on_step_end is not None:
                    callback_on_step_end(self, step, num_steps, {"tokens": tokens})

            for chunk in chunks:
                part = condition.select(chunk)
                stop = None
                if make_stop is not None:
                    stop = make_stop(part.batch_size, model.device)
                elif stop_tokens is not None:
                    stop = StopCondition(part.batch_size, stop_tokens[0], stop_tokens[1], model.device)
                tokens, stats = decode(
                    model, order, part, sampling, guidance,
                    generator=generator[chunk.start] if per_sample else generator, context=context,
                    on_step=on_step, stop=stop, compile=self.compile_decoding, constraint=constraint,
                    **(decoding_options or {}),
                )
                results.append(tokens)
                parts.append(stats)
        return torch.cat(results), merge_stats(parts)
