"""Training task ``digit_classifier``: the FSDD spoken-digit classifier used for evaluation.

Recipe keys (see recipes/fsdd_digit_classifier.yaml):

- ``model``: ``DigitClassifier`` config.
- ``data``: ``path`` (FSDD recordings, relative to the data root), ``gain_db`` (random gain
  range for augmentation). Training clips are placed at a random offset in the fixed
  ``num_samples`` window (time-shift augmentation); evaluation centres them.

Trains on takes 5-49, reports accuracy on the test takes 0-4 (``eval/test_accuracy``).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from omniar.data.fsdd import FSDDDataset
from omniar.eval.digit_classifier import DigitClassifier, classifier_accuracy
from omniar.training.config import TrainerConfig
from omniar.training.recipe_schema import TaskRecipe
from omniar.training.setup import TrainingSetup

RECIPE = TaskRecipe({"model": dict, "data": {"path": str, "gain_db": (list, None)}})


def _loss_fn(model: nn.Module, batch: dict, step: int) -> tuple[torch.Tensor, dict[str, float]]:
    logits = model(batch["waveform"])
    loss = F.cross_entropy(logits, batch["digit"])
    accuracy = (logits.argmax(-1) == batch["digit"]).float().mean()
    return loss, {"train_accuracy": float(accuracy)}


def build(recipe: dict, data_root: str | None) -> TrainingSetup:
    """Build the classifier training setup from a recipe (see the module docstring)."""
    model = DigitClassifier(**recipe.get("model", {}))
    data = dict(recipe.get("data", {}))
    path = Path(data_root or ".") / data.get("path", "fsdd/recordings")
    gain = data.get("gain_db")
    rate, length = model.config.sample_rate, model.config.num_samples
    train = FSDDDataset(
        path,
        split="train",
        num_samples=length,
        random_crop=True,
        gain_db=tuple(gain) if gain else None,
        sample_rate=rate,
    )
    test = FSDDDataset(path, split="test", sample_rate=rate)
    clips = [test.load(i) for i in range(len(test))]
    digits = [r.digit for r in test.recordings]

    def eval_fn(trained: nn.Module) -> dict[str, float]:
        return {"test_accuracy": classifier_accuracy(trained, clips, digits, rate)}

    return TrainingSetup(
        model=model,
        train_dataset=train,
        loss_fn=_loss_fn,
        config=TrainerConfig.from_dict(recipe["trainer"]),
        eval_fn=eval_fn,
    )
