"""Reconstruction quality and speed of an image tokenizer (``omniar eval tokenizer``).

Figures, over the images of each group and over all of them:

- ``psnr``: mean per-image PSNR in dB of decode(encode(x)) against x, pixels in [0, 1];
- ``ssim``: mean SSIM (torchmetrics, 11x11 Gaussian window, data range 1);
- ``codebook_usage_percent``: distinct codes seen in all tokens of the images / vocab_size * 100;
- ``psnr_by_scale`` (multi-scale only): PSNR when decoding the first k scales, k = 1..K;

and, over all images, ``tokens_per_image`` (all scales for the multi-scale tokenizer) and
``images_per_second`` (encode + decode throughput, data loading excluded).

Every file of the data folder is scored or reported: files that are not readable images stop
the evaluation with an error naming them, or, with ``skip_corrupt=True``, are left out and
listed in the report's ``skipped``.

Groups (``group_by``, one or more of ``GROUP_KEYS``; several keys are crossed, "a / b"):

- ``split`` (default): Noto emoji files (``emoji_u<hex>.png``) by the Noto split of
  :mod:`omniar.data.emoji` (``train`` or ``heldout``: in-domain and held-out emoji for the
  shipped tokenizers, which trained on the train split), other files by their folder;
- ``folder``: the sub-folder of the data folder a file is in;
- ``unicode-block``: the Unicode block of the emoji a file name names (Noto, Twemoji or
  OpenMoji names; :func:`~omniar.data.emoji.unicode_block`), e.g. "Emoticons";
- ``category``: the kind of emoji sequence (:func:`~omniar.data.emoji.emoji_category`).

Files whose names name no emoji get ``NO_EMOJI`` for the last two. Per group: ``n``, ``psnr``,
``ssim``, ``codebook_usage_percent`` (codes used by the group's images; a group of fewer tokens
than codes cannot reach 100%, see ``max_usage_percent``), ``code_perplexity`` (exp of the entropy
of the group's code histogram: how many codes it uses effectively) and, multi-scale only,
``psnr_by_scale`` and ``codebook_usage_by_scale``.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Subset
from torchmetrics.functional.image import structural_similarity_index_measure
from tqdm.auto import tqdm

from omniar.data.emoji import (
    SPLITS,
    code_points_from_file_name,
    code_points_from_name,
    emoji_category,
    is_heldout,
    unicode_block,
)
from omniar.data.images import ImageFolderDataset
from omniar.errors import OmniarError, bad_value
from omniar.eval.model_folder import model_folder
from omniar.eval.report import ALL, EvalReport, skipped_item
from omniar.tokenizers.image_vq import ImageVQTokenizer
from omniar.tokenizers.multiscale_vq import MultiScaleVQTokenizer

TOKENIZER_CLASSES = {cls.__name__: cls for cls in (ImageVQTokenizer, MultiScaleVQTokenizer)}
ImageTokenizer = ImageVQTokenizer | MultiScaleVQTokenizer
TOP_FOLDER = "(top folder)"
NO_EMOJI = "(no emoji name)"
GROUP_KEYS = ("split", "folder", "unicode-block", "category")


def load_image_tokenizer(
    model: str | Path, device: str | torch.device = "cpu"
) -> ImageTokenizer:
    """Load an image tokenizer, given as a folder (config.json + safetensors) or an embedded
    name such as ``emoji-vq``, of either class, in eval mode."""
    folder = model_folder(model, "model", kinds=sorted(TOKENIZER_CLASSES))
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise OmniarError(
            f"model_dir: {str(folder)!r} has no config.json; expected a tokenizer folder"
        )
    class_name = json.loads(config_path.read_text()).get("_class_name")
    if class_name not in TOKENIZER_CLASSES:
        raise OmniarError(
            f"model_dir: {str(folder)!r} holds a {class_name!r}; expected one of "
            f"{sorted(TOKENIZER_CLASSES)}"
        )
    return TOKENIZER_CLASSES[class_name].from_pretrained(str(folder)).to(device).eval()


def _per_image_psnr(reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """PSNR (dB) of each image, both in [-1, 1], measured on [0, 1] pixels."""
    mse = ((reconstruction - target) / 2).pow(2).flatten(1).mean(1)
    return -10 * torch.log10(mse.clamp_min(1e-10))


def _codes_per_image(codes: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
    """(B, tokens) codes of each image, all scales concatenated for the multi-scale tokenizer."""
    if isinstance(codes, list):
        return torch.cat([c.flatten(1) for c in codes], dim=1)
    return codes.flatten(1)


@torch.no_grad()
def per_image_figures(
    tokenizer: ImageTokenizer, images: Dataset, batch_size: int = 64, progress: bool = False
) -> dict[str, Any]:
    """PSNR, SSIM, PSNR per scale prefix and the codes of every image, plus the timing.

    Returns ``{"psnr": (N,), "ssim": (N,), "psnr_by_scale": (N, K) or None, "codes": (N,
    tokens), "seconds": encode + decode time}``; items of ``images`` start with a tensor.
    """
    was_training = tokenizer.training
    tokenizer.eval()
    device = tokenizer.device
    multiscale = isinstance(tokenizer, MultiScaleVQTokenizer)
    psnr, ssim, by_scale, codes_seen = [], [], [], []
    seconds = 0.0
    batches = DataLoader(images, batch_size=batch_size, shuffle=False)
    for batch in tqdm(batches, desc="encode + decode", disable=not progress, leave=False):
        target = (batch[0] if isinstance(batch, (list, tuple)) else batch).to(device)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        codes = tokenizer.encode(target)
        reconstruction = tokenizer.decode(codes)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds += time.perf_counter() - start
        codes_seen.append(_codes_per_image(codes).cpu())
        psnr.append(_per_image_psnr(reconstruction, target).cpu())
        ssim.append(
            structural_similarity_index_measure(
                (reconstruction.float() + 1) / 2,
                (target.float() + 1) / 2,
                data_range=1.0,
                reduction="none",
            ).cpu()
        )
        if multiscale:
            prefixes = [tokenizer.decode(codes[: k + 1]) for k in range(len(tokenizer.scales))]
            by_scale.append(torch.stack([_per_image_psnr(p, target) for p in prefixes], 1).cpu())
    tokenizer.train(was_training)
    if not psnr:
        raise OmniarError("images: the evaluation set is empty")
    return {
        "psnr": torch.cat(psnr),
        "ssim": torch.cat(ssim),
        "psnr_by_scale": torch.cat(by_scale) if multiscale else None,
        "codes": torch.cat(codes_seen),
        "seconds": seconds,
    }


def code_perplexity(codes: torch.Tensor, vocab_size: int) -> float:
    """exp(entropy) of the histogram of ``codes``: the number of equally used codes that would
    give the same entropy (``vocab_size`` when all are used equally often)."""
    counts = torch.bincount(codes.flatten().long(), minlength=vocab_size).double()
    p = counts[counts > 0] / counts.sum()
    return float(torch.exp(-(p * p.log()).sum()))


def summarize(
    figures: dict[str, Any],
    vocab_size: int,
    rows: torch.Tensor | None = None,
    scale_tokens: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Mean figures (module docstring) of the images at ``rows`` (default: all of them);
    ``scale_tokens``: tokens per scale, for the multi-scale tokenizer's usage per scale."""
    pick = slice(None) if rows is None else rows
    psnr = figures["psnr"][pick]
    codes = figures["codes"][pick]
    used = torch.unique(codes).numel()
    out: dict[str, Any] = {
        "n": int(psnr.numel()),
        "psnr": float(psnr.mean()),
        "ssim": float(figures["ssim"][pick].mean()),
        "codebook_usage_percent": 100.0 * used / vocab_size,
        "max_usage_percent": 100.0 * min(1.0, codes.numel() / vocab_size),
        "code_perplexity": code_perplexity(codes, vocab_size),
    }
    if figures["psnr_by_scale"] is not None:
        out["psnr_by_scale"] = figures["psnr_by_scale"][pick].mean(0).tolist()
    if scale_tokens:
        parts = codes.split(list(scale_tokens), dim=1)
        out["codebook_usage_by_scale"] = [
            100.0 * torch.unique(part).numel() / vocab_size for part in parts
        ]
    return out


