"""Task `ar_tokens`: train an AutoregressiveModel on a pre-tokenized file under any order.

Recipe keys: `data: {tokens: FILE.safetensors}` (relative to the data root unless absolute),
`order: {name: raster, shape: [8, 8]}`, `model:` AutoregressiveModel arguments, and
`condition_dropout` (probability of the null condition, for classifier-free guidance).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omniar.data.token_file import TokenFileDataset
from omniar.models.ar_model import AutoregressiveModel
from omniar.orders.registry import build_order
from omniar.training.ar_loss import autoregressive_loss
from omniar.training.config import TrainerConfig
from omniar.training.recipe_schema import TaskRecipe
from omniar.training.setup import TrainingSetup

RECIPE = TaskRecipe(
    {"data": {"tokens": str}, "order": dict, "model": dict, "condition_dropout": float},
    required=("data", "order", "model"),
)


def build(recipe: dict[str, Any], data_root: str | None) -> TrainingSetup:
    path = Path(recipe["data"]["tokens"])
    if not path.is_absolute() and data_root is not None and not path.exists():
        path = Path(data_root) / path
    dataset = TokenFileDataset(path)
    order = build_order(**recipe["order"])
    model = AutoregressiveModel(**recipe["model"])
    dropout = float(recipe.get("condition_dropout", 0.1))

    def loss_fn(model, batch, step):
        condition = {"class_labels": batch["class_labels"]} if "class_labels" in batch else {}
        return autoregressive_loss(model, order, batch["tokens"], condition, dropout)

    return TrainingSetup(model, dataset, loss_fn, TrainerConfig.from_dict(recipe["trainer"]))
