"""`omniar eval audio [MODEL] [--num N] [--classifier DIR] [--data DIR] [--out-json F] [--out-md F] [--png F]`.

Generates N clips of every digit (speakers taken in turn; sampling from the model's preset
unless overridden, classifier-free guidance included) and reports the digit classifier's
accuracy on them per digit and overall (the issue's target: >= 80%), with the clips' mean
duration, how many ended by themselves before the duration cap, and the decoding speed. With
`--data` the classifier's accuracy on the real FSDD test takes is measured too, for reference.
`--png` draws the log-mel spectrogram of the first clip of every digit. The JSON follows the
schema every eval command shares (`omniar.eval.report`): groups are the digits, plus the real
test takes when `--data` is given.
"""

from __future__ import annotations

import argparse

from omniar.commands.eval_audio_codec import default_classifier, write_text
from omniar.commands.generate_audio import (
    add_sampling_arguments,
    load_audio_pipeline,
    sampling_kwargs,
)
from omniar.eval.report import EvalReport, print_report


def real_accuracy(classifier, data: str) -> dict:
    """The classifier's accuracy on the FSDD test takes (0-4) of `data`."""
    from omniar.data.fsdd import FSDDDataset
    from omniar.eval.digit_classifier import classifier_accuracy

    test = FSDDDataset(data, split="test", sample_rate=classifier.config.sample_rate)
    clips = [test.load(i) for i in range(len(test))]
    digits = [recording.digit for recording in test.recordings]
    return {
        "accuracy": classifier_accuracy(classifier, clips, digits, test.sample_rate),
        "num_clips": len(clips),
    }


def ended_count(report: dict) -> str:
    """How many clips ended on their own, as "k of n": a rounded percentage would call 199 of
    200 "100%" and hide the clip that ran into the cap."""
    total = report["num_per_class"] * len(report["per_class"])
    return f"{round(report['ended_fraction'] * total)} of {total} clips"


def generation_table(report: dict) -> str:
    """Per-digit accuracy and the settings as markdown."""
    lines = ["| digit | accuracy |", "|---|---|"]
    lines += [f"| {name} | {accuracy:.0%} |" for name, accuracy in report["per_class"].items()]
    lines.append(f"| **all** | **{report['accuracy']:.1%}** |")
    sampling = ", ".join(f"{key}={value}" for key, value in report["sampling"].items())
    notes = [
        f"\n{report['num_per_class']} generated clips per digit (seed {report['seed']}, speakers in "
        f"turn), scored by the digit classifier. Sampling: {sampling}.",
        f"Mean duration {report['mean_duration_s']:.2f} s; {ended_count(report)} ended before "
        f"the duration cap; generation (tokens and codec) takes "
        f"{report['real_time_factor']:.3f} s per second of audio.",
    ]
    if "real_test_accuracy" in report:
        real = report["real_test_accuracy"]
        notes.append(
            f"Classifier accuracy on the {real['num_clips']} real FSDD test clips: "
            f"{real['accuracy']:.1%}."
        )
    return "\n".join(lines) + "\n" + "\n".join(notes) + "\n"


def audio_report(report: dict, data: str | None) -> EvalReport:
    """`evaluate_generation`'s report in the shared eval schema: one group per digit."""
    per_digit = report["num_per_class"]
    groups = {"all": {"n": per_digit * len(report["per_class"]), "accuracy": report["accuracy"],
                      "mean_duration_s": report["mean_duration_s"],
                      "ended_fraction": report["ended_fraction"],
                      "real_time_factor": report["real_time_factor"]}}
    groups.update({f"digit {name}": {"n": per_digit, "accuracy": accuracy}
                   for name, accuracy in report["per_class"].items()})
    if "real_test_accuracy" in report:
        real = report["real_test_accuracy"]
        groups["real FSDD takes 0-4"] = {"n": real["num_clips"], "accuracy": real["accuracy"]}
    settings_keys = ("seed", "sampling", "classifier", "num_per_class")
    return EvalReport(
        model=report["model"],
        data="generated" + (f" (real takes from {data})" if data else ""),
        n=groups["all"]["n"],
        groups=groups,
        settings={key: report[key] for key in settings_keys if key in report},
        details={"seconds": report["seconds"]},
    )


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "audio",
        help="digit accuracy of generated speech (classifier), spectrograms",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_sampling_arguments(parser, model_positional=True)
    parser.add_argument("--num", type=int, default=20, help="clips per digit (default 20)")
    parser.add_argument(
        "--classifier", help="DigitClassifier folder (default: fsdd-digit-classifier)"
    )
    parser.add_argument("--data", help="FSDD recordings folder: also score the real test takes")
    parser.add_argument("--out-json", help="write the figures as JSON here")
    parser.add_argument("--out-md", help="write the markdown table here")
    parser.add_argument("--png", help="write spectrograms of one clip per digit here")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from omniar.eval.audio_generation import evaluate_generation
    from omniar.eval.audio_plots import plot_spectrograms
    from omniar.eval.digit_classifier import DigitClassifier

    if args.png and not args.png.lower().endswith(".png"):
        raise ValueError(f"--png must name a .png file, got {args.png!r}")
    folder = default_classifier(args.classifier)
    if folder is None:
        raise ValueError("--classifier is needed: no embedded fsdd-digit-classifier")
    pipe = load_audio_pipeline(args.model, args.device)
    classifier = DigitClassifier.from_pretrained(str(folder)).to(pipe.transformer.device).eval()
    report, out = evaluate_generation(
        pipe, classifier, args.num, args.seed, **sampling_kwargs(args)
    )
    report.update({"model": args.model, "classifier": str(folder)})
    if args.data:
        report["real_test_accuracy"] = real_accuracy(classifier, args.data)
    table = generation_table(report)
    write_text(args.out_md, table)
    if args.png:
        firsts = range(0, len(out.audios), args.num)
        plot_spectrograms(
            [out.audios[i] for i in firsts],
            out.sample_rate,
            args.png,
            titles=[f"{out.labels[i][0]} ({out.labels[i][1]})" for i in firsts],
        )
    print_report(audio_report(report, args.data), args.out_json, table)
    return 0
