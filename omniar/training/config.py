"""Trainer settings, readable from a recipe's `trainer:` mapping."""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from typing import Any

from omniar.errors import OmniarError, bad_value, did_you_mean

_MIXED_PRECISION = ("no", "fp16", "bf16")
_SCHEDULES = ("cosine", "constant")


def _invalid(name: str, value: Any, expected: str) -> OmniarError:
    """An error about `trainer.<name>`; `.key` lets a recipe loader point at its line."""
    error = bad_value(f"trainer.{name}", value, expected)
    error.key = name
    return error


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
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise _invalid(name, value, "a positive integer")
        if len(self.betas) != 2:
            raise _invalid("betas", list(self.betas), "two numbers, e.g. [0.9, 0.95]")
        if self.learning_rate <= 0:
            raise _invalid("learning_rate", self.learning_rate, "a number > 0")
        if self.warmup_steps < 0:
            raise _invalid("warmup_steps", self.warmup_steps, "an integer >= 0")
        if self.lr_schedule not in _SCHEDULES:
            raise _invalid("lr_schedule", self.lr_schedule, f"one of {list(_SCHEDULES)}")
        if self.mixed_precision not in _MIXED_PRECISION:
            raise _invalid("mixed_precision", self.mixed_precision, f"one of {list(_MIXED_PRECISION)}")
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise _invalid("ema_decay", self.ema_decay, "a number in (0, 1) or null")
        if self.eval_every is not None and self.eval_every < 1:
            raise _invalid("eval_every", self.eval_every, "an integer >= 1 or null")
        if self.num_workers < 0:
            raise _invalid("num_workers", self.num_workers, "an integer >= 0")

    @classmethod
    def from_dict(cls, values: dict[str, Any], **overrides: Any) -> TrainerConfig:
        """Build from a recipe mapping; unknown keys are an error so typos do not pass silently."""
        known = sorted(f.name for f in fields(cls))
        merged = {**values, **{k: v for k, v in overrides.items() if v is not None}}
        for key in merged:
            if key not in known:
                error = OmniarError(
                    f"unknown trainer setting {key!r}{did_you_mean(str(key), known)}; "
                    f"accepted: {known}"
                )
                error.key = key
                raise error
        required = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
        for key in required:
            if merged.get(key) is None:
                raise _invalid(key, None, "a value (set it in the recipe's trainer: mapping or on the command line)")
        return cls(**merged)
