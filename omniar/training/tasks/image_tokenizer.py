"""Training task ``image_tokenizer``: train an ``ImageVQTokenizer`` or ``MultiScaleVQTokenizer``.

Recipe keys (see recipes/emoji_vq.yaml and recipes/emoji_msvq.yaml):

- ``model``: ``class`` (``ImageVQTokenizer`` or ``MultiScaleVQTokenizer``) and that class's
  config.
- ``data``: ``dataset`` (``emoji``: :class:`~omniar.data.emoji.NotoEmojiDataset`, train split;
  ``imagefolder``: :class:`~omniar.data.images.ImageFolderDataset`), ``path`` (relative to the
  data root), ``image_size`` (resize to this square size; optional), ``skip_bad_files``
  (image folders only).
- ``loss``: weights ``l1``, ``l2``, ``gradient`` (Sobel edges, see
  :mod:`omniar.training.image_losses`) and ``aux`` (the quantiser's loss: VQ commitment and, for
  the multi-scale tokenizer, VAR's latent loss).
- ``eval``: ``path``, ``split`` (emoji only) and ``image_size`` of the images the periodic
  evaluation reconstructs (PSNR, SSIM, codebook usage); leave out ``eval`` to skip it.

``final/`` holds the tokenizer itself (``ImageVQTokenizer.from_pretrained(output_dir + "/final")``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from omniar.data.emoji import NotoEmojiDataset
from omniar.data.images import ImageFolderDataset
from omniar.eval.tokenizer_eval import TOKENIZER_CLASSES, ImageTokenizer, tokenizer_metrics
from omniar.training.config import TrainerConfig
from omniar.training.image_losses import reconstruction_loss
from omniar.training.recipe_schema import TaskRecipe
from omniar.training.setup import TrainingSetup

_LOSS_DEFAULTS = {"l1": 1.0, "l2": 1.0, "gradient": 1.0, "aux": 1.0}
_DATA_DEFAULTS = {
    "dataset": "emoji",
    "path": "noto-emoji/png32",
    "image_size": None,
    "skip_bad_files": False,
}
_EVAL_DEFAULTS = {"path": "noto-emoji/png32", "split": "heldout", "image_size": None}
RECIPE = TaskRecipe({
    "model": dict,
    "data": {"dataset": str, "path": str, "image_size": (int, None), "skip_bad_files": bool},
    "loss": {key: float for key in _LOSS_DEFAULTS},
    "eval": ({"path": str, "split": str, "image_size": (int, None)}, None),
})


class TokenizerTrainingModule(nn.Module):
    """A tokenizer and its loss as one module.

    ``forward`` returns the total loss and its parts, so the whole step goes through
    accelerate's wrapper (needed for multi-GPU gradient sync). ``save_pretrained`` saves the
    tokenizer alone.
    """

    def __init__(self, tokenizer: ImageTokenizer, loss_weights: dict[str, float]) -> None:
        super().__init__()
        self.tokenizer = tokenizer
        self.loss_weights = loss_weights

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        weights = self.loss_weights
        out = self.tokenizer(images)
        loss, parts = reconstruction_loss(
            out.reconstruction, images, weights["l1"], weights["l2"], weights["gradient"]
        )
        parts["aux"] = out.aux_loss.item()
        return loss + weights["aux"] * out.aux_loss, parts

    def save_pretrained(self, save_directory: str, **kwargs: Any) -> None:
        """Save the tokenizer (config.json + safetensors)."""
        self.tokenizer.save_pretrained(save_directory, **kwargs)


def _loss_fn(model: nn.Module, batch: Any, step: int) -> tuple[torch.Tensor, dict[str, float]]:
    return model(batch[0])


def _merge(defaults: dict[str, Any], given: dict[str, Any] | None, section: str) -> dict[str, Any]:
    given = dict(given or {})
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ValueError(
            f"unknown {section} setting(s) {unknown}; expected some of {sorted(defaults)}"
        )
    return {**defaults, **given}


def build_tokenizer(model_config: dict[str, Any]) -> ImageTokenizer:
    """Instantiate the tokenizer a recipe's ``model`` mapping describes."""
    config = dict(model_config)
    class_name = config.pop("class", "ImageVQTokenizer")
    if class_name not in TOKENIZER_CLASSES:
        raise ValueError(
            f"model.class: expected one of {sorted(TOKENIZER_CLASSES)}, got {class_name!r}"
        )
    return TOKENIZER_CLASSES[class_name](**config)


def _training_data(data: dict[str, Any], data_root: Path) -> Dataset:
    path = data_root / data["path"]
    if data["dataset"] == "emoji":
        return NotoEmojiDataset(path, "train", image_size=data["image_size"])
    if data["dataset"] == "imagefolder":
        return ImageFolderDataset(path, data["image_size"], skip_bad_files=data["skip_bad_files"])
    raise ValueError(f"data.dataset: expected 'emoji' or 'imagefolder', got {data['dataset']!r}")


def build(recipe: dict, data_root: str | None) -> TrainingSetup:
    """Build the tokenizer training setup from a recipe (see the module docstring)."""
    root = Path(data_root or ".")
    tokenizer = build_tokenizer(recipe.get("model", {}))
    data = _merge(_DATA_DEFAULTS, recipe.get("data"), "data")
    model = TokenizerTrainingModule(tokenizer, _merge(_LOSS_DEFAULTS, recipe.get("loss"), "loss"))

    eval_fn = None
    if recipe.get("eval") is not None:
        eval_cfg = _merge(_EVAL_DEFAULTS, recipe["eval"], "eval")
        eval_path = root / eval_cfg["path"]
        if any(eval_path.glob("emoji_u*.png")):
            eval_set = NotoEmojiDataset(eval_path, eval_cfg["split"], eval_cfg["image_size"])
        else:
            eval_set = ImageFolderDataset(eval_path, eval_cfg["image_size"])

        def eval_fn(trained: nn.Module) -> dict[str, float]:
            report = tokenizer_metrics(trained.tokenizer, eval_set)
            metrics = {k: float(report[k]) for k in ("psnr", "ssim", "codebook_usage_percent")}
            for k, value in enumerate(report.get("psnr_by_scale", []), start=1):
                metrics[f"psnr_first_{k}_scales"] = value
            return metrics

    return TrainingSetup(
        model=model,
        train_dataset=_training_data(data, root),
        loss_fn=_loss_fn,
        config=TrainerConfig.from_dict(recipe["trainer"]),
        eval_fn=eval_fn,
    )
