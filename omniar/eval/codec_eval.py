"""Audio codec evaluation on FSDD (``omniar eval audio-codec``): quality per bitrate and group.

Every recording of the chosen takes is encoded once and decoded from each prefix of the codec's
codebooks (default: every prefix 1..K). Per number of codebooks (bitrate) over all clips: mean
mel distance (dB), mean SI-SNR (dB) and, with a digit classifier, its accuracy on the
reconstructions next to its accuracy on the originals. Per group, at the highest bitrate
evaluated: the same figures for each speaker and for each take split (takes 0-4, the data set's
usual test split, which the shipped codec and classifier never saw in training, and takes 5-49,
which they were trained on), so in-domain and held-out clips can be compared. Also the encode /
decode real-time factor on ~10 s of audio on this machine.

All takes are scored by default (2,500 clips for the full FSDD, a few minutes on a laptop CPU,
with a progress bar); ``split`` picks one take split and ``limit`` an evenly spaced subset.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from omniar.data.fsdd import SPLITS, TEST_TAKES, FSDDDataset
from omniar.errors import bad_value
from omniar.eval.audio_metrics import clip_quality, real_time_factor, reconstruct
from omniar.eval.digit_classifier import DigitClassifier
from omniar.eval.report import ALL, EvalReport, grouped_means

TEST_GROUP = "takes 0-4 (test)"
TRAIN_GROUP = "takes 5-49 (train)"


def take_group(take: int) -> str:
    """The take-split group of a recording: held-out test takes or training takes."""
    return TEST_GROUP if take in TEST_TAKES else TRAIN_GROUP


def evenly_spaced(count: int, limit: int | None) -> list[int]:
    """``limit`` indices spread evenly over ``range(count)`` (all of them when None or larger)."""
    if limit is None or limit >= count:
        return list(range(count))
    if limit < 1:
        raise bad_value("limit", limit, "a positive number of clips, or None for all")
    return np.linspace(0, count - 1, limit).round().astype(int).tolist()


def _correct(
    classifier: DigitClassifier, clips: Sequence[torch.Tensor], digits: torch.Tensor, rate: int
) -> torch.Tensor:
    """1.0 where the classifier names the clip's digit, else 0.0 (silent clips allowed)."""
    return (classifier.predict(list(clips), rate, allow_silent=True) == digits).float()


@torch.no_grad()
def evaluate_codec(
    codec_dir: str | Path,
    data_root: str | Path,
    classifier_dir: str | Path | None = None,
    num_quantizers: Sequence[int] | None = None,
    device: str | torch.device = "cpu",
    split: str = "all",
    limit: int | None = None,
    output_path: str | Path | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Evaluate a saved ``AudioCodecTokenizer`` on the FSDD recordings of ``split``.

    ``split``: "all" takes (default), "test" (takes 0-4) or "train" (takes 5-49); ``limit``:
    an evenly spaced subset of that many clips. Returns the
    :class:`~omniar.eval.report.EvalReport` dict (module docstring): groups at the highest
    number of codebooks evaluated, ``details["per_num_quantizers"]`` with the figures of
    every bitrate over all clips, and ``details["speed"]``. With ``output_path`` the report is
    also written there as JSON.
    """
    from omniar.tokenizers.audio_codec import AudioCodecTokenizer

    if split not in SPLITS:
        raise bad_value("split", split, f"one of {SPLITS}")
    codec = AudioCodecTokenizer.from_pretrained(str(codec_dir)).to(device).eval()
    data = FSDDDataset(data_root, split=split, sample_rate=codec.sample_rate)
    indices = evenly_spaced(len(data), limit)
    recordings = [data.recordings[i] for i in indices]
    clips = [data.load(i) for i in tqdm(indices, desc="reading", disable=not progress, leave=False)]
    counts = sorted(set(num_quantizers or range(1, codec.num_quantizers + 1)))
    if counts[0] < 1 or counts[-1] > codec.num_quantizers:
        raise bad_value("num_quantizers", counts, f"counts between 1 and {codec.num_quantizers}")

    recon = reconstruct(codec, clips, counts, progress=progress)
    quality = {n: clip_quality(clips, recon[n], codec.sample_rate) for n in counts}
    per_count: dict[int, dict[str, float]] = {
        n: {"bitrate_bps": codec.bitrate(n), **{k: float(v.mean()) for k, v in quality[n].items()}}
        for n in counts
    }
    top = counts[-1]
    per_clip: dict[str, Any] = {key: values.numpy() for key, values in quality[top].items()}
    settings: dict[str, Any] = {
        "split": split,
        "limit": limit,
        "num_quantizers": counts,
        "group_num_quantizers": top,
        "group_bitrate_bps": codec.bitrate(top),
        "sample_rate": codec.sample_rate,
        "frame_rate": codec.frame_rate,
        "codebook_size": codec.codebook_size,
        "device": str(device),
    }
    if classifier_dir is not None:
        classifier = DigitClassifier.from_pretrained(str(classifier_dir)).to(device).eval()
        digits = torch.tensor([r.digit for r in recordings])
        original = _correct(classifier, clips, digits, codec.sample_rate)
        settings["classifier"] = str(classifier_dir)
        for n in tqdm(counts, desc="classifying", disable=not progress, leave=False):
            correct = _correct(classifier, recon[n], digits, codec.sample_rate)
            per_count[n]["accuracy"] = float(correct.mean())
            per_count[n]["original_accuracy"] = float(original.mean())
            per_count[n]["relative_accuracy"] = _ratio(correct.mean(), original.mean())
            if n == top:
                per_clip["accuracy"] = correct.numpy()
                per_clip["original_accuracy"] = original.numpy()
    groups = grouped_means(per_clip, [f"speaker {r.speaker}" for r in recordings])
    by_take = grouped_means(per_clip, [take_group(r.take) for r in recordings])
    groups.update({name: row for name, row in by_take.items() if name != ALL})
    if classifier_dir is not None:
        for row in groups.values():
            row["relative_accuracy"] = _ratio(row["accuracy"], row["original_accuracy"])
    long_clip = torch.cat(clips)[: 10 * codec.sample_rate]
    report = EvalReport(
        model=str(codec_dir),
        data=str(data_root),
        n=len(clips),
        groups=groups,
        settings=settings,
        details={"per_num_quantizers": per_count, "speed": real_time_factor(codec, long_clip.to(device))},
    )
    if output_path is not None:
        report.write_json(output_path)
    return report.as_dict()


def _ratio(accuracy: float | torch.Tensor, original: float | torch.Tensor) -> float:
    """Accuracy on reconstructions relative to the originals (NaN when the originals score 0)."""
    return float(accuracy) / float(original) if float(original) > 0 else float("nan")