def tokenizer_metrics(
    tokenizer: ImageTokenizer, images: Dataset, batch_size: int = 64
) -> dict[str, Any]:
    """The module's figures for ``tokenizer`` over all of ``images`` (items start with a tensor):
    ``psnr``, ``ssim``, ``codebook_usage_percent``, ``tokens_per_image``, ``vocab_size``,
    ``images_per_second``, ``num_images`` and, multi-scale only, ``psnr_by_scale``."""
    figures = per_image_figures(tokenizer, images, batch_size)
    return _overall(figures, tokenizer.vocab_size)


def _overall(figures: dict[str, Any], vocab_size: int) -> dict[str, Any]:
    out = summarize(figures, vocab_size)
    count = out.pop("n")
    seconds = figures["seconds"]
    out.update(
        tokens_per_image=int(figures["codes"].shape[1]),
        vocab_size=vocab_size,
        images_per_second=count / seconds if seconds > 0 else math.inf,
        num_images=count,
    )
    return out


def _folder(relative: Path) -> str:
    return relative.parent.as_posix() if relative.parent != Path(".") else TOP_FOLDER


def image_group(relative: Path, group_by: str | Sequence[str] = "split") -> str:
    """The group of an image file (module docstring) from its path relative to the data folder;
    ``group_by``: one key of ``GROUP_KEYS`` or several (crossed, joined by " / ")."""
    keys = [group_by] if isinstance(group_by, str) else list(group_by)
    names = []
    for key in keys:
        if key == "split":
            try:
                points = code_points_from_file_name(relative.name)
            except ValueError:
                names.append(_folder(relative))
                continue
            names.append("heldout" if is_heldout(points) else "train")
        elif key == "folder":
            names.append(_folder(relative))
        elif key in ("unicode-block", "category"):
            found = code_points_from_name(relative.name)
            if found is None:
                names.append(NO_EMOJI)
            else:
                names.append(unicode_block(found) if key == "unicode-block" else emoji_category(found))
        else:
            raise bad_value("group_by", key, f"one or more of {GROUP_KEYS}")
    return " / ".join(names)


