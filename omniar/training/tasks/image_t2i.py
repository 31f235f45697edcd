"""Task `image_t2i`: a text-to-image transformer trained jointly with its caption encoder.

Recipe keys: `tokenizer` (folder of a trained image tokenizer, e.g. assets/emoji-vq),
`data: {path: noto-emoji/png32, split: train}` (Noto emoji, or `type: imagefolder` for a folder
with metadata.jsonl captions), `image_size`, `order` (name), `caption_encoder:` and `model:`
arguments, `condition_dropout`, `input_noise` (largest share of fed tokens replaced at random,
`omniar.training.ar_loss.corrupt_inputs`; default 0), `weights_dtype` (the transformer's storage
precision in the saved pipeline, e.g. `float16`; `omniar.training.storage`), `orders` (the orders
the pipeline offers) and `sampling_presets`. Images are tokenized once up front; the token cache
is reused on resume. The finished ImagePipeline goes to `<output_dir>/pipeline`, or to
`--pipeline-dir` when given (`omniar.training.outputs`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.utils.data import Dataset

from omniar.models.ar_model import AutoregressiveModel
from omniar.models.caption_encoder import CaptionEncoder
from omniar.orders.next_scale import flatten_scales
from omniar.pipelines.image import ImagePipeline
from omniar.pipelines.image_orders import build_image_order
from omniar.training.ar_loss import autoregressive_loss
from omniar.training.config import TrainerConfig
from omniar.training.outputs import pipeline_folder
from omniar.training.recipe_schema import TaskRecipe
from omniar.training.setup import TrainingSetup
from omniar.training.storage import cast_saved_weights, storage_dtype
from omniar.training.tasks.image_data import load_image_captions, load_image_tokenizer

RECIPE = TaskRecipe(
    {
        "tokenizer": str,
        "data": {"path": str, "split": str, "type": str, "skip_bad_files": bool},
        "image_size": int,
        "order": str,
        "orders": list,
        "caption_encoder": dict,
        "model": dict,
        "condition_dropout": float,
        "input_noise": float,
        "weights_dtype": (str, None),
        "sampling_presets": (dict, None),
    },
    required=("tokenizer", "data", "model"),
    writes_pipeline=True,
)


class CaptionedTokens(Dataset):
    """Token grids with their caption bytes."""

    def __init__(self, tokens: torch.Tensor, caption_ids: torch.Tensor, caption_mask: torch.Tensor):
        self.tokens, self.caption_ids, self.caption_mask = tokens, caption_ids, caption_mask

    def __len__(self) -> int:
        return self.tokens.shape[0]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"tokens": self.tokens[index], "caption_ids": self.caption_ids[index],
                "caption_mask": self.caption_mask[index]}


class TextToTokensModel(nn.Module):
    """Caption encoder + transformer as one module, so one optimiser (and DDP) trains both."""

    def __init__(self, text_encoder: CaptionEncoder, transformer: AutoregressiveModel):
        super().__init__()
        self.text_encoder = text_encoder
        self.transformer = transformer

    def forward(self, caption_ids: torch.Tensor, caption_mask: torch.Tensor, **kwargs: Any):
        states = self.text_encoder(caption_ids, caption_mask)
        return self.transformer(text_states=states, text_mask=caption_mask, **kwargs)


def caption_condition(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The batch's captions as the model's condition, cut to the batch's longest caption.

    Captions are padded once to the longest in the data set (78 bytes for emoji against a mean
    of 27); padding is masked, so cutting the all-padding columns changes no logit and saves
    their attention and caption-encoder cost at every step.
    """
    mask = batch["caption_mask"]
    length = max(int(mask.sum(1).max()), 1)
    return {"caption_ids": batch["caption_ids"][:, :length], "caption_mask": mask[:, :length]}


def _tokenize_images(tokenizer, images: torch.Tensor, batch: int = 256) -> torch.Tensor:
    with torch.no_grad():
        codes = [tokenizer.encode(images[i : i + batch]) for i in range(0, len(images), batch)]
    # a multi-scale tokenizer gives a list of (B, s, s) maps: its tokens are the scales concatenated
    return torch.cat([flatten_scales(part if isinstance(part, list) else [part]) for part in codes])


def build(
    recipe: dict[str, Any], data_root: str | None, pipeline_dir: str | None = None
) -> TrainingSetup:
    config = TrainerConfig.from_dict(recipe["trainer"])
    tokenizer = load_image_tokenizer(recipe["tokenizer"])
    image_size = int(recipe.get("image_size", 32))
    order_name = recipe.get("order", "raster")
    order = build_image_order(order_name, tokenizer, image_size, [order_name])
    text_encoder = CaptionEncoder(**recipe.get("caption_encoder", {}))
    images, captions = load_image_captions(recipe["data"], data_root, image_size)

    cache = Path(config.output_dir) / "token_cache.safetensors"
    if cache.exists():
        tokens = load_file(str(cache))["tokens"]
    else:
        tokens = _tokenize_images(tokenizer, images)
        cache.parent.mkdir(parents=True, exist_ok=True)
        save_file({"tokens": tokens.contiguous()}, str(cache))
    caption_ids, caption_mask = text_encoder.tokenize(captions)
    dataset = CaptionedTokens(tokens, caption_ids.cpu(), caption_mask.cpu())

    model_args = {"condition": "text", "text_dim": text_encoder.hidden_size, "rope_axes": order.num_axes,
                  "vocab_size": tokenizer.vocab_size, **recipe["model"]}
    model = TextToTokensModel(text_encoder, AutoregressiveModel(**model_args))
    storage_dtype(recipe.get("weights_dtype"))  # a bad name fails now, not after the training
    dropout = float(recipe.get("condition_dropout", 0.1))
    input_noise = float(recipe.get("input_noise", 0.0))

    def loss_fn(model, batch, step):
        return autoregressive_loss(model, order, batch["tokens"], caption_condition(batch), dropout,
                                   context=tokenizer, input_noise=input_noise)

    def finalize(trained: TextToTokensModel, output_dir: str) -> None:
        pipeline = ImagePipeline(
            transformer=trained.transformer, tokenizer=tokenizer, text_encoder=trained.text_encoder,
            image_size=image_size, orders=recipe.get("orders", [order_name]),
            sampling_presets=recipe.get("sampling_presets"),
        )
        target = pipeline_folder(output_dir, pipeline_dir)
        pipeline.save_pretrained(target)
        cast_saved_weights(target / "transformer", recipe.get("weights_dtype"))

    return TrainingSetup(model, dataset, loss_fn, config, finalize=finalize)
