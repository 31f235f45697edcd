"""Where a generated clip ends: the audio vocabulary and the rules that keep its codes well formed.

Each codebook's vocabulary is the codec's codes plus two specials: `pad` (slots before a codebook
starts under the delay pattern, and everything after the end) and `eos` (the end frame). A clip
of T frames is laid out as T frames of codes, one end frame of `eos` in every codebook, then
`pad`. Codebook 0 decides where a clip ends by sampling `eos`; the rest follows from the layout:

- a token before its codebook starts (frame < 0) or after the end frame is `pad`;
- a token of the end frame is `eos`;
- any other token is a code; codebook 0 may also take `eos` from frame `min_frames` on, and
  must take it at frame `max_frames` (the duration cap).

`AudioConstraint` is these rules as a token constraint (`omniar.samplers.constraints`): the
decode loop masks the logits to the allowed choices before sampling (so the model's
distribution is renormalised over the allowed ids, never overwritten afterwards), with any
decoding. `AudioStop` ends a clip once every real frame of it has been produced, read from the
accepted tokens (one step at a time, or a Jacobi window's accepted prefix). Both are written in
terms of `DelayPatternOrder.token_frames` / `token_codebooks` and serve the delay and the
flattened layouts alike.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cached_property

import torch

from omniar.orders.delay_pattern import DelayPatternOrder
from omniar.samplers.stopping import NO_END, StopCondition


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

    @cached_property
    def end_ids(self) -> torch.Tensor:
        """(num_tokens, streams) the id that sets a clip's end there: codebook 0's `eos`, else -1."""
        first = self.order.token_codebooks == 0
        return torch.where(first, self.offsets + self.vocab.eos_token_id, -1)

    def last_positions(self, ends: torch.Tensor, end_positions: torch.Tensor) -> torch.Tensor:
        """(rows,) the position by which a clip ending at frame `ends`, whose `eos` was sampled at
        position `end_positions`, has all its frames (`NO_END` while the end is unknown)."""
        later = self.first_frame_after.to(ends.device)
        complete = torch.searchsorted(later, ends.clamp(max=NO_END - 1))
        return torch.where(ends != NO_END, torch.maximum(complete, end_positions), NO_END)


def _rows_of_streams(tokens: torch.Tensor) -> torch.Tensor:
    """One position's (rows,) or (rows, streams) tokens as (rows, streams)."""
    return tokens if tokens.ndim == 2 else tokens[:, None]


class AudioConstraint:
    """`AudioTokenRules` as a `TokenConstraint` over a micro-batch of clips.

    State: the next position and each clip's end frame. `allowed` is shaped like one position's
    logits: (rows, streams, vocab) under the delay pattern, (rows, vocab) for one stream.
    """

    def __init__(self, rules: AudioTokenRules, rows: int, device: torch.device):
        self.rules = rules
        self.position = 0
        self.ends = rules.new_ends(rows, device)

    def __deepcopy__(self, memo: dict) -> AudioConstraint:
        clone = copy.copy(self)  # the rules are shared: they do not change
        clone.ends = self.ends.clone()
        return clone

    def advance(self, tokens: torch.Tensor) -> None:
        self.ends = self.rules.observe(self.position, _rows_of_streams(tokens), self.ends)
        self.position += 1

    def allowed(self) -> torch.Tensor:
        mask = self.rules.allowed(self.position, self.ends)
        return mask if self.rules.order.streams > 1 else mask[:, 0]

    def finished(self) -> torch.Tensor:
        if self.position == 0:
            return torch.zeros_like(self.ends, dtype=torch.bool)
        return self.rules.finished(self.position - 1, self.ends)


class AudioStop(StopCondition):
    """Ends a clip once every codebook's frames before its end frame have been produced."""

    def __init__(self, batch_size: int, rules: AudioTokenRules, device: torch.device):
        super().__init__(batch_size, rules.vocab.eos_token_id, rules.vocab.pad_token_id, device)
        self.rules = rules
        self.ends = rules.new_ends(batch_size, device)
        self.end_positions = torch.full_like(self.ends, NO_END)

    def observe(self, tokens: torch.Tensor, produced: torch.Tensor, positions: torch.Tensor
                ) -> torch.Tensor:
        """Sets each clip's end from codebook 0's `eos` among the produced tokens, then returns
        the position by which all its frames are produced (`AudioTokenRules.last_positions`)."""
        rules = self.rules
        index = positions.clamp(max=rules.order.num_tokens - 1)
        streams = tokens if tokens.ndim == 3 else tokens[..., None]
        hits = (streams == rules.end_ids.to(index.device)[index]) & produced[..., None]
        frames = torch.where(hits, rules.order.token_frames.to(index.device)[index], NO_END)
        frame = frames.flatten(1).amin(1)
        fresh = (frame != NO_END) & (self.ends == NO_END)
        hit_positions = torch.where(hits.any(-1), positions, NO_END).amin(1)
        self.ends = torch.where(fresh, frame, self.ends)
        self.end_positions = torch.where(fresh, hit_positions, self.end_positions)
        return rules.last_positions(self.ends, self.end_positions)
