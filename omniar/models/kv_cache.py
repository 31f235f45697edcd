"""A static, preallocated key/value cache with per-sample lengths and rollback.

Every slot also records the *rank* of the token written there (the generation step it belongs
to under its order) and whether it holds a real token (padding slots do not). Attention
visibility is derived from ranks, so any order (raster, blocks, diagonals, scales) and any
parallel decoder (Jacobi drafts, ZipAR rows) uses the same cache: a query sees exactly the
written, valid slots whose rank is not above its own.

A forward pass never reads a tensor's value on the host (no `.item()`, `int()`, `bool()`), so it
runs without synchronising a GPU and traces into one graph. The host keeps `bound`, a plain int:
the longest sample's length (appends add to it, rollbacks set it), for
the overflow check and for how many slots attention reads: the first `bound` in eager mode, all
`max_length` with `fixed_shape=True` (one shape per step size, so that `torch.compile(...,
dynamic=False)` compiles each step size once and CUDA graphs can replay it).
"""

from __future__ import annotations

import torch


class StaticKVCache:
    """Keys and values for `num_layers` layers, `max_length` slots per sample."""

    def __init__(
        self,
        num_layers: int,
        batch_size: int,
        num_kv_heads: int,
        head_dim: int,
        max_length: int,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
        fixed_shape: bool = False,
    ) -> None:
        if max_length < 1:
            raise ValueError(f"max_length must be >= 1, got {max_length}")
        shape = (batch_size, num_kv_heads, max_length, head_dim)
        self.keys = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(num_layers)]
        self.values = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(num_layers)]
        self.ranks = torch.zeros(batch_size, max_length, dtype=torch.long, device=device)
        self.valid = torch.zeros(batch_size, max_length, dtype=torch.bool, device=device)
        self.lengths = torch.zeros(batch_size, dtype=torch.long, device=device)
        self.batch_index = torch.arange(batch_size, device=device)[:, None]
        self.max_length = max_length
        self.batch_size = batch_size
        self.fixed_shape = fixed_shape
        self.bound = 0

    @property
    def device(self) -> torch.device:
        return self.lengths.device

    def reset(self) -> None:
        """Forget everything (the buffers are reused)."""
        self.rollback(0)

    def rollback(self, lengths: int | torch.Tensor) -> None:
        """Truncate each sample to `lengths` slots (an int for all, or a (B,) tensor).

        Called between forward passes, so it may read `lengths` on the host (for the bound).
        """
        lengths = torch.as_tensor(lengths, dtype=torch.long, device=self.device).expand(self.batch_size)
        if bool(((lengths < 0) | (lengths > self.lengths)).any()):
            raise ValueError(
                f"cannot roll back to lengths {lengths.tolist()}: each must be in [0, current "
                f"length {self.lengths.tolist()}]"
            )
        self.lengths.copy_(lengths)
        self.bound = int(lengths.max())
        slots = torch.arange(self.max_length, device=self.device)
        self.valid &= slots < self.lengths[:, None]

    def reserve(self, num_new: int) -> None:
        """Move the host-side bound by `num_new` slots; ValueError when the cache is too small.

        `append` calls it; a compiled step (which must not change Python state) is preceded by it.
        """
        if self.bound + num_new > self.max_length:
            raise ValueError(
                f"sequence of length {self.bound + num_new} exceeds the cache's "
                f"max_length={self.max_length}; allocate a larger cache"
            )
        self.bound += num_new

    def append(self, ranks: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Reserve slots for (B, T) new tokens with their ranks and validity; returns the slots.

        Call once per forward pass, before the layers write their keys and values there.
        """
        num_new = ranks.shape[1]
        if not torch.compiler.is_compiling():
            self.reserve(num_new)
        slots = self.lengths[:, None] + torch.arange(num_new, device=self.device)
        self.ranks.index_put_((self.batch_index, slots), ranks)
        self.valid.index_put_((self.batch_index, slots), valid)
        self.lengths.add_(num_new)
        return slots

    def attended_length(self) -> int:
        """Leading slots attention reads: all of them with `fixed_shape`, else the bound."""
        return self.max_length if self.fixed_shape else self.bound

    def used_length(self) -> int:
        """Leading slots that attention has to look at (kept for callers of the old name)."""
        return self.attended_length()

    def key_layout(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Ranks and validity of the attended slots, (B, attended_length) each."""
        end = self.attended_length()
        return self.ranks[:, :end], self.valid[:, :end]

    def write_layer(
        self, layer: int, slots: torch.Tensor, keys: torch.Tensor, values: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Store (B, H, T, D) keys/values at `slots`; return the attended keys and values."""
        index = (self.batch_index, slots)
        self.keys[layer].transpose(1, 2).index_put_(index, keys.transpose(1, 2))
        self.values[layer].transpose(1, 2).index_put_(index, values.transpose(1, 2))
        end = self.attended_length()
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]
