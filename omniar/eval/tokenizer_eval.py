"""Reconstruction quality and speed of an image tokenizer (``omniar eval tokenizer``).

Figures, over every image of the evaluation set:

- ``psnr``: mean per-image PSNR in dB of decode(encode(x)) against x, pixels in [0, 1];
- ``ssim``: mean SSIM (torchmetrics, 11x11 Gaussian window, data range 1);
- ``codebook_usage_percent``: distinct codes seen in all tokens of the set / vocab_size * 100;
- ``tokens_per_image``: codes per image (all scales for the multi-scale tokenizer);
- ``images_per_second``: encode + decode throughput (data loading excluded);
- ``psnr_by_scale`` (multi-scale only): PSNR when decoding the first k scales, k = 1..K.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset
from torchmetrics.functional.image import structural_similarity_index_measure

from omniar.data.emoji import NotoEmojiDataset
from omniar.data.images import ImageFolderDataset
from omniar.tokenizers.image_vq import ImageVQTokenizer
from omniar.tokenizers.multiscale_vq import MultiScaleVQTokenizer

TOKENIZER_CLASSES = {cls.__name__: cls for cls in (ImageVQTokenizer, MultiScaleVQTokenizer)}
ImageTokenizer = ImageVQTokenizer | MultiScaleVQTokenizer


def load_image_tokenizer(
    model_dir: str | Path, device: str | torch.device = "cpu"
) -> ImageTokenizer:
    """Load an image tokenizer folder (config.json + safetensors) of either class, in eval mode."""
    config_path = Path(model_dir) / "config.json"
    if not config_path.is_file():
        raise ValueError(
            f"model_dir: {str(model_dir)!r} has no config.json; expected a tokenizer folder"
        )
    class_name = json.loads(config_path.read_text()).get("_class_name")
    if class_name not in TOKENIZER_CLASSES:
        raise ValueError(
            f"model_dir: {str(model_dir)!r} holds a {class_name!r}; expected one of "
            f"{sorted(TOKENIZER_CLASSES)}"
        )
    return TOKENIZER_CLASSES[class_name].from_pretrained(str(model_dir)).to(device).eval()


def _per_image_psnr(reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """PSNR (dB) of each image, both in [-1, 1], measured on [0, 1] pixels."""
    mse = ((reconstruction - target) / 2).pow(2).flatten(1).mean(1)
    return -10 * torch.log10(mse.clamp_min(1e-10))


def _flat_codes(codes: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
    if isinstance(codes, list):
        return torch.cat([c.flatten() for c in codes])
    return codes.flatten()


@torch.no_grad()
def tokenizer_metrics(
    tokenizer: ImageTokenizer, images: Dataset, batch_size: int = 64
) -> dict[str, Any]:
    """The module's figures for ``tokenizer`` over ``images`` (items start with a tensor)."""
    was_training = tokenizer.training
    tokenizer.eval()
    device = tokenizer.device
    used = torch.zeros(tokenizer.vocab_size, dtype=torch.bool, device=device)
    psnr_sum = ssim_sum = 0.0
    count = 0
    seconds = 0.0
    multiscale = isinstance(tokenizer, MultiScaleVQTokenizer)
    by_scale = [0.0] * len(tokenizer.scales) if multiscale else []
    tokens_per_image = 0
    for batch in DataLoader(images, batch_size=batch_size, shuffle=False):
        target = (batch[0] if isinstance(batch, (list, tuple)) else batch).to(device)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        codes = tokenizer.encode(target)
        reconstruction = tokenizer.decode(codes)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds += time.perf_counter() - start
        flat = _flat_codes(codes)
        used[flat] = True
        tokens_per_image = flat.numel() // target.shape[0]
        psnr_sum += _per_image_psnr(reconstruction, target).sum().item()
        ssim = structural_similarity_index_measure(
            (reconstruction.float() + 1) / 2,
            (target.float() + 1) / 2,
            data_range=1.0,
            reduction="none",
        )
        ssim_sum += ssim.sum().item()
        for k in range(len(by_scale)):
            prefix = tokenizer.decode(codes[: k + 1])
            by_scale[k] += _per_image_psnr(prefix, target).sum().item()
        count += target.shape[0]
    tokenizer.train(was_training)
    if count == 0:
        raise ValueError("images: the evaluation set is empty")
    results: dict[str, Any] = {
        "psnr": psnr_sum / count,
        "ssim": ssim_sum / count,
        "codebook_usage_percent": 100.0 * used.sum().item() / tokenizer.vocab_size,
        "tokens_per_image": tokens_per_image,
        "vocab_size": tokenizer.vocab_size,
        "images_per_second": count / seconds if seconds > 0 else math.inf,
        "num_images": count,
    }
    if multiscale:
        results["psnr_by_scale"] = [value / count for value in by_scale]
    return results


def _dataset(data_dir: Path, split: str | None, image_size: int | None) -> Dataset:
    if not data_dir.is_dir():
        raise ValueError(f"data_dir: {str(data_dir)!r} is not a folder of images")
    if any(data_dir.glob("emoji_u*.png")):
        return NotoEmojiDataset(data_dir, split or "heldout", image_size=image_size)
    if split is not None:
        raise ValueError(
            f"split: only Noto emoji folders have splits; {str(data_dir)!r} is a plain image folder"
        )
    return ImageFolderDataset(data_dir, image_size=image_size)


def evaluate_tokenizer(
    model_dir: str | Path,
    data_dir: str | Path,
    split: str | None = None,
    image_size: int | None = None,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    output_path: str | Path | None = None,
) -> dict[str, Any]:
    """Evaluate the tokenizer in ``model_dir`` on the images in ``data_dir``.

    ``data_dir`` is a Noto emoji folder (``emoji_u*.png``; ``split`` picks ``"heldout"`` (the
    default), ``"train"`` or ``"all"``) or any image folder (see
    :class:`~omniar.data.images.ImageFolderDataset`; no split). ``image_size`` resizes images to
    that square size first (e.g. 32 for ``noto-emoji/png72``). The figures (see module
    docstring) and the settings are returned and, when ``output_path`` is given, written there
    as JSON.
    """
    tokenizer = load_image_tokenizer(model_dir, device)
    data_dir = Path(data_dir)
    dataset = _dataset(data_dir, split, image_size)
    results = {
        "model": str(model_dir),
        "tokenizer_class": type(tokenizer).__name__,
        "data": str(data_dir),
        "split": getattr(dataset, "split", None),
        "image_size": image_size,
        "device": str(tokenizer.device),
        **tokenizer_metrics(tokenizer, dataset, batch_size),
    }
    if output_path is not None:
        output_path = Path(output_path)
        output_path.parent.mkdir(parents=True, exist_ok=True)
        output_path.write_text(json.dumps(results, indent=2) + "\n")
    return results
