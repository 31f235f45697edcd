"""Evaluate a text-to-image model on emoji: prompt fidelity, FID on emoji, speed.

`evaluate_image_model` samples a fixed, seeded list of prompts from the captions of the Noto
emoji training split and of the held-out split, generates images for them, and reports per
caption set (and over both):

- prompt fidelity top-1 / top-5 (`omniar.eval.image_fidelity`): the share of images whose
  prompted emoji is among the k real emoji (of all 3,583, training and held-out) nearest to it;
- FID on emoji (`omniar.eval.image_fid`) of the generated images against all real emoji, with
  ``fid_on_emoji_floor``: the FID of the prompted emoji's own real images (one per prompt)
  against the same reference, i.e. what a perfect model would score at this sample size (FID
  has a large small-sample bias; compare FIDs only at equal sample sizes);
- images/s (wall time of the pipeline call: text encoding, decoding and VQ decoding) and
  forward passes per image;
- the sampling settings used (the model's preset unless overridden).
"""

from __future__ import annotations

import platform
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from omniar.data.emoji import NotoEmojiDataset, is_heldout
from omniar.eval.image_fidelity import EmojiRetrieval, top_k_rates

CAPTION_SETS = ("train", "heldout")
PROMPT_CHOICES = ("train", "heldout", "both")
STAT_KEYS = (
    "order",
    "decoding",
    "temperature",
    "top_k",
    "top_p",
    "min_p",
    "guidance_scale",
    "guidance_schedule",
)


def emoji_folder(data_root: str | Path) -> Path:
    """``data_root/noto-emoji/png32``, or ``data_root`` itself when it holds ``emoji_u*.png``."""
    root = Path(data_root)
    for folder in (root / "noto-emoji" / "png32", root):
        if folder.is_dir() and next(folder.glob("emoji_u*.png"), None) is not None:
            return folder
    raise ValueError(
        f"data_root: no emoji_u*.png files in {root / 'noto-emoji' / 'png32'} or {root}"
    )


def sample_prompts(captions: list[str], num_prompts: int | None, seed: int) -> list[str]:
    """A seeded sample of ``num_prompts`` distinct captions (all of them, sorted, when None)."""
    distinct = sorted(set(captions))
    if num_prompts is None:
        return distinct
    if not 1 <= num_prompts <= len(distinct):
        raise ValueError(
            f"num_prompts must be between 1 and {len(distinct)} (the distinct "
            f"captions of this split), got {num_prompts}"
        )
    return random.Random(seed).sample(distinct, num_prompts)


def _caption_sets(prompts: str) -> tuple[str, ...]:
    if prompts not in PROMPT_CHOICES:
        raise ValueError(f"prompts must be one of {PROMPT_CHOICES}, got {prompts!r}")
    return CAPTION_SETS if prompts == "both" else (prompts,)


def _captions_by_set(real: NotoEmojiDataset) -> dict[str, list[str]]:
    sets: dict[str, list[str]] = {name: [] for name in CAPTION_SETS}
    for caption, points in zip(real.captions, real.code_points):
        sets["heldout" if is_heldout(points) else "train"].append(caption)
    return sets


def _load(model: Any, device: str | None):
    if isinstance(model, (str, Path)):
        from omniar.loading import load

        model = load(str(model), device=device)
    elif device:
        model = model.to(device)
    if not getattr(model, "is_text_conditional", False):
        raise ValueError("model: prompt fidelity needs a text-conditional ImagePipeline")
    return model


def _generate(pipe, prompts: list[str], images_per_prompt: int, seed: int, sampling: dict):
    generator = torch.Generator(device=pipe.device).manual_seed(seed)
    start = time.perf_counter()
    output = pipe(
        prompt=prompts,
        num_images_per_prompt=images_per_prompt,
        generator=generator,
        output_type="pt",
        **sampling,
    )
    seconds = time.perf_counter() - start
    return output.images.float().cpu(), output.stats, seconds


