"""The Free Spoken Digit Dataset (FSDD): listing, splits, labels and torch data sets.

Files are ``{digit}_{speaker}_{take}.wav`` (mono 8 kHz) under ``<data_root>/fsdd/recordings``.
The split is the data set's usual one: **test = takes 0-4, train = takes 5-49** of every digit and
speaker. Data: CC BY-SA 4.0, Zohar Jackson et al.,
github.com/Jakobovski/free-spoken-digit-dataset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from omniar.data.audio_io import read_wav
from omniar.data.labels import label_id

FSDD_SAMPLE_RATE = 8000
FSDD_SPEAKERS: tuple[str, ...] = ("george", "jackson", "nicolas", "theo", "yweweler")
"""The speakers of the published FSDD, in the order used for speaker ids."""
DIGIT_WORDS: tuple[str, ...] = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
)
TEST_TAKES = range(5)
TRAIN_TAKES = range(5, 50)
SPLITS = ("train", "test", "all")

_NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)\.wav$")


@dataclass(frozen=True)
class FSDDRecording:
    """One FSDD file and its labels."""

    path: Path
    digit: int
    speaker: str
    take: int


def fsdd_recordings_dir(path: str | Path) -> Path:
    """The folder of FSDD WAV files for ``path``.

    ``path`` is either a data root holding ``fsdd/recordings`` or such a recordings folder itself
    (for recipes, whose data paths are relative to the data root). Raises ``ValueError`` when
    neither exists.
    """
    path = Path(path)
    nested = path / "fsdd" / "recordings"
    if nested.is_dir():
        return nested
    if path.is_dir() and any(_NAME.match(p.name) for p in path.glob("*.wav")):
        return path
    raise ValueError(
        f"FSDD recordings not found at {str(path)!r}; expected a data root with fsdd/recordings "
        "or a folder of files named {digit}_{speaker}_{take}.wav"
    )


def parse_digit(value: int | str) -> int:
    """A digit 0-9 from an int, ``"7"`` or ``"seven"``; ``ValueError`` names anything else."""
    return label_id(value, DIGIT_WORDS, "digit")


def parse_speaker(name: str, speakers: tuple[str, ...] = FSDD_SPEAKERS) -> str:
    """Validate a speaker name (case-insensitive); ``ValueError`` lists the known speakers."""
    if isinstance(name, str) and name.strip().lower() in speakers:
        return name.strip().lower()
    raise ValueError(f"unknown speaker {name!r}: expected one of {', '.join(speakers)}")


def list_recordings(
    data_root: str | Path,
    split: str = "train",
    digits: list[int | str] | None = None,
    speakers: list[str] | None = None,
    exclude_speakers: list[str] | None = None,
) -> list[FSDDRecording]:
    """The recordings of ``split`` ("train", "test" or "all"), optionally filtered, sorted.

    ``data_root`` is a data root or the recordings folder (see ``fsdd_recordings_dir``).
    Files whose names do not follow ``{digit}_{speaker}_{take}.wav`` are ignored.
    ``exclude_speakers`` leaves those speakers out (a leave-one-speaker-out training set); a
    name that is not in the folder is an error, so a typo cannot leave everyone in.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: expected one of {SPLITS}")
    root = fsdd_recordings_dir(data_root)
    found = []
    for path in root.glob("*.wav"):
        match = _NAME.match(path.name)
        if match:
            digit, speaker, take = int(match[1]), match[2].lower(), int(match[3])
            found.append(FSDDRecording(path, digit, speaker, take))
    known_speakers = tuple(sorted({r.speaker for r in found}))
    keep_digits = None if digits is None else {parse_digit(d) for d in digits}
    keep_speakers = (
        None if speakers is None else {parse_speaker(s, known_speakers) for s in speakers}
    )
    drop_speakers = {parse_speaker(s, known_speakers) for s in exclude_speakers or ()}
    takes = {"train": TRAIN_TAKES, "test": TEST_TAKES, "all": range(10**9)}[split]
    return sorted(
        (
            r
            for r in found
            if r.take in takes
            and (keep_digits is None or r.digit in keep_digits)
            and (keep_speakers is None or r.speaker in keep_speakers)
            and r.speaker not in drop_speakers
        ),
        key=lambda r: (r.speaker, r.digit, r.take),
    )


def fit_length(
    waveform: torch.Tensor, length: int, random: bool, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Crop or zero-pad a ``(T,)`` waveform to ``length`` samples.

    ``random=True`` picks the crop start / pad offset uniformly (training); ``False`` centres.
    """
    excess = waveform.shape[-1] - length
    if excess == 0:
        return waveform
    room = abs(excess)
    if random:
        offset = int(torch.randint(0, room + 1, (), generator=generator))
    else:
        offset = room // 2
    if excess > 0:
        return waveform[offset : offset + length]
    return torch.nn.functional.pad(waveform, (offset, room - offset))


class FSDDDataset(Dataset):
    """FSDD clips with labels: items ``{"waveform": (T,), "digit", "speaker", "take"}``.

    ``speaker`` is the index in ``FSDD_SPEAKERS`` (names outside it get ids after those, in
    sorted order). With ``num_samples`` every clip is cropped or zero-padded to that length
    (random position when ``random_crop``, else centred), so the default collate can stack them.
    ``gain_db`` draws a random gain in that range (augmentation), capped so that the peak stays
    <= 1: never clipped. ``exclude_speakers`` leaves speakers out (see ``list_recordings``);
    speaker ids stay those of ``FSDD_SPEAKERS``. Audio is cached after the first read.
    """

    def __init__(
        self,
        data_root: str | Path,
        split: str = "train",
        digits: list[int | str] | None = None,
        speakers: list[str] | None = None,
        num_samples: int | None = None,
        random_crop: bool = True,
        gain_db: tuple[float, float] | None = None,
        sample_rate: int = FSDD_SAMPLE_RATE,
        exclude_speakers: list[str] | None = None,
    ) -> None:
        self.recordings = list_recordings(data_root, split, digits, speakers, exclude_speakers)
        if not self.recordings:
            raise ValueError(f"no FSDD recordings for split={split!r} under {str(data_root)!r}")
        if num_samples is not None and num_samples < 1:
            raise ValueError(f"num_samples must be a positive int, got {num_samples!r}")
        extra = sorted({r.speaker for r in self.recordings} - set(FSDD_SPEAKERS))
        self.speakers: tuple[str, ...] = FSDD_SPEAKERS + tuple(extra)
        self.num_samples = num_samples
        self.random_crop = random_crop
        self.gain_db = gain_db
        self.sample_rate = sample_rate
        self._cache: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.recordings)

    def load(self, index: int) -> torch.Tensor:
        """The full clip ``(T,)`` at ``sample_rate`` (cached)."""
        if index not in self._cache:
            self._cache[index], _ = read_wav(self.recordings[index].path, self.sample_rate)
        return self._cache[index]

    def __getitem__(self, index: int) -> dict:
        recording = self.recordings[index]
        waveform = self.load(index)
        if self.num_samples is not None:
            waveform = fit_length(waveform, self.num_samples, self.random_crop)
        if self.gain_db is not None:
            low, high = self.gain_db
            db = low + (high - low) * float(torch.rand(()))
            peak = float(waveform.abs().max())
            gain = 10 ** (db / 20) if peak == 0 else min(10 ** (db / 20), 1.0 / peak)
            waveform = waveform * gain
        return {
            "waveform": waveform,
            "digit": recording.digit,
            "speaker": self.speakers.index(recording.speaker),
            "take": recording.take,
        }
