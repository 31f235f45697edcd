"""What a recipe's task hands to the trainer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from omniar.training.config import TrainerConfig

LossFn = Callable[[torch.nn.Module, Any, int], "tuple[torch.Tensor, dict[str, float]]"]
EvalFn = Callable[[torch.nn.Module], "dict[str, float]"]


@dataclass
class TrainingSetup:
    """A model, its data and its loss, ready for `Trainer`.

    `loss_fn(model, batch, step)` returns the loss tensor and scalar logs; `eval_fn(model)` returns
    metrics computed on the (EMA, if enabled) weights. `finalize(model, output_dir)`, when given,
    writes the trained artefact (for example a pipeline folder) after training.
    `ema_restarts` are 0-based steps at which the weight average starts afresh from the current
    weights: a curriculum that changes what the model reads (NPP's patch stages) would otherwise
    average weights of the old stage into the saved model for ~1 / (1 - decay) steps.
    """

    model: torch.nn.Module
    train_dataset: torch.utils.data.Dataset
    loss_fn: LossFn
    config: TrainerConfig
    collate_fn: Callable | None = None
    eval_fn: EvalFn | None = None
    finalize: Callable[[torch.nn.Module, str], None] | None = None
    ema_restarts: tuple[int, ...] = ()
