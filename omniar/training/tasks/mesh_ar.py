"""Task `mesh_ar`: a class-conditional autoregressive mesh model on the procedural shapes.

Recipe keys:

- ``tokenizer``: `MeshTokenizer` arguments (default: 7 bits, adjacency serialisation).
- ``data``: ``num_per_class`` and ``seed`` of the procedural train split
  (`omniar.data.shapes`: random proportions and rotations about the vertical axis per item).
- ``model``: `AutoregressiveModel` size arguments; vocabulary, class condition (one field, one
  class per shape) and 1D RoPE are set here.
- ``condition_dropout``: probability of the null class (classifier-free guidance), default 0.1.
- ``presets``: ``candidates`` (name -> sampling settings) measured on
  ``num_per_class`` generated meshes per class against as many held-out meshes; the best one
  (`choose_preset`: >= ``min_valid`` valid, then 1-NNA closest to 0.5; failing that, the most
  valid) is saved as ``"default"``. Meshes are generated as the pipeline does by default
  (manifold grammar, repair on), and every candidate's figures go to
  ``preset_selection.json`` in the output directory.

``finalize`` writes the `MeshPipeline` to ``<output_dir>/pipeline``, or to ``--pipeline-dir``
when given (`omniar.training.outputs`).

Batches are right-padded to the longest sequence in the batch (rounded up to a multiple of 32,
so only a few raster orders are ever built); padding after EOS is not scored.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch

from omniar.data.shapes import SHAPE_CLASSES, ShapesDataset
from omniar.models.ar_model import AutoregressiveModel
from omniar.orders.raster import RasterOrder
from omniar.pipelines.mesh import MeshPipeline
from omniar.tokenizers.mesh import MeshTokenizer
from omniar.training.ar_loss import autoregressive_loss
from omniar.training.config import TrainerConfig
from omniar.training.outputs import pipeline_folder
from omniar.training.recipe_schema import TaskRecipe
from omniar.training.setup import TrainingSetup

LENGTH_MULTIPLE = 32
TOKENIZER_DEFAULTS = {"quantization_bits": 7, "serialization": "adjacency", "max_faces": 160}
RECIPE = TaskRecipe(
    {
        "tokenizer": dict,
        "data": {"num_per_class": int, "seed": int},
        "model": dict,
        "condition_dropout": float,
        "loss_chunks": int,
        "presets": {"num_per_class": int, "min_valid": float, "candidates": dict},
    },
    writes_pipeline=True,
)


class PaddedRasterLoss:
    """`autoregressive_loss` under raster orders as long as each (padded) sub-batch.

    The batch is sorted by length and split into ``chunks`` sub-batches, each padded only to its
    own longest sequence: mesh lengths vary tenfold between classes, so this removes most of the
    padding compute. The loss is the mean over all scored tokens of the batch.
    """

    def __init__(self, pad_token_id: int, drop_probability: float, chunks: int = 1) -> None:
        if chunks < 1:
            raise ValueError(f"loss_chunks must be >= 1, got {chunks}")
        self.pad_token_id = pad_token_id
        self.drop_probability = drop_probability
        self.chunks = chunks
        self.orders: dict[int, RasterOrder] = {}

    def _chunk_loss(self, model, tokens: torch.Tensor, labels: torch.Tensor, length: int):
        length = -(-length // LENGTH_MULTIPLE) * LENGTH_MULTIPLE
        tokens = tokens[:, :length]
        if length > tokens.shape[1]:
            tokens = torch.nn.functional.pad(tokens, (0, length - tokens.shape[1]),
                                             value=self.pad_token_id)
        order = self.orders.setdefault(length, RasterOrder(length))
        return autoregressive_loss(model, order, tokens, {"class_labels": labels},
                                   self.drop_probability, pad_token_id=self.pad_token_id)

    def __call__(self, model: torch.nn.Module, batch: dict[str, torch.Tensor], step: int):
        lengths = batch["attention_mask"].sum(1)
        ranked = lengths.argsort(descending=True)
        total = lengths.sum().clamp(min=1)
        loss, accuracy = 0.0, 0.0
        for part in ranked.chunk(self.chunks):
            # Each token is scored once, so weighting chunk means by token share gives the mean.
            share = lengths[part].sum() / total
            chunk_loss, logs = self._chunk_loss(
                model, batch["input_ids"][part], batch["class_labels"][part],
                int(lengths[part].max()))
            loss = loss + share * chunk_loss
            accuracy += float(share) * logs["accuracy"]
        return loss, {"accuracy": accuracy}


def choose_preset(results: dict[str, dict[str, float]], min_valid: float) -> str:
    """Best candidate: among those with ``min_valid`` valid meshes, the 1-NNA closest to 0.5
    (then more valid); when none has, the most valid (then 1-NNA closest to 0.5)."""
    def nna_distance(name: str) -> float:
        nna = results[name].get("1nna", float("nan"))
        return 1.0 if math.isnan(nna) else round(abs(nna - 0.5), 3)

    def valid(name: str) -> float:
        return results[name]["valid_fraction"]

    good = [name for name in results if valid(name) >= min_valid]
    if good:
        return min(good, key=lambda name: (nna_distance(name), -valid(name)))
    return min(results, key=lambda name: (-valid(name), nna_distance(name)))


def build(
    recipe: dict[str, Any], data_root: str | None, pipeline_dir: str | None = None
) -> TrainingSetup:
    tokenizer = MeshTokenizer(**{**TOKENIZER_DEFAULTS, **recipe.get("tokenizer", {})})
    data = recipe.get("data", {})
    dataset = ShapesDataset(tokenizer, "train", int(data.get("num_per_class", 300)),
                            seed=int(data.get("seed", 0)))
    model = AutoregressiveModel(
        vocab_size=tokenizer.vocab_size, condition="class", class_sizes=[len(SHAPE_CLASSES)],
        rope_axes=1, **recipe.get("model", {}),
    )
    loss_fn = PaddedRasterLoss(tokenizer.pad_token_id, float(recipe.get("condition_dropout", 0.1)),
                               int(recipe.get("loss_chunks", 4)))
    presets = recipe.get("presets", {})
    candidates = presets.get("candidates", {"default": {}})

    def finalize(trained: torch.nn.Module, output_dir: str) -> None:
        from omniar.eval.mesh_generation import evaluate_generation

        pipe = MeshPipeline(trained.eval(), tokenizer, class_names=list(SHAPE_CLASSES),
                            sampling_presets=candidates)
        results = {
            name: evaluate_generation(pipe, int(presets.get("num_per_class", 10)), preset=name,
                                      seed=int(data.get("seed", 0)))["overall"]
            for name in candidates
        }
        best = choose_preset(results, float(presets.get("min_valid", 0.9)))
        chosen = {**candidates, "default": candidates[best]}
        Path(output_dir, "preset_selection.json").write_text(
            json.dumps({"chosen": best, "results": results}, indent=2))
        pipe.register_to_config(sampling_presets=chosen)
        pipe.save_pretrained(pipeline_folder(output_dir, pipeline_dir))

    return TrainingSetup(model, dataset, loss_fn, TrainerConfig.from_dict(recipe["trainer"]),
                         collate_fn=dataset.collate_fn, finalize=finalize)
