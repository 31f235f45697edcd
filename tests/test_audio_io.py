"""WAV I/O, waveform validation, resampling, and the FSDD data set API."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from omniar.data.audio_io import (
    check_sample_rate,
    normalize_peak,
    read_wav,
    resample,
    validate_waveform,
    write_wav,
)
from omniar.data.fsdd import (
    FSDD_SPEAKERS,
    FSDDDataset,
    fit_length,
    list_recordings,
    parse_digit,
    parse_speaker,
)


def tone(seconds: float = 0.25, rate: int = 8000, freq: float = 440.0) -> torch.Tensor:
    t = torch.arange(int(seconds * rate)) / rate
    return (0.5 * torch.sin(2 * math.pi * freq * t)).float()


def test_write_read_round_trip(tmp_path: Path) -> None:
    wave = tone()
    path = write_wav(tmp_path / "tone.wav", wave, 8000)
    back, rate = read_wav(path)
    assert rate == 8000
    assert back.dtype == torch.float32 and back.shape == wave.shape
    assert torch.allclose(back, wave, atol=1.0 / 32767)
    assert sf.info(str(path)).subtype == "PCM_16"


def test_read_resamples(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "tone.wav", tone(0.5), 8000)
    back, rate = read_wav(path, sample_rate=16000)
    assert rate == 16000 and back.shape == (8000,)
    spectrum = torch.fft.rfft(back).abs()
    assert abs(int(spectrum.argmax()) * 16000 / back.shape[0] - 440) < 5


def test_multichannel_is_downmixed_with_warning(tmp_path: Path) -> None:
    wave = tone()
    stereo = torch.stack([wave, torch.zeros_like(wave)], dim=1).numpy()
    sf.write(str(tmp_path / "stereo.wav"), stereo, 8000)
    with pytest.warns(UserWarning, match="2 channels"):
        back, _ = read_wav(tmp_path / "stereo.wav")
    assert back.shape == wave.shape
    assert torch.allclose(back, wave / 2, atol=1e-4)


def test_bad_files_raise_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        read_wav(tmp_path / "missing.wav")
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00not really a wave file at all")
    with pytest.raises(ValueError, match="corrupt.wav"):
        read_wav(corrupt)
    text = tmp_path / "notes.wav"
    text.write_text("hello")
    with pytest.raises(ValueError, match="notes.wav"):
        read_wav(text)
    flac = tmp_path / "tone.flac"
    sf.write(str(flac), tone().numpy(), 8000, format="FLAC")
    with pytest.raises(ValueError, match="expected WAV"):
        read_wav(flac)


def test_empty_silent_and_nan_files(tmp_path: Path) -> None:
    sf.write(str(tmp_path / "empty.wav"), np.zeros(0, dtype=np.float32), 8000)
    with pytest.raises(ValueError, match="no samples"):
        read_wav(tmp_path / "empty.wav")
    sf.write(str(tmp_path / "silent.wav"), np.zeros(800, dtype=np.float32), 8000)
    with pytest.raises(ValueError, match="silent"):
        read_wav(tmp_path / "silent.wav")
    assert read_wav(tmp_path / "silent.wav", allow_silent=True)[0].shape == (800,)
    data = tone().numpy()
    data[10] = np.nan
    sf.write(str(tmp_path / "nan.wav"), data, 8000, subtype="FLOAT")
    with pytest.raises(ValueError, match="NaN"):
        read_wav(tmp_path / "nan.wav")


def test_write_refuses_clipping_and_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="clip"):
        write_wav(tmp_path / "loud.wav", tone() * 3, 8000)
    with pytest.raises(ValueError, match="NaN"):
        write_wav(tmp_path / "nan.wav", torch.tensor([0.1, float("nan")]), 8000)
    with pytest.raises(ValueError, match="mono"):
        write_wav(tmp_path / "stereo.wav", torch.zeros(2, 100), 8000)
    with pytest.raises(ValueError, match="sample_rate"):
        write_wav(tmp_path / "x.wav", tone(), 0)
    with pytest.raises(ValueError, match=".wav"):
        write_wav(tmp_path / "x.mp3", tone(), 8000)


@pytest.mark.parametrize("rate", [0, -8000, 8000.5, float("nan"), "8000", True])
def test_bad_sample_rates(rate: object) -> None:
    with pytest.raises(ValueError, match="sample_rate"):
        check_sample_rate(rate)
    with pytest.raises(ValueError, match="sample_rate"):
        resample(tone(), rate, 8000)


def test_resample_non_integer_ratio() -> None:
    assert check_sample_rate(44100.0) == 44100
    assert resample(tone(1.0, 8000), 8000, 11025).shape == (11025,)


def test_validate_waveform_errors() -> None:
    with pytest.raises(ValueError, match="empty"):
        validate_waveform(torch.zeros(0))
    with pytest.raises(ValueError, match="NaN or infinite"):
        validate_waveform(torch.tensor([0.1, float("inf")]))
    with pytest.raises(ValueError, match=r"batch items \[1\]"):
        validate_waveform(torch.stack([tone(), torch.zeros(2000)]))
    with pytest.raises(ValueError, match="float"):
        validate_waveform(torch.ones(10, dtype=torch.int16))


def test_normalize_peak_scales_each_clip_and_leaves_silence() -> None:
    batch = torch.stack([0.02 * tone(), 0.5 * tone(), torch.zeros(2000)])
    out = normalize_peak(batch, -6.0)
    peaks = out.abs().amax(dim=-1)
    assert torch.allclose(peaks[:2], torch.full((2,), 10 ** (-6 / 20)), atol=1e-6)
    assert torch.equal(out[2], batch[2])
    assert torch.allclose(out[0] / peaks[0], batch[0] / batch[0].abs().max(), atol=1e-6)
    assert normalize_peak(tone(), 0.0).abs().max() == pytest.approx(1.0)
    assert normalize_peak(tone(), np.float32(-6.0)).abs().max() == pytest.approx(10 ** (-6 / 20))
    for bad in (0.5, float("nan"), float("-inf"), "loud", True):
        with pytest.raises(ValueError, match="peak_db must be a finite level <= 0 dBFS"):
            normalize_peak(tone(), bad)


def test_fit_length() -> None:
    wave = torch.arange(10.0)
    assert fit_length(wave, 4, random=False).tolist() == [3.0, 4.0, 5.0, 6.0]
    padded = fit_length(wave, 14, random=False)
    assert padded.shape == (14,) and padded[:2].abs().sum() == 0 and padded[2] == 0.0
    assert fit_length(wave, 14, random=True).sum() == wave.sum()


def test_parse_labels() -> None:
    assert parse_digit("seven") == 7 and parse_digit("3") == 3 and parse_digit(0) == 0
    for bad in ("eleven", 10, -1, "", True):
        with pytest.raises(ValueError, match="unknown digit"):
            parse_digit(bad)
    assert parse_speaker("Theo") == "theo"
    with pytest.raises(ValueError, match="unknown speaker 'bob'"):
        parse_speaker("bob")


def test_fsdd_missing_root_raises(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="FSDD recordings not found"):
        list_recordings(tmp_path)


@pytest.fixture
def fsdd_root(shared_data: Path) -> Path:
    """The shared data root, skipping when it holds no FSDD recordings."""
    if not (shared_data / "fsdd" / "recordings").is_dir():
        pytest.skip(f"FSDD data not found at {shared_data / 'fsdd' / 'recordings'}")
    return shared_data


def test_fsdd_split(fsdd_root: Path) -> None:
    root = fsdd_root
    train, test = list_recordings(root, "train"), list_recordings(root, "test")
    assert len(train) == 2250 and len(test) == 250
    assert all(r.take >= 5 for r in train) and all(r.take < 5 for r in test)
    assert not {r.path for r in train} & {r.path for r in test}
    assert {r.speaker for r in test} == set(FSDD_SPEAKERS)
    assert {r.digit for r in train} == set(range(10))
    assert list_recordings(root / "fsdd" / "recordings", "test") == test


def test_fsdd_filters_and_dataset(fsdd_root: Path) -> None:
    root = fsdd_root
    subset = list_recordings(root, "test", digits=["seven"], speakers=["theo"])
    assert [(r.digit, r.speaker) for r in subset] == [(7, "theo")] * 5
    with pytest.raises(ValueError, match="unknown speaker 'nobody'"):
        list_recordings(root, "test", speakers=["nobody"])
    with pytest.raises(ValueError, match="unknown digit"):
        list_recordings(root, "test", digits=[12])
    with pytest.raises(ValueError, match="unknown split"):
        list_recordings(root, "valid")
    data = FSDDDataset(root, "test", digits=[1], num_samples=4000, gain_db=(-6.0, 6.0))
    item = data[0]
    assert item["waveform"].shape == (4000,) and item["digit"] == 1
    assert FSDD_SPEAKERS[item["speaker"]] == data.recordings[0].speaker
    assert item["waveform"].abs().max() <= 1.0