def evaluate_image_model(
    model: Any,
    data_root: str | Path,
    prompts: str = "both",
    num_prompts: int | None = 100,
    images_per_prompt: int = 1,
    seed: int = 0,
    order: str | None = None,
    decoding: str = "sequential",
    batch_size: int = 16,
    prompt_seed: int = 0,
    fid: bool = True,
    fid_cache_dir: str | Path | None = "auto",
    inception: Any = None,
    device: str | None = None,
    progress: bool = False,
    **sampling: Any,
) -> dict[str, Any]:
    """Generate images for seeded emoji prompts and measure fidelity, FID on emoji and speed.

    Args:
        model: an ImagePipeline, an embedded model name or a saved pipeline folder.
        data_root: the shared data folder (with ``noto-emoji/png32``) or the png32 folder.
        prompts: "train", "heldout" or "both" caption sets.
        num_prompts: distinct captions per set (None: every caption of the set).
        images_per_prompt: images generated per prompt.
        seed: generation seed (one generator per caption set, seeded with it).
        order, decoding, batch_size: passed to the pipeline (order None: the model's default).
        prompt_seed: seed of the prompt sample, kept apart from ``seed`` so that changing the
            generation seed keeps the prompts.
        fid: compute FID on emoji (needs the ``eval`` extra); False skips it.
        fid_cache_dir: where the real emoji's Inception features are cached ("auto": the
            default cache, None: no cache).
        inception: an `InceptionFeatures` to reuse across evaluations (default: a new one).
        device: move the pipeline (and Inception) there.
        progress: show progress bars.
        **sampling: pipeline sampling arguments (guidance_scale, temperature, top_k, top_p,
            preset, ...); None values fall back to the model's preset.

    Returns a JSON-ready dict: ``settings``, ``caption_sets`` (figures per set), ``overall``,
    ``fid_reference``, ``prompts`` and ``samples`` (set, prompt, rank of the prompted emoji,
    caption of the nearest real emoji).
    """
    sets = _caption_sets(prompts)
    if images_per_prompt < 1:
        raise ValueError(f"images_per_prompt must be >= 1, got {images_per_prompt}")
    folder = emoji_folder(data_root)
    real = NotoEmojiDataset(folder, split="all", image_size=32)
    real_images = (real.images + 1) / 2
    retrieval = EmojiRetrieval(real_images, real.captions)
    captions = _captions_by_set(real)
    chosen = {name: sample_prompts(captions[name], num_prompts, prompt_seed) for name in sets}
    pipe = _load(model, device)
    pipe.set_progress_bar_config(disable=not progress, leave=False)
    call = {
        "order": order,
        "decoding": decoding,
        "batch_size": batch_size,
        **{key: value for key, value in sampling.items() if value is not None},
    }

    figures: dict[str, dict[str, Any]] = {}
    generated: dict[str, torch.Tensor] = {}
    all_ranks, samples, stats = [], [], {}
    for name in sets:
        images, stats, seconds = _generate(pipe, chosen[name], images_per_prompt, seed, call)
        repeated = [p for p in chosen[name] for _ in range(images_per_prompt)]
        ranks = retrieval.ranks(images, repeated)
        nearest = retrieval.nearest_captions(images)
        generated[name] = images
        all_ranks.append(ranks)
        samples += [
            {"set": name, "prompt": p, "rank": int(r), "nearest": n}
            for p, r, n in zip(repeated, ranks.tolist(), nearest)
        ]
        figures[name] = _speed_and_fidelity(
            ranks, images.shape[0], seconds, stats["forward_passes_per_image"], len(chosen[name])
        )
    overall = _speed_and_fidelity(
        torch.cat(all_ranks),
        sum(f["num_images"] for f in figures.values()),
        sum(f["seconds"] for f in figures.values()),
        float(np.mean([f["forward_passes_per_image"] for f in figures.values()])),
        sum(f["num_prompts"] for f in figures.values()),
    )
    results: dict[str, Any] = {"caption_sets": figures, "overall": overall}
    if fid:
        results["fid_reference"] = _add_fid(
            figures,
            overall,
            generated,
            chosen,
            retrieval,
            real_images,
            inception or pipe.device,
            fid_cache_dir,
            progress,
        )
    results["settings"] = {
        "model": str(model) if isinstance(model, (str, Path)) else type(model).__name__,
        "data": str(folder),
        "prompts": prompts,
        "num_prompts": num_prompts,
        "images_per_prompt": images_per_prompt,
        "seed": seed,
        "prompt_seed": prompt_seed,
        "batch_size": batch_size,
        "image_size": pipe.config.image_size,
        **{key: stats.get(key) for key in STAT_KEYS},
        "device": str(pipe.device),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "machine": platform.machine(),
    }
    results["prompts"] = chosen
    results["samples"] = samples
    return results


def _speed_and_fidelity(
    ranks: torch.Tensor, num_images: int, seconds: float, passes_per_image: float, num_prompts: int
) -> dict[str, Any]:
    return {
        "num_prompts": num_prompts,
        "num_images": num_images,
        **{f"fidelity_{key}": value for key, value in top_k_rates(ranks).items()},
        "images_per_second": num_images / seconds,
        "seconds": seconds,
        "forward_passes_per_image": passes_per_image,
    }


def _add_fid(
    figures, overall, generated, chosen, retrieval, real_images, inception, cache_dir, progress
) -> dict[str, Any]:
    """Add ``fid_on_emoji`` and its floor to every figure set; describe the reference."""
    from omniar.eval.image_fid import (
        FID_PACKAGE,
        FID_PACKAGE_VERSION,
        RESAMPLE_MODE,
        WEIGHTS_SHA256,
        InceptionFeatures,
        cached_features,
        default_cache_dir,
        frechet_distance,
    )

    extractor = (
        inception if isinstance(inception, InceptionFeatures) else InceptionFeatures(inception)
    )
    cache = default_cache_dir() if cache_dir == "auto" else cache_dir
    reference = cached_features(real_images, extractor, cache, progress=progress)
    features = {name: extractor(images, progress=progress) for name, images in generated.items()}
    prompted = {name: [retrieval.indices_of(p)[0] for p in chosen[name]] for name in generated}

    def score(target: dict[str, Any], feats: np.ndarray, rows: list[int]) -> None:
        target["fid_on_emoji"] = frechet_distance(feats, reference) if len(feats) > 1 else None
        target["fid_on_emoji_floor"] = (
            frechet_distance(reference[rows], reference) if len(rows) > 1 else None
        )

    for name in generated:
        score(figures[name], features[name], prompted[name])
    score(
        overall,
        np.concatenate(list(features.values())),
        [row for rows in prompted.values() for row in rows],
    )
    return {
        "label": "FID on emoji (Noto emoji reference; not comparable with ImageNet FID)",
        "reference_images": int(real_images.shape[0]),
        "reference_split": "all",
        "package": f"{FID_PACKAGE}=={FID_PACKAGE_VERSION}",
        "weights_sha256": WEIGHTS_SHA256,
        "resample": f"{RESAMPLE_MODE} to 299x299, 8-bit quantised",
        "floor": "FID of the prompted emoji's own real images (one per prompt) against the "
        "reference: a perfect model's score at this sample size",
    }
