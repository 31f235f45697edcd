"""Where a generated clip ends: the audio vocabulary and the rules that keep its codes well formed.

Each codebook's vocabulary is the codec's codes plus two specials: `pad` (slots before a codebook
starts under the delay pattern, and everything after the end) and `eos` (the end frame). A clip
of T frames is laid out as T frames of codes, one end frame of `eos` in every codebook, then
`pad`. Codebook 0 decides where a clip ends by sampling `eos`; the rest follows from the layout:

- a token before its codebook starts (frame < 0) or after the end frame is `pad`;
- a token of the end frame is `eos`;
- any other token is a code; codebook 0 may also take `eos` from frame `min_frames` on, and
  must take it at frame `max_frames` (the duration cap).

`AudioRulesModel` masks the model's logits to these choices before sampling (so the model's
distribution is renormalised over the allowed ids, never overwritten afterwards) and
`AudioStop` ends decoding once every real frame of every clip has been produced. Both are
written in terms of `DelayPatternOrder.token_frames` / `token_codebooks` and serve the delay
and the flattened layouts alike; they follow one slot per forward pass (sequential decoding).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import torch

from omniar.models.ar_model import AutoregressiveModel
from omniar.orders.delay_pattern import DelayPatternOrder
from omniar.pipelines.logits_mask import WrappedModel
from omniar.samplers.decode import StopCondition

NO_END = 2**62
"""End frame of a clip whose end has not been sampled yet."""


@dataclass(frozen=True)
class AudioVocabulary:
    """Per-codebook ids: codes `0..codebook_size-1`, then `pad`, then `eos`."""

    codebook_size: int

    @property
    def pad_token_id(self) -> int:
        return self.codebook_size

    @property
    def eos_token_id(self) -> int:
        return self.codebook_size + 1

    @property
    def size(self) -> int:
        return self.codebook_size + 2


def clip_codes(codes: torch.Tensor, vocab: AudioVocabulary) -> torch.Tensor:
    """(K, F) per-codebook ids of one generated clip -> (K, T) codes before its end frame.

    The end frame is the first `eos` of codebook 0 (all F frames when there is none).
    """
    ends = (codes[0] == vocab.eos_token_id).nonzero()
    length = int(ends[0]) if len(ends) else codes.shape[1]
    clip = codes[:, :length]
    if clip.numel() and int(clip.max()) >= vocab.codebook_size:
        raise ValueError("generated codes hold special tokens before the end frame")
    return clip


def frame_with_end(
    codes: torch.Tensor, lengths: torch.Tensor, vocab: AudioVocabulary
) -> torch.Tensor:
    """(B, K, F) codes (anything after each clip's `lengths` frames is ignored) -> (B, K, F + 1)
    per-codebook ids: the codes, `eos` at each clip's end frame, `pad` after it."""
    frames = torch.arange(codes.shape[2] + 1, device=codes.device)[None, None]
    lengths = lengths.to(codes.device)[:, None, None]
    padded = torch.nn.functional.pad(codes, (0, 1))
    tail = torch.where(frames == lengths, vocab.eos_token_id, vocab.pad_token_id)
    return torch.where(frames < lengths, padded, tail)


class AudioTokenRules:
    """The allowed ids of every token of `order`, given each clip's end frame (module docstring)."""

    def __init__(
        self, order: DelayPatternOrder, vocab: AudioVocabulary, max_frames: int, min_frames: int = 1
    ):
        if not 1 <= min_frames <= max_frames < order.num_frames:
            raise ValueError(
                f"need 1 <= min_frames ({min_frames}) <= max_frames ({max_frames}) < the order's "
                f"num_frames ({order.num_frames}: the frames plus the end frame)"
            )
        self.order, self.vocab = order, vocab
        self.max_frames, self.min_frames = max_frames, min_frames
        self.model_vocab_size = order.model_vocab_size(vocab.size)
        self.offsets = order.vocab_offsets(vocab.size)

    def new_ends(self, rows: int, device: torch.device) -> torch.Tensor:
        return torch.full((rows,), NO_END, dtype=torch.long, device=device)

    def allowed(self, position: int, ends: torch.Tensor) -> torch.Tensor:
        """(rows, streams, model_vocab) mask of the ids the token(s) at `position` may take."""
        frames = self.order.token_frames[position].to(ends.device)[None]
        first = (self.order.token_codebooks[position] == 0).to(ends.device)[None]
        end = ends[:, None]
        codes = (frames >= 0) & (frames < end) & ~(first & (frames >= self.max_frames))
        eos = (frames == end) | (first & (frames >= self.min_frames) & (frames < end))
        pad = (frames < 0) | (frames > end)
        vocab = self.vocab
        mask = torch.zeros(
            *codes.shape, self.model_vocab_size, dtype=torch.bool, device=ends.device
        )
        for stream, offset in enumerate(self.offsets[position].tolist()):
            mask[:, stream, offset : offset + vocab.codebook_size] = codes[:, stream, None]
            mask[:, stream, offset + vocab.eos_token_id] |= eos[:, stream]
            mask[:, stream, vocab.pad_token_id] |= pad[:, stream]
        return mask

    def observe(self, position: int, tokens: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
        """Ends after the (rows, streams) `tokens` at `position`: codebook 0's `eos` sets them."""
        codebooks = self.order.token_codebooks[position]
        frames = self.order.token_frames[position]
        for stream in (codebooks == 0).nonzero().flatten().tolist():
            eos = int(self.offsets[position, stream]) + self.vocab.eos_token_id
            hit = (tokens[:, stream] == eos) & (ends == NO_END)
            ends = torch.where(hit, int(frames[stream]), ends)
        return ends

    @cached_property
    def first_frame_after(self) -> torch.Tensor:
        """(num_tokens,) the smallest frame any later position holds (`NO_END` after the last)."""
        frames = self.order.token_frames.amin(1)
        later = frames.flip(0).cummin(0).values.flip(0)
        return torch.cat([later[1:], torch.tensor([NO_END])])

    def finished(self, position: int, ends: torch.Tensor) -> torch.Tensor:
        """(rows,) whether every frame before each clip's end has been produced by `position`."""
        return (ends != NO_END) & (int(self.first_frame_after[position]) >= ends)


def _rows_of_streams(tokens: torch.Tensor) -> torch.Tensor:
    """The last slot of (rows, slots[, streams]) tokens as (rows, streams)."""
    last = tokens[:, -1]
    return last if last.ndim == 2 else last[:, None]


class AudioRulesModel(WrappedModel):
    """An `AutoregressiveModel` whose last-slot logits obey `AudioTokenRules`.

    It reads each clip's end from the tokens the decode loop feeds back (a call with the
    condition prefix starts a new batch at position 0) and masks the logits of the slot that
    sequential decoding samples from. Both halves of a guided batch get the same mask.
    """

    def __init__(self, model: AutoregressiveModel, rules: AudioTokenRules):
        super().__init__(model)
        self.rules = rules
        self.ends: torch.Tensor | None = None

    def __call__(self, tokens: torch.Tensor | None = None, **kwargs: Any):
        output = self.model(tokens=tokens, **kwargs)
        rows = output.logits.shape[0]
        if kwargs.get("with_prefix"):
            self.ends, position = self.rules.new_ends(rows, output.logits.device), 0
        elif self.ends is None or tokens is None:
            raise RuntimeError(
                "AudioRulesModel: the first call must feed the prefix, later ones tokens"
            )
        else:
            position = int(kwargs["ranks"][0, -1])
            self.ends = self.rules.observe(position - 1, _rows_of_streams(tokens), self.ends)
        allowed = self.rules.allowed(position, self.ends)
        last = output.logits[:, -1]
        shaped = last if last.ndim == 3 else last[:, None]
        # Finite (half the dtype's lowest), so a guided batch's two halves cancel to it, not NaN.
        masked = shaped.masked_fill(~allowed, torch.finfo(shaped.dtype).min / 2)
        output.logits[:, -1] = masked if last.ndim == 3 else masked[:, 0]
        return output


class AudioStop(StopCondition):
    """Ends decoding when every clip of the batch has produced all frames before its end."""

    def __init__(self, batch_size: int, rules: AudioTokenRules, device: torch.device):
        super().__init__(batch_size, rules.vocab.eos_token_id, rules.vocab.pad_token_id, device)
        self.rules = rules
        self.ends = rules.new_ends(batch_size, device)
        self.position = 0

    def update(self, new_tokens: torch.Tensor) -> torch.Tensor:
        self.ends = self.rules.observe(self.position, _rows_of_streams(new_tokens), self.ends)
        self.done |= self.rules.finished(self.position, self.ends)
        self.position += 1
        return new_tokens
