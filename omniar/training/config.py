"""Trainer settings, readable from a recipe's `trainer:` mapping."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

_MIXED_PRECISION = ("no", "fp16", "bf16")
_SCHEDULES = ("cosine", "constant")


@dataclass
class TrainerConfig:
    """Optimisation and bookkeeping settings of one training run.

    `max_steps` counts optimiser steps (each of `gradient_accumulation_steps` micro-batches of
    `batch_size` samples per process).
    """

    output_dir: str
    max_steps: int
    batch_size: int = 32
    learning_rate: float = 3e-4
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.95)
    warmup_steps: int = 100
    lr_schedule: str = "cosine"
    gradient_accumulation_steps: int = 1
    max_grad_norm: float | None = 1.0
    mixed_precision: str = "no"
    ema_decay: float | None = None
    checkpoint_every: int = 500
    keep_checkpoints: int = 2
    log_every: int = 50
    eval_every: int | None = None
    seed: int = 0
    num_workers: int = 0

    def __post_init__(self) -> None:
        self.betas = tuple(self.betas)
        positive = {
            "max_steps": self.max_steps,
            "batch_size": self.batch_size,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
            "checkpoint_every": self.checkpoint_every,
            "keep_checkpoints": self.keep_checkpoints,
            "log_every": self.log_every,
        }
        for name, value in positive.items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"trainer.{name} must be a positive integer, got {value!r}")
        if self.learning_rate <= 0:
            raise ValueError(f"trainer.learning_rate must be > 0, got {self.learning_rate}")
        if self.warmup_steps < 0:
            raise ValueError(f"trainer.warmup_steps must be >= 0, got {self.warmup_steps}")
        if self.lr_schedule not in _SCHEDULES:
            raise ValueError(f"trainer.lr_schedule must be one of {_SCHEDULES}, got {self.lr_schedule!r}")
        if self.mixed_precision not in _MIXED_PRECISION:
            raise ValueError(
                f"trainer.mixed_precision must be one of {_MIXED_PRECISION}, got {self.mixed_precision!r}"
            )
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"trainer.ema_decay must be in (0, 1) or null, got {self.ema_decay}")
        if self.eval_every is not None and self.eval_every < 1:
            raise ValueError(f"trainer.eval_every must be >= 1 or null, got {self.eval_every}")

    @classmethod
    def from_dict(cls, values: dict[str, Any], **overrides: Any) -> TrainerConfig:
        """Build from a recipe mapping; unknown keys are an error so typos do not pass silently."""
        known = {f.name for f in fields(cls)}
        merged = {**values, **{k: v for k, v in overrides.items() if v is not None}}
        unknown = sorted(set(merged) - known)
        if unknown:
            raise ValueError(f"unknown trainer setting(s) {unknown}; expected some of {sorted(known)}")
        return cls(**merged)
