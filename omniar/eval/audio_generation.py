"""How recognisable generated audio is: the digit classifier's accuracy on generated clips.

`evaluate_generation` asks an `AudioPipeline` for `num_per_class` clips of every class, with the
speakers taken in turn, and lets a `DigitClassifier` (trained on real FSDD takes) name them.
Accuracy per class and overall, with the clips' durations and the decoding cost, is the
generation figure of the spoken-digit model card (the issue's target: >= 80% with guidance).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from omniar.eval.digit_classifier import DigitClassifier


def class_accuracy(
    predicted: Sequence[int], expected: Sequence[int], names: Sequence[str]
) -> tuple[float, dict[str, float]]:
    """Overall accuracy and accuracy per class name (classes without samples are left out)."""
    predicted, expected = np.asarray(predicted), np.asarray(expected)
    per_class = {
        name: float((predicted[expected == i] == i).mean())
        for i, name in enumerate(names)
        if (expected == i).any()
    }
    return float((predicted == expected).mean()), per_class


def evaluate_generation(
    pipe: Any,
    classifier: DigitClassifier,
    num_per_class: int = 10,
    seed: int = 0,
    batch_size: int = 100,
    **sampling: Any,
) -> tuple[dict[str, Any], Any]:
    """Generate `num_per_class` clips per class and score them with `classifier`.

    `sampling` goes to the pipeline call (preset, guidance_scale, temperature, top_k, ...).
    Returns the report and the pipeline output (its clips are ordered class by class).
    """
    if num_per_class < 1:
        raise ValueError(f"num_per_class must be >= 1, got {num_per_class}")
    names = pipe.class_names
    if len(names) != classifier.config.num_classes:
        raise ValueError(
            f"the classifier knows {classifier.config.num_classes} classes, the "
            f"pipeline {len(names)} ({names})"
        )
    prompts = [name for name in names for _ in range(num_per_class)]
    speakers = [pipe.speakers[i % len(pipe.speakers)] for i in range(len(prompts))]
    generator = torch.Generator(pipe.transformer.device).manual_seed(seed)
    out = pipe(prompts, speaker=speakers, generator=generator, batch_size=batch_size, **sampling)
    predicted = classifier.predict(out.audios, out.sample_rate, allow_silent=True).tolist()
    expected = [names.index(name) for name in prompts]
    accuracy, per_class = class_accuracy(predicted, expected, names)
    report = {
        "accuracy": accuracy,
        "per_class": per_class,
        "num_per_class": num_per_class,
        "seed": seed,
        "mean_duration_s": out.stats["mean_duration_s"],
        "ended_fraction": out.stats["ended_fraction"],
        "sampling": out.stats["sampling"],
        "seconds": out.stats["seconds"],
        "real_time_factor": out.stats["real_time_factor"],
    }
    return report, out
