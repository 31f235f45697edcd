"""Objective audio codec metrics: mel distance, SI-SNR, bitrate and real-time factor.

- ``mel_distance``: mean absolute difference of log-mel spectrograms in dB (magnitude, 32 ms
  windows, 8 ms hop, 64 bands, floored 80 dB below the reference's peak). 0 is identical.
- ``si_snr``: scale-invariant signal-to-noise ratio in dB (zero-mean signals, the estimate
  projected on the reference), as in Le Roux et al. 2019. Higher is better.
- ``clip_quality``: both, per clip; ``codec_quality``: their means per number of quantizers
  (bitrate), over a list of clips.
- ``real_time_factor``: wall-clock seconds of encoding / decoding per second of audio on the
  current device and thread count; below 1 is faster than real time.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch
import torchaudio.transforms as T
from tqdm.auto import tqdm

from omniar.tokenizers.waveform import validate_waveform

_EPS = 1e-8


def mel_distance(
    reference: torch.Tensor,
    estimate: torch.Tensor,
    sample_rate: int,
    window_seconds: float = 0.032,
    n_mels: int = 64,
    top_db: float = 80.0,
) -> torch.Tensor:
    """Per-item mean absolute log-mel difference in dB for ``(B, T)`` or ``(T,)`` signals.

    Mel magnitudes in dB (``20 log10``) are floored at the reference's peak minus ``top_db``
    for both signals, so differences far below the audible range of the clip do not count.
    """
    reference, estimate = _pair(reference, estimate)
    n_fft = round(window_seconds * sample_rate)
    mel = T.MelSpectrogram(
        sample_rate=sample_rate, n_fft=n_fft, hop_length=n_fft // 4, n_mels=n_mels, power=1.0
    ).to(reference.device)
    mel_ref, mel_est = mel(reference), mel(estimate)
    floor = (mel_ref.amax(dim=(-2, -1), keepdim=True) * 10 ** (-top_db / 20)).clamp_min(1e-10)
    db_ref = 20 * torch.maximum(mel_ref, floor).log10()
    db_est = 20 * torch.maximum(mel_est, floor).log10()
    return (db_ref - db_est).abs().mean(dim=(-2, -1))


def si_snr(reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    """Per-item scale-invariant SNR in dB for ``(B, T)`` or ``(T,)`` signals."""
    reference, estimate = _pair(reference, estimate)
    reference = reference - reference.mean(dim=-1, keepdim=True)
    estimate = estimate - estimate.mean(dim=-1, keepdim=True)
    scale = (estimate * reference).sum(-1, keepdim=True) / (
        reference.pow(2).sum(-1, keepdim=True) + _EPS
    )
    target = scale * reference
    noise = estimate - target
    return 10 * torch.log10((target.pow(2).sum(-1) + _EPS) / (noise.pow(2).sum(-1) + _EPS))


def _pair(reference: torch.Tensor, estimate: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if reference.shape != estimate.shape:
        raise ValueError(
            f"reference {tuple(reference.shape)} and estimate {tuple(estimate.shape)} must have "
            "the same shape"
        )
    reference = validate_waveform(reference, "reference", allow_silent=True)
    estimate = validate_waveform(estimate, "estimate", allow_silent=True)
    if reference.ndim == 1:
        reference, estimate = reference[None], estimate[None]
    return reference, estimate


def reconstruct(
    codec: torch.nn.Module,
    clips: Sequence[torch.Tensor],
    num_quantizers: Sequence[int],
    batch_size: int = 16,
    progress: bool = False,
) -> dict[int, list[torch.Tensor]]:
    """Codec reconstructions of mono clips ``(T,)`` at the codec's rate, per number of quantizers.

    Clips are encoded once with all quantizers in length-sorted, zero-padded batches and decoded
    from each code prefix; every reconstruction is trimmed to its clip's length. ``progress``
    shows a bar over the batches.
    """
    out: dict[int, list[torch.Tensor | None]] = {n: [None] * len(clips) for n in num_quantizers}
    order = sorted(range(len(clips)), key=lambda i: clips[i].shape[-1])
    starts = range(0, len(order), batch_size)
    for start in tqdm(starts, desc="codec round trip", disable=not progress, leave=False):
        index = order[start : start + batch_size]
        longest = max(clips[i].shape[-1] for i in index)
        batch = torch.stack(
            [torch.nn.functional.pad(clips[i], (0, longest - clips[i].shape[-1])) for i in index]
        )
        codes = codec.encode(batch, codec.sample_rate)
        for n in num_quantizers:
            audio = codec.decode(codes[:, :n]).cpu()
            for row, i in enumerate(index):
                out[n][i] = audio[row, : clips[i].shape[-1]]
    return out


def clip_quality(
    clips: Sequence[torch.Tensor], reconstructions: Sequence[torch.Tensor], sample_rate: int
) -> dict[str, torch.Tensor]:
    """Per-clip ``mel_distance`` and ``si_snr_db`` (each ``(N,)``) of reconstructions."""
    if len(clips) != len(reconstructions):
        raise ValueError(
            f"reconstructions: {len(reconstructions)} for {len(clips)} clips; expected one each"
        )
    pairs = list(zip(clips, reconstructions))
    return {
        "mel_distance": torch.cat([mel_distance(c, r, sample_rate) for c, r in pairs]),
        "si_snr_db": torch.cat([si_snr(c, r) for c, r in pairs]),
    }


def codec_quality(
    codec: torch.nn.Module,
    clips: Sequence[torch.Tensor],
    num_quantizers: Sequence[int] | None = None,
    reconstructions: dict[int, list[torch.Tensor]] | None = None,
) -> dict[int, dict[str, float]]:
    """Mean mel distance and SI-SNR of reconstructions, with the bitrate, per quantizer count.

    ``clips`` are mono ``(T,)`` waveforms at ``codec.sample_rate``; ``reconstructions`` (from
    ``reconstruct``) are computed when not given.
    """
    counts = list(num_quantizers or range(1, codec.num_quantizers + 1))
    recon = reconstructions or reconstruct(codec, clips, counts)
    report = {}
    for n in counts:
        per_clip = clip_quality(clips, recon[n], codec.sample_rate)
        report[n] = {
            "bitrate_bps": codec.bitrate(n),
            **{name: float(values.mean()) for name, values in per_clip.items()},
        }
    return report


def real_time_factor(
    codec: torch.nn.Module, waveform: torch.Tensor, repeats: int = 3
) -> dict[str, float]:
    """Encode and decode ``waveform`` ``(T,)`` (at the codec's rate) ``repeats`` times after a
    warm-up and return the best wall-clock seconds per second of audio for each, and their sum.
    """
    seconds = waveform.shape[-1] / codec.sample_rate
    codes = codec.encode(waveform, codec.sample_rate)
    codec.decode(codes)
    encode_times, decode_times = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        codes = codec.encode(waveform, codec.sample_rate)
        middle = time.perf_counter()
        codec.decode(codes)
        encode_times.append(middle - start)
        decode_times.append(time.perf_counter() - middle)
    encode_rtf, decode_rtf = min(encode_times) / seconds, min(decode_times) / seconds
    return {
        "encode_rtf": encode_rtf,
        "decode_rtf": decode_rtf,
        "rtf": encode_rtf + decode_rtf,
        "audio_seconds": seconds,
        "threads": float(torch.get_num_threads()),
    }
