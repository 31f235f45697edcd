"""Classifier-free guidance and its schedules.

Guided logits are `uncond + scale * (cond - uncond)`: scale 1 is the conditional model alone,
larger scales push away from the unconditional one. Schedules vary the scale over the decoding
steps (t = step / (steps - 1), in [0, 1]):

- constant: `scale` at every step;
- interval: `scale` for t inside `interval` (start, end), 1 outside; LlamaGen's `cfg_interval`
  (guidance for the first tokens only) is interval (0, fraction);
- linear: ramps from 1 at the first step to `scale` at the last, as VAR does. VAR writes
  `(1 + w) cond - w uncond` with `w = cfg * t`, so VAR's `cfg=c` equals linear `scale = 1 + c`;
- power_cosine: `1 + (scale - 1) * (1 - cos(pi * t ** power)) / 2`, the MUSE/RAR schedule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from omniar.errors import OmniarError, bad_value, did_you_mean
from omniar.samplers.processors import is_real

SCHEDULES = ("constant", "interval", "linear", "power_cosine")


@dataclass(frozen=True)
class GuidanceSchedule:
    """A guidance scale per decoding step."""

    scale: float = 1.0
    schedule: str = "constant"
    interval: tuple[float, float] = (0.0, 1.0)
    power: float = 2.75

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            hint = did_you_mean(self.schedule, SCHEDULES) if isinstance(self.schedule, str) else ""
            raise OmniarError(f"guidance_schedule={self.schedule!r} is not valid{hint}; "
                              f"expected one of {list(SCHEDULES)}")
        if not is_real(self.scale) or not 0 <= self.scale < math.inf:
            raise bad_value("guidance_scale", self.scale, "a finite number >= 0 (1 = no guidance)")
        interval = tuple(self.interval) if isinstance(self.interval, (list, tuple)) else ()
        if len(interval) != 2 or not all(is_real(x) for x in interval) \
                or not 0.0 <= interval[0] <= interval[1] <= 1.0:
            raise bad_value("guidance_interval", self.interval,
                            "(start, end) with 0 <= start <= end <= 1")
        if not is_real(self.power) or not 0 < self.power < math.inf:
            raise bad_value("guidance_power", self.power, "a finite number > 0")

    @property
    def enabled(self) -> bool:
        """Whether any step is guided (otherwise the unconditional branch is skipped)."""
        return self.scale != 1.0

    def scale_at(self, step: int, num_steps: int) -> float:
        t = step / (num_steps - 1) if num_steps > 1 else 1.0
        if self.schedule == "constant":
            return float(self.scale)
        if self.schedule == "interval":
            start, end = self.interval
            return float(self.scale) if start <= t <= end else 1.0
        if self.schedule == "linear":
            return 1.0 + (self.scale - 1.0) * t
        return 1.0 + (self.scale - 1.0) * (1.0 - math.cos(math.pi * t**self.power)) / 2.0


    def scale_table(self, num_steps: int, device: torch.device | None = None) -> torch.Tensor:
        """(num_steps,) float32 `scale_at` of every step, to index with tensors of step ids."""
        return torch.tensor([self.scale_at(step, num_steps) for step in range(num_steps)],
                            device=device)


def guide(cond_logits: torch.Tensor, uncond_logits: torch.Tensor, scale: float | torch.Tensor
          ) -> torch.Tensor:
    """Classifier-free guidance on logits, in float32 (a bf16 model's logits are upcast first:
    the difference of two close bf16 logits times a scale of 5-10 would amplify their rounding)."""
    cond_logits, uncond_logits = cond_logits.float(), uncond_logits.float()
    return uncond_logits + scale * (cond_logits - uncond_logits)


def combine_guided_rows(logits: torch.Tensor, batch: int, scale: float | torch.Tensor) -> torch.Tensor:
    """Guided logits of a [conditional; null] batch of `2 * batch` rows: the one place where the
    two halves are combined. `scale` is a number, or a tensor of per-slot scales whose shape is
    the leading dimensions of one half (e.g. (B, W) or (1, W) for a window of slots), so that
    every slot gets the scale of the step it produces."""
    cond, uncond = logits[:batch], logits[batch:]
    if isinstance(scale, torch.Tensor):
        scale = scale.view(*scale.shape, *([1] * (cond.ndim - scale.ndim)))
    return guide(cond, uncond, scale)
