"""Audio clips as codec codes: encoded once, cached as safetensors, served as a torch data set.

Training an autoregressive model on audio reads the codec's codes, not the waveforms, so the
clips are encoded once (`encode_fsdd`) and the codes kept in a file beside the run
(`load_or_encode_fsdd`), keyed by a fingerprint of the codec's files and the data settings: a
retrained codec or another clip limit is re-encoded, a resumed run is not.

A `CodeSet` holds every clip's codes for all of the codec's levels, right-padded with -1 to the
longest clip, with its length in frames and its labels (digit, speaker id).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from omniar.data.fsdd import FSDDDataset
from omniar.tokenizers.audio_codec import AudioCodecTokenizer

CODE_PAD = -1
"""Code value after a clip's end in a `CodeSet`."""


@dataclass
class CodeSet:
    """`codes` (N, K, F) padded with -1, `lengths` (N,) frames, `labels` (N, 2) digit and speaker."""

    codes: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor
    speakers: list[str]
    frame_rate: float

    def __post_init__(self) -> None:
        count = self.codes.shape[0]
        if (
            self.codes.ndim != 3
            or self.lengths.shape != (count,)
            or self.labels.shape != (count, 2)
        ):
            raise ValueError(
                "CodeSet: expected codes (N, K, F), lengths (N,) and labels (N, 2), got "
                f"{tuple(self.codes.shape)}, {tuple(self.lengths.shape)}, {tuple(self.labels.shape)}"
            )
        if count and int(self.lengths.min()) < 1:
            raise ValueError("CodeSet: every clip needs at least one frame")

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {"codes": self.codes.int(), "lengths": self.lengths, "labels": self.labels}
        metadata = {"speakers": json.dumps(self.speakers), "frame_rate": repr(self.frame_rate)}
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata=metadata)
        return path

    @classmethod
    def load(cls, path: str | Path) -> CodeSet:
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"code file {str(path)!r} does not exist")
        tensors = load_file(str(path))
        with safe_open(str(path), "pt") as handle:
            metadata = handle.metadata() or {}
        missing = sorted({"codes", "lengths", "labels"} - set(tensors)) + sorted(
            {"speakers", "frame_rate"} - set(metadata)
        )
        if missing:
            raise ValueError(f"code file {str(path)!r} lacks {missing}; write it with CodeSet.save")
        return cls(
            tensors["codes"].long(),
            tensors["lengths"].long(),
            tensors["labels"].long(),
            json.loads(metadata["speakers"]),
            float(metadata["frame_rate"]),
        )


def encode_fsdd(
    codec: AudioCodecTokenizer,
    data_root: str | Path,
    split: str = "train",
    max_seconds: float | None = None,
    max_clips: int | None = None,
) -> CodeSet:
    """Encode the FSDD clips of `split` with every level of `codec`, one clip at a time.

    Clips longer than `max_seconds` are left out (a truncated word would teach the model to end
    mid-word); `max_clips` keeps an evenly spaced subset (quick checks).
    """
    data = FSDDDataset(data_root, split=split, sample_rate=codec.sample_rate)
    indices = list(range(len(data)))
    if max_clips is not None and max_clips < len(indices):
        indices = indices[:: max(1, len(indices) // max_clips)][:max_clips]
    limit = None if max_seconds is None else round(max_seconds * codec.sample_rate)
    clips, labels = [], []
    for index in tqdm(indices, desc=f"encode fsdd/{split}", leave=False):
        waveform = data.load(index)
        if limit is not None and waveform.shape[-1] > limit:
            continue
        clips.append(codec.encode(waveform, codec.sample_rate)[0].cpu())
        recording = data.recordings[index]
        labels.append([recording.digit, data.speakers.index(recording.speaker)])
    if not clips:
        raise ValueError(f"no FSDD clips of split {split!r} are at most {max_seconds} s long")
    lengths = torch.tensor([clip.shape[1] for clip in clips])
    codes = torch.full((len(clips), codec.num_quantizers, int(lengths.max())), CODE_PAD)
    for row, clip in enumerate(clips):
        codes[row, :, : clip.shape[1]] = clip
    return CodeSet(codes, lengths, torch.tensor(labels), list(data.speakers), codec.frame_rate)


def codec_fingerprint(codec_dir: str | Path) -> str:
    """A short hash of a saved codec's config and weights."""
    digest = hashlib.sha256()
    for path in sorted(Path(codec_dir).glob("*")):
        if path.suffix in (".json", ".safetensors"):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def load_or_encode_fsdd(
    codec_dir: str | Path,
    data_root: str | Path,
    cache_dir: str | Path,
    max_seconds: float | None = None,
    max_clips: int | None = None,
) -> CodeSet:
    """The FSDD training takes (5-49) as codes of the codec saved in `codec_dir`, cached in
    `cache_dir` under a name that changes with the codec and the settings."""
    settings = json.dumps([codec_fingerprint(codec_dir), max_seconds, max_clips])
    key = hashlib.sha256(settings.encode()).hexdigest()[:12]
    path = Path(cache_dir) / f"fsdd_train_{key}.safetensors"
    if path.is_file():
        return CodeSet.load(path)
    codec = AudioCodecTokenizer.from_pretrained(str(codec_dir)).eval()
    code_set = encode_fsdd(codec, data_root, "train", max_seconds, max_clips)
    code_set.save(path)
    return code_set


class CodeDataset(Dataset):
    """Clips of a `CodeSet` with their first `num_codebooks` levels: items `{"codes": (K, T),
    "class_labels": (2,)}`; `collate` right-pads a batch with -1 and adds `lengths`."""

    def __init__(self, code_set: CodeSet, num_codebooks: int):
        levels = code_set.codes.shape[1]
        if not 1 <= num_codebooks <= levels:
            raise ValueError(
                f"num_codebooks must be in [1, {levels}] (the codes' levels), got {num_codebooks}"
            )
        self.code_set = code_set
        self.num_codebooks = num_codebooks

    def __len__(self) -> int:
        return self.code_set.codes.shape[0]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        length = int(self.code_set.lengths[index])
        return {
            "codes": self.code_set.codes[index, : self.num_codebooks, :length],
            "class_labels": self.code_set.labels[index],
        }

    @staticmethod
    def collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        lengths = torch.tensor([item["codes"].shape[1] for item in items])
        codes = torch.full((len(items), items[0]["codes"].shape[0], int(lengths.max())), CODE_PAD)
        for row, item in enumerate(items):
            codes[row, :, : item["codes"].shape[1]] = item["codes"]
        return {
            "codes": codes,
            "lengths": lengths,
            "class_labels": torch.stack([item["class_labels"] for item in items]),
        }
