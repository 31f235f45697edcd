"""`AudioPipeline`: spoken digits (or any class-conditional audio) as codec tokens, MusicGen style.

The transformer predicts the first `num_codebooks` codebooks of an `AudioCodecTokenizer` under a
codebook pattern (`DelayPatternOrder`: delayed by default, or flattened), conditioned on two
label fields, the class (digit) and the speaker, with learned null labels for classifier-free
guidance. Clips end when codebook 0 samples the end token (`omniar.pipelines.audio_tokens`), at
the latest after `duration_s`; the codec decodes each clip's codes to a waveform bounded by its
tanh, so nothing is clipped.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from omniar.data.audio_io import check_peak_db, normalize_peak
from omniar.data.fsdd import parse_speaker
from omniar.errors import OmniarError, bad_value
from omniar.models.ar_model import AutoregressiveModel
from omniar.orders.delay_pattern import PATTERNS, DelayPatternOrder
from omniar.pipelines.audio_tokens import (
    AudioConstraint,
    AudioStop,
    AudioTokenRules,
    AudioVocabulary,
    clip_codes,
)
from omniar.pipelines.base import AutoregressivePipeline, GenerationOutput
from omniar.pipelines.input_checks import check_choice
from omniar.pipelines.labels import label_ids
from omniar.samplers.condition import Condition
from omniar.samplers.constraints import ConstraintProcessor
from omniar.samplers.processors import is_real
from omniar.samplers.registry import SEQUENCE_DECODINGS
from omniar.tokenizers.audio_codec import AudioCodecTokenizer

MAX_AUDIOS_PER_CALL = 4096
OUTPUT_TYPES = ("np", "pt")


@dataclass
class AudioPipelineOutput(GenerationOutput):
    """`audios`: one mono float32 waveform per sample (numpy, or torch with `output_type="pt"`)
    at `sample_rate`; `labels`: (class name, speaker) of each; `codes`: each clip's (K, frames)
    codec codes; `stats`: decoding figures and the settings used."""

    audios: list[Any] = field(default_factory=list)
    sample_rate: int = 0
    labels: list[tuple[str, str]] = field(default_factory=list)
    codes: list[torch.Tensor] = field(default_factory=list)


class AudioPipeline(AutoregressivePipeline):
    """Class- and speaker-conditional audio generation with an `AutoregressiveModel` over codec codes.

    Components: `transformer` (condition="class", class_sizes=[len(class_names), len(speakers)])
    and `codec` (`AudioCodecTokenizer`). Config: `class_names` (for FSDD the digit words),
    `speakers`, `num_codebooks` (the codec codebooks modelled, a prefix of its levels),
    `pattern` ("delay" or "flatten"), `max_duration_s` (the longest clip trained on; the
    default and largest `duration_s`) and `sampling_presets`.

    Example::

        pipe = AudioPipeline.from_pretrained("assets/fsdd-digits")
        out = pipe("seven", speaker="theo", generator=torch.manual_seed(0))
        write_wav("seven.wav", out.audios[0], out.sample_rate)
    """

    model_cpu_offload_seq = "transformer->codec"

    def __init__(
        self,
        transformer: AutoregressiveModel,
        codec: AudioCodecTokenizer,
        class_names: Sequence[str] | None = None,
        speakers: Sequence[str] | None = None,
        num_codebooks: int | None = None,
        pattern: str = "delay",
        max_duration_s: float = 1.0,
        sampling_presets: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        super().__init__()
        config = transformer.config
        if config.condition != "class" or len(config.class_sizes) != 2:
            raise ValueError(
                "transformer must be class-conditional with two label fields "
                "(condition='class', class_sizes=[num_classes, num_speakers])"
            )
        num_classes, num_speakers = (int(size) for size in config.class_sizes)
        names = (
            list(class_names) if class_names is not None else [str(i) for i in range(num_classes)]
        )
        voices = (
            [s.lower() for s in speakers]
            if speakers is not None
            else [str(i) for i in range(num_speakers)]
        )
        if (len(names), len(voices)) != (num_classes, num_speakers):
            raise ValueError(
                f"class_names and speakers: expected {num_classes} and {num_speakers} "
                f"names (the transformer's class_sizes), got {len(names)} and {len(voices)}"
            )
        if pattern not in PATTERNS:
            raise ValueError(f"pattern must be one of {PATTERNS}, got {pattern!r}")
        levels = int(num_codebooks or codec.num_quantizers)
        if not 1 <= levels <= codec.num_quantizers:
            raise ValueError(
                f"num_codebooks must be in [1, {codec.num_quantizers}] (the codec's "
                f"levels), got {num_codebooks!r}"
            )
        if not max_duration_s > 0:
            raise ValueError(f"max_duration_s must be > 0, got {max_duration_s!r}")
        self.register_modules(transformer=transformer, codec=codec)
        self.register_to_config(
            class_names=names,
            speakers=voices,
            num_codebooks=levels,
            pattern=pattern,
            max_duration_s=float(max_duration_s),
            sampling_presets=dict(sampling_presets or {}),
        )
        order = self.order_for(1)
        if (config.num_codebooks, config.vocab_size) != (order.streams, self.vocab_size):
            raise ValueError(
                f"transformer has num_codebooks={config.num_codebooks}, vocab_size="
                f"{config.vocab_size}; the {pattern} pattern over {levels} codebooks of this codec "
                f"needs {order.streams} and {self.vocab_size}"
            )

    @property
    def class_names(self) -> list[str]:
        return list(self.config.class_names)

    @property
    def speakers(self) -> list[str]:
        return list(self.config.speakers)

    @property
    def sample_rate(self) -> int:
        return self.codec.sample_rate

    @property
    def vocabulary(self) -> AudioVocabulary:
        return AudioVocabulary(self.codec.codebook_size)

    @property
    def vocab_size(self) -> int:
        """The transformer's vocabulary size this pipeline's pattern and codec call for."""
        return self.order_for(1).model_vocab_size(self.vocabulary.size)

    def order_for(self, num_frames: int) -> DelayPatternOrder:
        """The pattern over `num_frames` frames of the modelled codebooks."""
        return DelayPatternOrder(
            self.config.num_codebooks, num_frames, self.config.pattern == "flatten"
        )

    def max_frames(self, duration_s: float | None) -> int:
        """Frames a clip may have at most: `duration_s` (default and limit: `max_duration_s`)."""
        limit = float(self.config.max_duration_s)
        duration = limit if duration_s is None else duration_s
        if not is_real(duration) or not 0 < duration <= limit + 1e-9:
            raise bad_value(
                "duration_s", duration_s,
                f"seconds in (0, {limit}] (the longest clip this model was trained on)",
            )
        return max(1, math.ceil(duration * self.codec.frame_rate - 1e-6))

    def class_ids(self, prompt: Any, class_labels: Any) -> list[int]:
        """Class ids for `prompt` (names, e.g. "seven" or "7") or `class_labels` (ids or names)."""
        if (prompt is None) == (class_labels is None):
            raise OmniarError(f"pass either prompt or class_labels (one of {self.class_names})")
        given = prompt if prompt is not None else class_labels
        return label_ids(given, self.class_names, "digit")

    def speaker_ids(
        self, speaker: Any, count: int, generator: torch.Generator | list[torch.Generator] | None
    ) -> torch.Tensor:
        """(count,) speaker ids: one name for all, one per prompt, or random ones for None
        (drawn with `generator`, or with each of a list of `count` generators)."""
        if isinstance(generator, (list, tuple)) and speaker is None:
            return torch.cat([self.speaker_ids(None, 1, one) for one in generator])
        if speaker is None:
            device = generator.device if generator is not None else "cpu"
            return torch.randint(
                len(self.speakers), (count,), generator=generator, device=device
            ).cpu()
        names = [speaker] if isinstance(speaker, str) else list(speaker)
        if len(names) not in (1, count):
            raise OmniarError(
                f"speaker: give one name or one per prompt ({count}), got {len(names)}"
            )
        ids = [self.speakers.index(parse_speaker(name, tuple(self.speakers))) for name in names]
        return torch.tensor(ids * count if len(ids) == 1 else ids)

    def decode_clips(self, tokens: torch.Tensor, order: DelayPatternOrder) -> list[torch.Tensor]:
        """Generated token rows -> each clip's (K, frames) codes, cut at its end frame."""
        vocab = self.vocabulary
        codes = order.codes_from_tokens(tokens.cpu(), vocab.pad_token_id, vocab.size)
        return [clip_codes(row, vocab) for row in codes]

    def check_inputs(
        self,
        prompt: str | Sequence[str] | None = None,
        class_labels: int | str | Sequence[int | str] | None = None,
        speaker: str | Sequence[str] | None = None,
        duration_s: float | None = None,
        num_audios_per_prompt: int = 1,
        decoding: str = "sequential",
        guidance_scale: float | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: torch.Generator | list[torch.Generator] | None = None,
        batch_size: int = 32,
        preset: str | None = None,
        output_type: str = "np",
        peak_db: float | None = None,
        decoding_options: dict[str, Any] | None = None,
        **ignored: Any,
    ) -> None:
        """Check the arguments of `__call__` (same names) without generating anything.

        Called at the top of `__call__` and by `omniar generate audio` before any work; raises
        an OmniarError naming the first bad argument and what it accepts.
        """
        check_choice("output_type", output_type, OUTPUT_TYPES)
        if peak_db is not None:
            check_peak_db(peak_db)
        classes = self.class_ids(prompt, class_labels)
        self.check_count(
            "num_audios_per_prompt", num_audios_per_prompt, MAX_AUDIOS_PER_CALL // len(classes)
        )
        if speaker is not None:
            self.speaker_ids(speaker, len(classes), None)
        self.max_frames(duration_s)
        self.check_sampling_inputs(
            len(classes) * num_audios_per_prompt, generator, decoding, decoding_options, batch_size, preset,
            decodings=SEQUENCE_DECODINGS, guidance_scale=guidance_scale, temperature=temperature,
            top_k=top_k, top_p=top_p,
        )

    @torch.no_grad()
    def __call__(
        self,
        prompt: str | Sequence[str] | None = None,
        class_labels: int | str | Sequence[int | str] | None = None,
        speaker: str | Sequence[str] | None = None,
        duration_s: float | None = None,
        num_audios_per_prompt: int = 1,
        decoding: str = "sequential",
        guidance_scale: float | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: torch.Generator | None = None,
        batch_size: int = 32,
        preset: str | None = None,
        output_type: str = "np",
        peak_db: float | None = None,
        callback_on_step_end: Callable | None = None,
        decoding_options: dict[str, Any] | None = None,
    ) -> AudioPipelineOutput:
        """Generate `num_audios_per_prompt` clips for each prompt.

        Args:
            prompt: a class name or list of them; for digits "seven" or "7".
            class_labels: instead of `prompt`, class ids (or names).
            speaker: a speaker name for all prompts, one per prompt, or None for a random
                speaker per clip (drawn with `generator`).
            duration_s: the longest a clip may get (default `max_duration_s`); clips end
                earlier when the model ends them.
            decoding: "sequential" or "jacobi" (same clips for greedy sampling; the
                end-of-clip rules mask every proposed slot given its prefix).
            decoding_options: options of the decoder (jacobi's `window`, `init`, ...).
            guidance_scale, temperature, top_k, top_p: sampling; None takes the preset's value
                (`top_k=0` and `top_p=1` mean off, `guidance_scale=1` no guidance).
            batch_size: clips decoded together (guidance doubles the rows).
            output_type: "np" (numpy float32 arrays) or "pt" (torch tensors).
            peak_db: scale every clip so it peaks at this level in dBFS (e.g. -1.0); None
                keeps the model's level, which follows the speaker's recordings (the FSDD
                speakers' levels differ about 20x).
        """
        self.check_inputs(
            prompt, class_labels, speaker, duration_s, num_audios_per_prompt, decoding,
            guidance_scale, temperature, top_k, top_p, generator, batch_size, preset, output_type,
            peak_db, decoding_options,
        )
        classes = self.class_ids(prompt, class_labels)
        count = len(classes) * num_audios_per_prompt
        digits = torch.tensor(classes).repeat_interleave(num_audios_per_prompt)
        if speaker is None:
            voices = self.speaker_ids(None, count, generator)
        else:
            voices = self.speaker_ids(speaker, len(classes), None).repeat_interleave(
                num_audios_per_prompt
            )
        sampling, guidance, settings = self.resolve_sampling(
            preset, guidance_scale=guidance_scale, temperature=temperature, top_k=top_k, top_p=top_p
        )
        frames = self.max_frames(duration_s)
        order = self.order_for(frames + 1)
        rules = AudioTokenRules(order, self.vocabulary, frames)
        labels = torch.stack([digits, voices], dim=1).to(self.transformer.device)
        tokens, stats = self.generate_tokens(
            self.transformer,
            order,
            Condition(count, class_labels=labels),
            sampling,
            guidance,
            generator=generator,
            decoding=decoding,
            decoding_options=decoding_options,
            batch_size=batch_size,
            callback_on_step_end=callback_on_step_end,
            make_stop=lambda rows, device: AudioStop(rows, rules, device),
            constraint=ConstraintProcessor(lambda rows, device: AudioConstraint(rules, rows, device)),
        )
        start = time.perf_counter()
        clips = self.decode_clips(tokens, order)
        audios = [self.codec.decode(clip[None])[0].cpu() for clip in clips]
        if peak_db is not None:
            audios = [normalize_peak(audio, peak_db) for audio in audios]
        codec_seconds = time.perf_counter() - start
        seconds = [clip.shape[1] / self.codec.frame_rate for clip in clips]
        summary = {
            **stats.as_dict(),
            "decoding": decoding,
            "sampling": settings,
            "max_frames": frames,
            "mean_duration_s": float(np.mean(seconds)),
            "ended_fraction": float(np.mean([clip.shape[1] < frames for clip in clips])),
            "codec_seconds": round(codec_seconds, 4),
            "real_time_factor": (stats.seconds + codec_seconds) / max(sum(seconds), 1e-9),
        }
        self.maybe_free_model_hooks()
        return AudioPipelineOutput(
            stats=summary,
            sample_rate=self.sample_rate,
            codes=clips,
            audios=[
                audio.numpy().astype(np.float32) if output_type == "np" else audio
                for audio in audios
            ],
            labels=[
                (self.class_names[d], self.speakers[s])
                for d, s in zip(digits.tolist(), voices.tolist())
            ],
        )