def check_group_by(group_by: str | Sequence[str]) -> tuple[str, ...]:
    """``group_by`` as a tuple of known, distinct keys; OmniarError otherwise."""
    keys = (group_by,) if isinstance(group_by, str) else tuple(group_by)
    unknown = [key for key in keys if key not in GROUP_KEYS]
    if not keys or unknown or len(set(keys)) != len(keys):
        raise bad_value("group_by", list(keys), f"one or more distinct keys of {GROUP_KEYS}")
    return keys


def _check_sizes(paths: Sequence[Path], data_dir: Path) -> None:
    """Refuse images of different sizes (they cannot be batched) before any work is done."""
    seen: dict[tuple[int, int], Path] = {}
    for path in paths:
        with Image.open(path) as image:
            seen.setdefault(image.size, path)
        if len(seen) > 1:
            (size_a, a), (size_b, b) = list(seen.items())[:2]
            raise OmniarError(
                f"data: images in {str(data_dir)!r} differ in size ({a.name} is {size_a[0]}x"
                f"{size_a[1]}, {b.name} is {size_b[0]}x{size_b[1]}); pass image_size "
                "(--image-size) to resize them all to one square size"
            )


def image_set(
    data_dir: str | Path,
    split: str | None = None,
    image_size: int | None = None,
    skip_corrupt: bool = False,
    group_by: str | Sequence[str] = "split",
) -> tuple[Dataset, list[str], list[dict[str, str]], int]:
    """The images of ``data_dir`` to score, their groups, the skipped files and how many readable
    files ``split`` left out.

    Every file under ``data_dir`` (sub-folders included, hidden files and ``metadata.jsonl``
    excepted) must be a readable image; otherwise an OmniarError names the files, unless
    ``skip_corrupt``, which leaves them out and lists them. ``split`` ("train", "heldout" or
    "all") keeps only the Noto emoji files of that split; None keeps every image. ``group_by``:
    see :func:`image_group`.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise bad_value("data", str(data_dir), "a folder of images")
    if split is not None and split not in SPLITS:
        raise bad_value("split", split, f"one of {SPLITS} (Noto emoji folders) or none")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = ImageFolderDataset(data_dir, image_size=image_size, skip_bad_files=True)
    skipped = [
        skipped_item(path.relative_to(data_dir), problem) for path, problem in dataset.skipped
    ]
    if skipped and not skip_corrupt:
        names = ", ".join(f"{item['file']} ({item['reason']})" for item in skipped[:3])
        more = f" and {len(skipped) - 3} more" if len(skipped) > 3 else ""
        raise OmniarError(
            f"data: {len(skipped)} file(s) in {str(data_dir)!r} are not readable images: "
            f"{names}{more}; remove them or pass skip_corrupt=True (--skip-corrupt) to leave "
            "them out and list them in the report"
        )
    keys = check_group_by(group_by)
    relative = [path.relative_to(data_dir) for path in dataset.paths]
    groups = [image_group(path, keys) for path in relative]
    keep = list(range(len(groups)))
    if split is not None:
        splits = [image_group(path, "split") for path in relative]
        if not {"train", "heldout"} & set(splits):
            raise OmniarError(
                f"split: only Noto emoji folders (emoji_u<hex>.png files) have splits; "
                f"{str(data_dir)!r} has none"
            )
        wanted = {"train", "heldout"} if split == "all" else {split}
        keep = [i for i in keep if splits[i] in wanted]
    if image_size is None:
        _check_sizes([dataset.paths[i] for i in keep], data_dir)
    return Subset(dataset, keep), [groups[i] for i in keep], skipped, len(groups) - len(keep)


def evaluate_tokenizer(
    model: str | Path,
    data_dir: str | Path,
    split: str | None = None,
    image_size: int | None = None,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    output_path: str | Path | None = None,
    skip_corrupt: bool = False,
    progress: bool = False,
    group_by: str | Sequence[str] = "split",
) -> dict[str, Any]:
    """Evaluate the tokenizer ``model`` (a folder or an embedded name) on the images in
    ``data_dir``.

    Every image of the folder is scored (see :func:`image_set` for ``split`` and
    ``skip_corrupt``). ``image_size`` resizes images to that square size first (e.g. 32 for
    ``noto-emoji/png72``). ``group_by``: the key(s) the per-group rows are formed by
    (module docstring; default the Noto split). Returns the :class:`~omniar.eval.report.EvalReport` dict: figures
    per group and over all images (module docstring), the skipped files and the settings;
    with ``output_path`` it is also written there as JSON.
    """
    if batch_size < 1:
        raise bad_value("batch_size", batch_size, "a positive number of images")
    keys = check_group_by(group_by)
    tokenizer = load_image_tokenizer(model, device)
    dataset, groups, skipped, excluded = image_set(data_dir, split, image_size, skip_corrupt, keys)
    figures = per_image_figures(tokenizer, dataset, batch_size, progress)
    scale_tokens = (
        [s * s for s in tokenizer.scales] if isinstance(tokenizer, MultiScaleVQTokenizer) else None
    )
    overall = _overall(figures, tokenizer.vocab_size)
    rows: dict[str, dict[str, Any]] = {
        ALL: {
            "n": overall["num_images"],
            **{k: v for k, v in overall.items() if k not in ("num_images", "vocab_size")},
            **summarize(figures, tokenizer.vocab_size, None, scale_tokens),
        }
    }
    names = sorted(set(groups))
    if len(names) > 1:
        for name in names:
            picked = torch.tensor([i for i, group in enumerate(groups) if group == name])
            rows[name] = summarize(figures, tokenizer.vocab_size, picked, scale_tokens)
    report = EvalReport(
        model=str(model),
        data=str(data_dir),
        n=overall["num_images"],
        groups=rows,
        skipped=skipped,
        settings={
            "tokenizer_class": type(tokenizer).__name__,
            "vocab_size": tokenizer.vocab_size,
            "split": split,
            "group_by": list(keys),
            "image_size": image_size,
            "batch_size": batch_size,
            "device": str(tokenizer.device),
        },
        details={"excluded_by_split": excluded},
    )
    if output_path is not None:
        report.write_json(output_path)
    return report.as_dict()
