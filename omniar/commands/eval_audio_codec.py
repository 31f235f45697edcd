"""`omniar eval audio-codec [CODEC] --data DIR [--classifier DIR] [--split S] [--limit N] [--heldout-speakers NAME ...] [--out-json F] [--out-md F]`.

Encodes and decodes the FSDD recordings (every take by default; `--split test` for takes 0-4,
`--split train` for takes 5-49, `--limit N` for an evenly spaced subset) with every prefix of the
codec's codebooks and reports the mean mel distance (dB) and SI-SNR (dB) of the reconstructions
and the digit classifier's accuracy on them next to its accuracy on the originals (the issue's
target: >= 95% of it at the default bitrate) and the worst digit's share of its original
accuracy: per group at the highest bitrate, and per bitrate over all clips; plus the encode /
decode real-time factor on this machine (`omniar.eval.codec_eval`). CODEC is an embedded name
(default fsdd-codec) or a saved codec folder.

Groups say what is in-domain: each speaker is marked trained or held out (the codec trained on
takes 5-49 of the five FSDD speakers less `--heldout-speakers`; speakers outside FSDD, e.g. your
own `{digit}_{name}_{take}.wav` files, are held out), the trained speakers' takes 5-49 (seen in
training) and 0-4 (unseen clips), and all takes of the held-out speakers. The shipped fsdd-codec
trained on all five speakers: on FSDD alone it has no held-out speaker, and the report says so.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_CODEC = "fsdd-codec"
DEFAULT_CLASSIFIER = "fsdd-digit-classifier"
DEFAULT_DATA = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "fsdd" / "recordings"
)


def resolve_folder(name_or_path: str, what: str) -> Path:
    """A saved model folder given as a path or an embedded name (`omniar list`)."""
    from omniar.eval.model_folder import model_folder

    return model_folder(name_or_path, what)


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


SPLIT_TAKES = {"all": "all takes", "test": "takes 0-4", "train": "takes 5-49"}


def codec_table(report: dict) -> str:
    """The per-bitrate figures of `evaluate_codec` (over all clips) as a markdown table with notes."""
    settings, details = report["settings"], report["details"]
    scored = "classifier" in settings
    lines = [
        "| codebooks | kbit/s | mel distance (dB) | SI-SNR (dB) |"
        + (" digit accuracy | vs. originals |" if scored else ""),
        "|---|---|---|---|" + ("---|---|" if scored else ""),
    ]
    for count, row in details["per_num_quantizers"].items():
        line = (
            f"| {count} | {row['bitrate_bps'] / 1000:.1f} | {row['mel_distance']:.2f} | "
            f"{row['si_snr_db']:.2f} |"
        )
        if scored:
            line += f" {row['accuracy']:.1%} | {row['relative_accuracy']:.1%} |"
        lines.append(line)
    speed = details["speed"]
    notes = [
        f"\n{report['n']} FSDD clips ({SPLIT_TAKES[settings['split']]}), "
        f"{settings['sample_rate']} Hz, {settings['frame_rate']:g} frames/s, "
        f"{settings['codebook_size']} codes per codebook. Groups above: "
        f"{settings['group_num_quantizers']} codebooks."
    ]
    training = settings["training_data"]
    notes.append(
        f"In-domain: the codec trained on takes {training['takes']} of "
        f"{', '.join(training['speakers'])}; {training['note']}."
    )
    if scored:
        original = report["groups"]["all"]["original_accuracy"]
        notes.append(f"Digit classifier accuracy on the original clips: {original:.1%}.")
        for name, table in details.get("per_digit", {}).items():
            cells = ", ".join(
                f"{digit}: {row['accuracy']:.0%}/{row['original_accuracy']:.0%}"
                for digit, row in table.items()
            )
            notes.append(f"Per digit, {name} (reconstructions/originals): {cells}.")
    notes.append(
        f"Real-time factor ({speed['audio_seconds']:.1f} s of audio, batch 1, "
        f"{speed['threads']:.0f} threads): encode {speed['encode_rtf']:.4f}, decode "
        f"{speed['decode_rtf']:.4f}, together {speed['rtf']:.4f} (< 1: faster than real time)."
    )
    return "\n".join(lines) + "\n" + "\n".join(notes) + "\n"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "audio-codec",
        help="audio codec quality per bitrate and speaker (mel distance, SI-SNR, digit accuracy, speed)",
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
        "--split", default="all", choices=tuple(SPLIT_TAKES),
        help="takes to score: all (default), test (0-4, held out in training) or train (5-49)",
    )
    parser.add_argument(
        "--limit", "--max-clips", dest="limit", type=int,
        help="score an evenly spaced subset of this many clips (default: all)",
    )
    parser.add_argument(
        "--heldout-speakers", nargs="+", default=[], metavar="NAME",
        help="FSDD speakers the codec did not train on (e.g. the one recipes/fsdd_codec_loso.yaml "
        "excludes); default none: the shipped codec trained on all five",
    )
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--out-json", help="write the figures as JSON here")
    parser.add_argument("--out-md", help="write the per-bitrate markdown table here")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from omniar.errors import bad_value
    from omniar.eval.codec_eval import evaluate_codec
    from omniar.eval.report import print_report

    if args.limit is not None and args.limit < 1:
        raise bad_value("--limit", args.limit, "a positive number of clips")
    report = evaluate_codec(
        resolve_folder(args.codec, "CODEC"),
        args.data,
        default_classifier(args.classifier),
        num_quantizers=args.num_quantizers,
        device=args.device,
        split=args.split,
        limit=args.limit,
        progress=sys.stderr.isatty(),
        heldout_speakers=args.heldout_speakers,
    )
    report["model"] = args.codec
    table = codec_table(report)
    write_text(args.out_md, table)
    print_report(report, args.out_json, notes=table)
    return 0
