"""Task `image_t2i_orders`: `image_t2i` for orders whose training needs more than token ids.

Everything (data, token cache, caption encoder, model, pipeline folder) is `image_t2i`'s; this
task only adds what those orders need on top:

- `order: next_scale` (with a multi-scale tokenizer): the transformer reads the tokenizer's
  accumulated features, so `model.input_dim` is set from the tokenizer and the order
  (`NextScaleOrder.feature_dim`); recipes leave it out.
- `next_patch: {patch_sizes: [2, 1], fractions: [0.5, 0.5]}` (with `order: raster`): the NPP
  curriculum. The loss at trainer step s uses `NextPatchCurriculum.order_at(s, max_steps)` and
  logs the patch size; the weight average (EMA) restarts at each stage, so the saved plain raster
  model averages token-stage weights only.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from omniar.orders.next_patch import NextPatchCurriculum
from omniar.orders.next_scale import NextScaleOrder
from omniar.training.ar_loss import autoregressive_loss
from omniar.training.recipe_schema import TaskRecipe
from omniar.training.setup import TrainingSetup
from omniar.training.tasks import image_t2i
from omniar.training.tasks.image_data import load_image_tokenizer

RECIPE = TaskRecipe(
    {**image_t2i.RECIPE.keys, "next_patch": {"patch_sizes": list, "fractions": list, "positions": str}},
    required=image_t2i.RECIPE.required,
    writes_pipeline=True,
)


def _with_feature_inputs(recipe: dict[str, Any], tokenizer: Any) -> dict[str, Any]:
    """The recipe with `model.input_dim` set for the next-scale order's features."""
    if not hasattr(tokenizer, "next_scale_inputs"):
        raise ValueError(
            f"order next_scale needs a multi-scale tokenizer; {recipe['tokenizer']} holds a "
            f"{type(tokenizer).__name__}"
        )
    input_dim = NextScaleOrder.for_tokenizer(tokenizer).feature_dim(tokenizer)
    given = recipe["model"].get("input_dim")
    if given is not None and int(given) != input_dim:
        raise ValueError(
            f"model.input_dim: the next_scale order feeds {input_dim} channels, got {given}"
        )
    return {**recipe, "model": {**recipe["model"], "input_dim": input_dim}}


def _next_patch_curriculum(recipe: dict[str, Any], tokenizer: Any) -> NextPatchCurriculum:
    if recipe.get("order", "raster") != "raster":
        raise ValueError(
            f"next_patch trains raster models; set order: raster, got {recipe.get('order')!r}"
        )
    shape = tokenizer.token_shape(int(recipe.get("image_size", 32)))
    return NextPatchCurriculum.from_recipe(shape, recipe["next_patch"])


def _next_patch_loss(recipe: dict[str, Any], curriculum: NextPatchCurriculum, max_steps: int):
    dropout = float(recipe.get("condition_dropout", 0.1))
    input_noise = float(recipe.get("input_noise", 0.0))

    def loss_fn(model, batch, step):
        order = curriculum.order_at(step, max_steps)
        loss, logs = autoregressive_loss(model, order, batch["tokens"],
                                         image_t2i.caption_condition(batch), dropout,
                                         input_noise=input_noise)
        return loss, {**logs, "patch_size": float(curriculum.patch_size_at(step, max_steps))}

    return loss_fn


def build(
    recipe: dict[str, Any], data_root: str | None, pipeline_dir: str | None = None
) -> TrainingSetup:
    needs_features = recipe.get("order") == "next_scale"
    if not needs_features and "next_patch" not in recipe:
        return image_t2i.build(recipe, data_root, pipeline_dir)
    tokenizer = load_image_tokenizer(recipe["tokenizer"])
    if needs_features:
        recipe = _with_feature_inputs(recipe, tokenizer)
    setup = image_t2i.build(recipe, data_root, pipeline_dir)
    if "next_patch" in recipe:
        curriculum = _next_patch_curriculum(recipe, tokenizer)
        max_steps = setup.config.max_steps
        setup = replace(setup, loss_fn=_next_patch_loss(recipe, curriculum, max_steps),
                        ema_restarts=curriculum.stage_starts(max_steps))
    return setup
