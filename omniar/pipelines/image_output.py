"""Converting generated images to the `output_type` a caller asked for."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from omniar.pipelines.input_checks import check_choice

OUTPUT_TYPES = ("pil", "np", "pt", "tokens")


def check_output_type(output_type: str) -> None:
    """An OmniarError unless `output_type` is one of `OUTPUT_TYPES`."""
    check_choice("output_type", output_type, OUTPUT_TYPES)


def convert_images(images: torch.Tensor, output_type: str):
    """(B, 3, H, W) in [-1, 1] to PIL images, a float numpy array in [0, 1] (B, H, W, 3), or a
    float tensor in [0, 1] (B, 3, H, W)."""
    images = ((images.float().clamp(-1, 1) + 1) / 2).cpu()
    if output_type == "pt":
        return images
    array = images.permute(0, 2, 3, 1).numpy()
    if output_type == "np":
        return array
    return [Image.fromarray((a * 255).round().astype(np.uint8)) for a in array]


def image_grid(images: list[Image.Image], columns: int | None = None, scale: int = 1) -> Image.Image:
    """Tile PIL images into one picture, upscaled by `scale` with nearest neighbour."""
    if not images:
        raise ValueError("image_grid needs at least one image")
    columns = columns or int(np.ceil(np.sqrt(len(images))))
    rows = int(np.ceil(len(images) / columns))
    width, height = images[0].size
    grid = Image.new("RGB", (columns * width, rows * height), "white")
    for index, image in enumerate(images):
        grid.paste(image.convert("RGB"), ((index % columns) * width, (index // columns) * height))
    if scale > 1:
        grid = grid.resize((grid.width * scale, grid.height * scale), Image.NEAREST)
    return grid
