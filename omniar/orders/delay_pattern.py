"""The MusicGen codebook patterns: K parallel code streams of an audio codec as one sequence.

A residual codec gives K codebooks per frame, (K, T) codes per clip. Two layouts turn them into
the rows a decoder-only transformer predicts one step at a time:

- **delay** (MusicGen's default): codebook k is shifted right by k steps, so slot s holds
  codebook k's code of frame s - k and a clip is T + K - 1 slots of K tokens. The model sums the
  K input embeddings of a slot (`AutoregressiveModel(num_codebooks=K)`) and predicts the next
  slot with K heads. A coarse code is thus always produced before the finer codes of the same
  frame, at K times fewer steps than flattening. Slots before a codebook starts hold `pad`.
- **flatten**: the K tokens of a frame one after another, T * K steps of one token each. Codebook
  k's ids are offset by k * vocab (one shared vocabulary of K * vocab ids for a one-codebook
  model), so each codebook keeps its own embeddings and the model sees which one comes next.

Both are raster orders over their slots (one slot per step, 1D positions = slot index), so the
shared decode loop, KV cache and teacher forcing run them unchanged. `token_frames` and
`token_codebooks` say which frame and codebook every (slot, stream) holds; the audio pipeline's
end-of-clip rules are written in those terms and work for both layouts.
"""

from __future__ import annotations

from functools import cached_property

import torch

from omniar.orders.raster import RasterOrder

PATTERNS = ("delay", "flatten")


def apply_delay(codes: torch.Tensor, pad_token_id: int) -> torch.Tensor:
    """(B, K, T) codes -> (B, K, T + K - 1), codebook k shifted right by k, `pad_token_id` around."""
    if codes.ndim != 3:
        raise ValueError(
            f"codes must have shape (batch, codebooks, frames), got {tuple(codes.shape)}"
        )
    batch, k, frames = codes.shape
    delayed = codes.new_full((batch, k, frames + k - 1), pad_token_id)
    for level in range(k):
        delayed[:, level, level : level + frames] = codes[:, level]
    return delayed


def undo_delay(delayed: torch.Tensor) -> torch.Tensor:
    """(B, K, S) delayed codes -> (B, K, S - K + 1), the inverse of `apply_delay`."""
    if delayed.ndim != 3 or delayed.shape[2] < delayed.shape[1]:
        raise ValueError(
            "delayed codes must have shape (batch, codebooks, slots) with slots >= codebooks, "
            f"got {tuple(delayed.shape)}"
        )
    k, frames = delayed.shape[1], delayed.shape[2] - delayed.shape[1] + 1
    return torch.stack([delayed[:, level, level : level + frames] for level in range(k)], dim=1)


class DelayPatternOrder(RasterOrder):
    """(num_codebooks, num_frames) codes as delayed slots, or flattened with `flatten=True`.

    Tokens are (B, num_frames + K - 1, K) under the delay pattern and (B, num_frames * K) when
    flattened; `tokens_from_codes` / `codes_from_tokens` convert.
    """

    name = "delay_pattern"

    def __init__(self, num_codebooks: int, num_frames: int, flatten: bool = False):
        if not isinstance(num_codebooks, int) or not isinstance(num_frames, int):
            raise ValueError(
                f"num_codebooks and num_frames must be ints, got {num_codebooks!r}, {num_frames!r}"
            )
        if num_codebooks < 1 or num_frames < 1:
            raise ValueError(
                f"need num_codebooks >= 1 and num_frames >= 1, got {num_codebooks}, {num_frames}"
            )
        self.num_codebooks = num_codebooks
        self.num_frames = num_frames
        self.flatten = bool(flatten)
        slots = num_frames * num_codebooks if flatten else num_frames + num_codebooks - 1
        super().__init__(slots)

    @property
    def pattern(self) -> str:
        return "flatten" if self.flatten else "delay"

    @property
    def streams(self) -> int:
        """Tokens per slot: the model's `num_codebooks` (K under delay, 1 when flattened)."""
        return 1 if self.flatten else self.num_codebooks

    def model_vocab_size(self, vocab_per_codebook: int) -> int:
        """The model's `vocab_size` for codebooks of `vocab_per_codebook` ids (specials included)."""
        return vocab_per_codebook * self.num_codebooks if self.flatten else vocab_per_codebook

    @cached_property
    def token_frames(self) -> torch.Tensor:
        """(num_tokens, streams) frame index each token holds (negative: before its codebook starts)."""
        slots = torch.arange(self.num_tokens)
        if self.flatten:
            return (slots // self.num_codebooks)[:, None]
        return slots[:, None] - torch.arange(self.num_codebooks)[None]

    @cached_property
    def token_codebooks(self) -> torch.Tensor:
        """(num_tokens, streams) codebook index of each token."""
        if self.flatten:
            return (torch.arange(self.num_tokens) % self.num_codebooks)[:, None]
        return torch.arange(self.num_codebooks).expand(self.num_tokens, -1)

    def vocab_offsets(self, vocab_per_codebook: int) -> torch.Tensor:
        """(num_tokens, streams) id offset of each token in the model's vocabulary."""
        if self.flatten:
            return self.token_codebooks * vocab_per_codebook
        return torch.zeros_like(self.token_codebooks)

    def _check_codes(self, codes: torch.Tensor) -> None:
        if codes.ndim != 3 or tuple(codes.shape[1:]) != (self.num_codebooks, self.num_frames):
            raise ValueError(
                f"{self.name}: expected codes of shape (batch, {self.num_codebooks}, "
                f"{self.num_frames}), got {tuple(codes.shape)}"
            )

    def tokens_from_codes(
        self, codes: torch.Tensor, pad_token_id: int, vocab_per_codebook: int
    ) -> torch.Tensor:
        """(B, K, T) per-codebook ids (codes and specials) -> the model's token rows.

        `pad_token_id` keeps one id in every codebook (in both layouts), so a loss can ignore it.
        """
        self._check_codes(codes)
        if not self.flatten:
            return apply_delay(codes, pad_token_id).transpose(1, 2).contiguous()
        offsets = (
            torch.arange(self.num_codebooks, device=codes.device)[:, None] * vocab_per_codebook
        )
        shifted = torch.where(codes == pad_token_id, codes, codes + offsets)
        return shifted.transpose(1, 2).reshape(codes.shape[0], -1)

    def codes_from_tokens(
        self, tokens: torch.Tensor, pad_token_id: int, vocab_per_codebook: int
    ) -> torch.Tensor:
        """The model's token rows -> (B, K, T) per-codebook ids; inverse of `tokens_from_codes`."""
        self.check_tokens(tokens)
        if not self.flatten:
            return undo_delay(tokens.transpose(1, 2))
        codes = tokens.reshape(tokens.shape[0], self.num_frames, self.num_codebooks).transpose(1, 2)
        offsets = (
            torch.arange(self.num_codebooks, device=tokens.device)[:, None] * vocab_per_codebook
        )
        return torch.where(codes == pad_token_id, codes, codes - offsets)
