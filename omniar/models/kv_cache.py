"""A static, preallocated key/value cache with per-sample lengths and rollback.

Every slot also records the *rank* of the token written there (the generation step it belongs
to under its order) and whether it holds a real token (padding slots do not). Attention
visibility is derived from ranks, so any order (raster, blocks, diagonals, scales) and any
parallel decoder (Jacobi drafts, ZipAR rows) uses the same cache: a query sees exactly the
written, valid slots whose rank is not above its own.
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
    ) -> None:
        if max_length < 1:
            raise ValueError(f"max_length must be >= 1, got {max_length}")
        shape = (batch_size, num_kv_heads, max_length, head_dim)
        self.keys = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(num_layers)]
        self.values = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(num_layers)]
        self.ranks = torch.zeros(batch_size, max_length, dtype=torch.long, device=device)
        self.valid = torch.zeros(batch_size, max_length, dtype=torch.bool, device=device)
        self.lengths = torch.zeros(batch_size, dtype=torch.long, device=device)
        self.max_length = max_length
        self.batch_size = batch_size

    @property
    def device(self) -> torch.device:
        return self.lengths.device

    def reset(self) -> None:
        """Forget everything (the buffers are reused)."""
        self.rollback(0)

    def rollback(self, lengths: int | torch.Tensor) -> None:
        """Truncate each sample to `lengths` slots (an int for all, or a (B,) tensor)."""
        lengths = torch.as_tensor(lengths, dtype=torch.long, device=self.device).expand(self.batch_size)
        if (lengths < 0).any() or (lengths > self.lengths).any():
            raise ValueError(
                f"cannot roll back to lengths {lengths.tolist()}: each must be in [0, current "
                f"length {self.lengths.tolist()}]"
            )
        self.lengths = lengths.clone()
        slots = torch.arange(self.max_length, device=self.device)
        self.valid &= slots < self.lengths[:, None]

    def append(self, ranks: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Reserve slots for (B, T) new tokens with their ranks and validity; returns the slots.

        Call once per forward pass, before the layers write their keys and values there.
        """
        num_new = ranks.shape[1]
        end = int(self.lengths.max()) + num_new
        if end > self.max_length:
            raise ValueError(
                f"sequence of length {end} exceeds the cache's max_length={self.max_length}; "
                "allocate a larger cache"
            )
        slots = self.lengths[:, None] + torch.arange(num_new, device=self.device)
        batch = torch.arange(self.batch_size, device=self.device)[:, None]
        self.ranks[batch, slots] = ranks
        self.valid[batch, slots] = valid
        self.lengths = self.lengths + num_new
        return slots

    def used_length(self) -> int:
        """Leading slots that attention has to look at."""
        return int(self.lengths.max())

    def write_layer(
        self, layer: int, slots: torch.Tensor, keys: torch.Tensor, values: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Store (B, H, T, D) keys/values at `slots`; return all used keys and values."""
        if bool((slots[:, 0] == slots[0, 0]).all()):
            start = int(slots[0, 0])
            self.keys[layer][:, :, start : start + keys.shape[2]] = keys
            self.values[layer][:, :, start : start + keys.shape[2]] = values
        else:
            batch = torch.arange(self.batch_size, device=self.device)[:, None]
            self.keys[layer][batch, :, slots] = keys.transpose(1, 2)
            self.values[layer][batch, :, slots] = values.transpose(1, 2)
        end = self.used_length()
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]
