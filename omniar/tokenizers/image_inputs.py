"""Turn what users hand an image tokenizer into one (B, 3, H, W) float tensor in [-1, 1], and back.

Both image tokenizers, the image data sets and the pipelines read images through these helpers so
that every entry point treats transparency and grayscale the same way: transparent pixels are
composited on white (emoji and icons are drawn for a light background), grayscale and palette
images become RGB.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

ImageInput = torch.Tensor | Image.Image | Sequence[Image.Image]

_RANGE_TOLERANCE = 1e-3


def pil_to_rgb(image: Image.Image) -> Image.Image:
    """Return an RGB copy of ``image``: alpha composited on white, grayscale/palette expanded."""
    if not isinstance(image, Image.Image):
        raise ValueError(  # noqa: TRY004 - bad input is a ValueError (project convention)
            f"image: expected a PIL.Image.Image, got {type(image).__name__}"
        )
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def pil_to_tensor(image: Image.Image) -> torch.Tensor:
    """Convert one PIL image to a (3, H, W) float32 tensor in [-1, 1] (see :func:`pil_to_rgb`)."""
    array = np.asarray(pil_to_rgb(image), dtype=np.float32)
    return torch.from_numpy(array).permute(2, 0, 1).div(127.5).sub(1.0).contiguous()


def to_image_tensor(
    images: ImageInput,
    argument: str = "images",
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Normalise ``images`` to a (B, 3, H, W) tensor in [-1, 1].

    Accepts a float tensor in [-1, 1] shaped (3, H, W) or (B, 3, H, W), one PIL image, or a
    list of PIL images of one size. ``argument`` is the name used in error messages.
    """
    if isinstance(images, Image.Image):
        images = [images]
    if isinstance(images, torch.Tensor):
        tensor = images.unsqueeze(0) if images.ndim == 3 else images
        if tensor.ndim != 4 or tensor.shape[1] != 3:
            raise ValueError(
                f"{argument}: expected a tensor shaped (B, 3, H, W) or (3, H, W) with 3 RGB "
                f"channels, got shape {tuple(images.shape)}"
            )
        if not torch.is_floating_point(tensor):
            raise ValueError(f"{argument}: expected a float tensor in [-1, 1], got {tensor.dtype}")
        if tensor.numel() and (
            tensor.min() < -1 - _RANGE_TOLERANCE or tensor.max() > 1 + _RANGE_TOLERANCE
        ):
            raise ValueError(
                f"{argument}: expected values in [-1, 1], got [{tensor.min():.3g}, "
                f"{tensor.max():.3g}] (scale [0, 255] images with x / 127.5 - 1)"
            )
    elif isinstance(images, Sequence) and len(images) > 0:
        if not all(isinstance(image, Image.Image) for image in images):
            raise ValueError(f"{argument}: expected a tensor, a PIL image or a list of PIL images")
        sizes = {image.size for image in images}
        if len(sizes) != 1:
            raise ValueError(f"{argument}: all PIL images must have one size, got {sorted(sizes)}")
        tensor = torch.stack([pil_to_tensor(image) for image in images])
    else:
        raise ValueError(
            f"{argument}: expected a tensor, a PIL image or a non-empty list of PIL images, "
            f"got {type(images).__name__}"
        )
    return tensor.to(device=device, dtype=dtype or torch.float32)


def to_pil_images(images: torch.Tensor) -> list[Image.Image]:
    """Convert a (B, 3, H, W) tensor in [-1, 1] to a list of RGB PIL images."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images: expected shape (B, 3, H, W), got {tuple(images.shape)}")
    array = images.detach().float().clamp(-1, 1).add(1).mul(127.5).round()
    array = array.to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    return [Image.fromarray(item) for item in array]
