"""Audio codec evaluation on FSDD (``omniar eval audio-codec``): quality per bitrate and group.

Every recording of the chosen takes is encoded once and decoded from each prefix of the codec's
codebooks (default: every prefix 1..K). Per number of codebooks (bitrate) over all clips: mean
mel distance (dB), mean SI-SNR (dB) and, with a digit classifier, its accuracy on the
reconstructions next to its accuracy on the originals. Per group, at the highest bitrate
evaluated: the same figures, and the worst digit's relative accuracy, for

- each speaker, marked "(trained)" or "(held out)": the codec trained on takes 5-49 of the five
  FSDD speakers less ``heldout_speakers`` (e.g. the speaker a leave-one-speaker-out recipe such
  as recipes/fsdd_codec_loso.yaml excludes); any other speaker name in the folder (a user's own
  ``{digit}_{name}_{take}.wav`` recordings) is held out too;
- the trained speakers' takes 5-49 (the clips the codec trained on: in-domain) and takes 0-4
  (the data set's usual test split: unseen clips of seen speakers);
- ``HELDOUT_GROUP``, all takes of the held-out speakers, when the folder has any: the
  out-of-domain row. Without one, the report says so (``settings["training_data"]``).

``details["per_digit"]`` gives each digit's accuracy on originals and reconstructions for all
clips and for the held-out speakers. Also the encode / decode real-time factor on ~10 s of
audio on this machine.

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

from omniar.data.fsdd import FSDD_SPEAKERS, SPLITS, TEST_TAKES, FSDDDataset, parse_speaker
from omniar.errors import bad_value
from omniar.eval.audio_metrics import clip_quality, real_time_factor, reconstruct
from omniar.eval.digit_classifier import DigitClassifier
from omniar.eval.report import ALL, EvalReport, grouped_means

TEST_GROUP = "takes 0-4 (test)"
TRAIN_GROUP = "takes 5-49 (train)"
HELDOUT_GROUP = "held-out speakers (all takes)"


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
    heldout_speakers: Sequence[str] = (),
) -> dict[str, Any]:
    """Evaluate a saved ``AudioCodecTokenizer`` on the FSDD recordings of ``split``.

    ``split``: "all" takes (default), "test" (takes 0-4) or "train" (takes 5-49); ``limit``:
    an evenly spaced subset of that many clips; ``heldout_speakers``: FSDD speakers the codec
    did not train on (module docstring). Returns the
    :class:`~omniar.eval.report.EvalReport` dict (module docstring): groups at the highest
    number of codebooks evaluated, ``details["per_num_quantizers"]`` with the figures of
    every bitrate over all clips, and ``details["speed"]``. With ``output_path`` the report is
    also written there as JSON.
    """
    from omniar.tokenizers.audio_codec import AudioCodecTokenizer

    if split not in SPLITS:
        raise bad_value("split", split, f"one of {SPLITS}")
    heldout = sorted({parse_speaker(name) for name in heldout_speakers})
    trained = [name for name in FSDD_SPEAKERS if name not in heldout]
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
        "training_data": training_data(trained, sorted({r.speaker for r in recordings})),
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
    seen = [r.speaker in trained for r in recordings]
    labels = [f"speaker {r.speaker} ({'trained' if s else 'held out'})" for r, s in zip(recordings, seen)]
    domain = [take_group(r.take) if s else HELDOUT_GROUP for r, s in zip(recordings, seen)]
    groups = grouped_means(per_clip, labels)
    by_domain = grouped_means(per_clip, domain)
    groups.update({name: row for name, row in by_domain.items() if name != ALL})
    if HELDOUT_GROUP in domain and len(set(domain)) == 1:
        groups[HELDOUT_GROUP] = dict(groups[ALL])
    members = {ALL: np.ones(len(recordings), dtype=bool)}
    for tags in (domain, labels):
        members.update({name: np.array(tags) == name for name in set(tags)})
    per_digit: dict[str, Any] = {}
    if classifier_dir is not None:
        digit_of = np.array([r.digit for r in recordings])
        for name, row in groups.items():
            row["relative_accuracy"] = _ratio(row["accuracy"], row["original_accuracy"])
            table = digit_table(per_clip, digit_of, members[name])
            ratios = [d["relative_accuracy"] for d in table.values()]
            ratios = [r for r in ratios if r == r]  # NaN: the originals of that digit all missed
            row["worst_digit_relative_accuracy"] = min(ratios) if ratios else float("nan")
            if name in (ALL, HELDOUT_GROUP):
                per_digit[name] = table
    long_clip = torch.cat(clips)[: 10 * codec.sample_rate]
    report = EvalReport(
        model=str(codec_dir),
        data=str(data_root),
        n=len(clips),
        groups=groups,
        settings=settings,
        details={
            "per_num_quantizers": per_count,
            "per_digit": per_digit,
            "speed": real_time_factor(codec, long_clip.to(device)),
        },
    )
    if output_path is not None:
        report.write_json(output_path)
    return report.as_dict()


def training_data(trained: Sequence[str], present: Sequence[str]) -> dict[str, Any]:
    """What the codec trained on, and which speakers of the scored folder it never heard."""
    heldout = [name for name in present if name not in trained]
    if heldout:
        note = f"held-out speakers in this folder: {', '.join(heldout)} (row {HELDOUT_GROUP!r})"
    else:
        note = (
            "no held-out speaker in this folder: the codec trained on every speaker scored here, "
            "so every row is in-domain (takes 0-4 are unseen clips of seen speakers)"
        )
    return {
        "speakers": list(trained),
        "takes": "5-49",
        "heldout_speakers_scored": heldout,
        "note": note,
    }


def digit_table(
    per_clip: dict[str, np.ndarray], digits: np.ndarray, mask: np.ndarray
) -> dict[int, dict[str, float]]:
    """Per digit among the clips in ``mask``: clips, accuracy on originals and reconstructions,
    and their ratio (the target: every digit >= 90% of its original accuracy)."""
    out = {}
    for digit in sorted(set(digits[mask].tolist())):
        pick = mask & (digits == digit)
        original = float(per_clip["original_accuracy"][pick].mean())
        accuracy = float(per_clip["accuracy"][pick].mean())
        out[int(digit)] = {
            "n": int(pick.sum()),
            "original_accuracy": original,
            "accuracy": accuracy,
            "relative_accuracy": _ratio(accuracy, original),
        }
    return out


def _ratio(accuracy: float | torch.Tensor, original: float | torch.Tensor) -> float:
    """Accuracy on reconstructions relative to the originals (NaN when the originals score 0)."""
    return float(accuracy) / float(original) if float(original) > 0 else float("nan")
