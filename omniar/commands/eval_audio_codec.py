"""`omniar eval audio-codec [CODEC] --data DIR [--classifier DIR] [--out-json F] [--out-md F]`.

Encodes and decodes the FSDD test takes (0-4) with every prefix of the codec's codebooks and
reports, per bitrate, the mean mel distance (dB) and SI-SNR (dB) of the reconstructions, the
digit classifier's accuracy on them next to its accuracy on the originals (the issue's target:
>= 95% of it at the default bitrate), and the encode / decode real-time factor on this machine
(`omniar.eval.digit_classifier.evaluate_codec`). CODEC is an embedded name (default fsdd-codec)
or a saved codec folder.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DEFAULT_CODEC = "fsdd-codec"
DEFAULT_CLASSIFIER = "fsdd-digit-classifier"
DEFAULT_DATA = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "fsdd" / "recordings"
)


def resolve_folder(name_or_path: str, what: str) -> Path:
    """A saved model folder given as a path or an embedded name (`omniar list`)."""
    from omniar.assets import asset_path

    path = Path(name_or_path)
    if path.is_dir():
        return path
    if "/" in name_or_path or path.suffix:
        raise ValueError(f"{what}: {name_or_path} is not a folder")
    return asset_path(name_or_path)


def default_classifier(given: str | None) -> Path | None:
    """`--classifier`, or the embedded classifier when there is one (None otherwise, with a note)."""
    if given is not None:
        return resolve_folder(given, "--classifier")
    from omniar.assets import embedded_models

    if DEFAULT_CLASSIFIER in embedded_models():
        return resolve_folder(DEFAULT_CLASSIFIER, "--classifier")
    print(
        f"note: no {DEFAULT_CLASSIFIER} model in assets/; digit accuracy is skipped "
        "(train it with: omniar train recipes/fsdd_digit_classifier.yaml)"
    )
    return None


def write_text(path: str | None, text: str) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")


def codec_table(report: dict) -> str:
    """The per-bitrate figures of `evaluate_codec` as a markdown table with notes."""
    scored = "original_accuracy" in report
    lines = [
        "| codebooks | kbit/s | mel distance (dB) | SI-SNR (dB) |"
        + (" digit accuracy | vs. originals |" if scored else ""),
        "|---|---|---|---|" + ("---|---|" if scored else ""),
    ]
    for count, row in report["per_num_quantizers"].items():
        line = (
            f"| {count} | {row['bitrate_bps'] / 1000:.1f} | {row['mel_distance']:.2f} | "
            f"{row['si_snr_db']:.2f} |"
        )
        if scored:
            line += f" {row['accuracy']:.1%} | {row['relative_accuracy']:.1%} |"
        lines.append(line)
    speed = report["speed"]
    notes = [
        f"\n{report['num_test_clips']} FSDD test clips (takes 0-4), {report['sample_rate']} Hz, "
        f"{report['frame_rate']:g} frames/s, {report['codebook_size']} codes per codebook."
    ]
    if scored:
        notes.append(
            f"Digit classifier accuracy on the original clips: {report['original_accuracy']:.1%}."
        )
    notes.append(
        f"Real-time factor ({speed['audio_seconds']:.1f} s of audio, batch 1, "
        f"{speed['threads']:.0f} threads): encode {speed['encode_rtf']:.4f}, decode "
        f"{speed['decode_rtf']:.4f}, together {speed['rtf']:.4f} (< 1: faster than real time)."
    )
    return "\n".join(lines) + "\n" + "\n".join(notes) + "\n"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "audio-codec",
        help="audio codec quality per bitrate (mel distance, SI-SNR, digit accuracy, speed)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "codec",
        nargs="?",
        default=DEFAULT_CODEC,
        help=f"embedded codec name or saved codec folder (default {DEFAULT_CODEC})",
    )
    parser.add_argument(
        "--data",
        default=str(DEFAULT_DATA),
        help="FSDD recordings folder or a data root holding fsdd/recordings "
        "(default ../shared/data/fsdd/recordings)",
    )
    parser.add_argument(
        "--classifier", help=f"DigitClassifier folder (default: {DEFAULT_CLASSIFIER} when embedded)"
    )
    parser.add_argument(
        "--num-quantizers",
        type=int,
        nargs="+",
        help="codebook counts to evaluate (default: every prefix)",
    )
    parser.add_argument(
        "--max-clips", type=int, help="evaluate an evenly spaced subset (quick checks)"
    )
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--out-json", help="write the figures as JSON here")
    parser.add_argument("--out-md", help="write the markdown table here")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from omniar.eval.digit_classifier import evaluate_codec

    if args.max_clips is not None and args.max_clips < 1:
        raise ValueError(f"--max-clips must be >= 1, got {args.max_clips}")
    report = evaluate_codec(
        resolve_folder(args.codec, "CODEC"),
        args.data,
        default_classifier(args.classifier),
        num_quantizers=args.num_quantizers,
        device=args.device,
        max_clips=args.max_clips,
    )
    table = codec_table(report)
    write_text(args.out_json, json.dumps(report, indent=2))
    write_text(args.out_md, table)
    print(table, end="")
    return 0
