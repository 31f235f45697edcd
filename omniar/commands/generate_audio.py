"""`omniar generate audio TEXT [--speaker S] [--num N] [--out FILE.wav] [--peak-db DB]`: spoken digits.

TEXT is a digit word or a digit ("seven" or "7"); the clip is written as 16-bit PCM WAV (the
model's audio is bounded by the codec's tanh, so nothing is clipped). Several clips (`--num N`)
go to numbered files: `seven.wav` -> `seven_0.wav`, `seven_1.wav`, ... Without `--speaker` each
clip gets a random speaker. MODEL (`--model`) is an embedded model name (default fsdd-digits) or
a folder written by `AudioPipeline.save_pretrained`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from omniar.commands.decoding_args import (
    SEQUENCE_DECODINGS,
    add_decoding_arguments,
    add_dtype_argument,
    decoding_options,
    decoding_summary,
    dtype_kwargs,
)
from omniar.commands.generate_graph import default_device
from omniar.commands.output_files import check_output_file, prepare_output_file

DEFAULT_MODEL = "fsdd-digits"


def load_audio_pipeline(model: str = DEFAULT_MODEL, device: str | None = None, **kwargs):
    """An `AudioPipeline` from an embedded name or a saved folder, in eval mode on `device`
    (`kwargs`, e.g. `torch_dtype`, go to `from_pretrained`)."""
    from omniar.loading import resolve_model_folder
    from omniar.pipelines.audio import AudioPipeline

    folder = resolve_model_folder(model)
    kind = json.loads((folder / "model_index.json").read_text()).get("_class_name")
    if kind != "AudioPipeline":
        raise ValueError(f"--model {model!r} is a {kind}, not an AudioPipeline")
    pipe = AudioPipeline.from_pretrained(str(folder), **kwargs)
    pipe.set_progress_bar_config(disable=not sys.stderr.isatty())
    return pipe.to(device or default_device())


def add_sampling_arguments(parser: argparse.ArgumentParser, model_positional: bool = False) -> None:
    """Options shared by `generate audio` and `eval audio` (the model as an option or argument)."""
    help_text = f"embedded model name or AudioPipeline folder (default {DEFAULT_MODEL})"
    if model_positional:
        parser.add_argument("model", nargs="?", default=DEFAULT_MODEL, help=help_text)
    else:
        parser.add_argument("--model", default=DEFAULT_MODEL, help=help_text)
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--preset", help="named sampling preset of the model (default: 'default')")
    parser.add_argument(
        "--cfg", type=float, dest="guidance_scale", help="classifier-free guidance scale (1 = off)"
    )
    parser.add_argument("--temperature", type=float, help="sampling temperature (0 = greedy)")
    parser.add_argument("--top-k", type=int, help="keep the k most likely codes (0 = off)")
    parser.add_argument("--top-p", type=float, help="nucleus sampling mass (1 = off)")
    parser.add_argument("--batch-size", type=int, default=32, help="clips decoded together")
    parser.add_argument("--device", help="torch device (default: cuda, mps or cpu)")


def sampling_kwargs(args: argparse.Namespace) -> dict:
    return {
        "preset": args.preset,
        "guidance_scale": args.guidance_scale,
        "temperature": args.temperature,
        "top_k": args.top_k,
        "top_p": args.top_p,
        "batch_size": args.batch_size,
    }


def output_paths(out: Path, count: int) -> list[Path]:
    """`out` for one clip, `stem_0.wav`, `stem_1.wav`, ... for several (each checked)."""
    check_output_file("--out", out, (".wav",))
    if count == 1:
        return [out]
    paths = [out.with_name(f"{out.stem}_{i}{out.suffix}") for i in range(count)]
    return [check_output_file("--out", path, (".wav",)) for path in paths]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "audio",
        help="speak a digit (WAV)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("text", metavar="TEXT", help='a digit word or digit, e.g. "seven" or 7')
    parser.add_argument("--speaker", help="speaker name (default: a random one per clip)")
    parser.add_argument("--num", type=int, default=1,
                        help="number of clips (num_audios_per_prompt; default 1)")
    parser.add_argument(
        "--duration",
        type=float,
        dest="duration_s",
        help="longest clip in seconds (default: the model's maximum)",
    )
    parser.add_argument("--out", help="output WAV file (default TEXT.wav, e.g. seven.wav)")
    parser.add_argument(
        "--peak-db",
        type=float,
        help="scale each clip to peak at this level in dBFS, e.g. -1 (default: the model's level, "
        "which follows the speaker's recordings)",
    )
    add_sampling_arguments(parser)
    add_decoding_arguments(parser, SEQUENCE_DECODINGS)
    add_dtype_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from omniar.data.audio_io import write_wav

    if args.out:
        check_output_file("--out", args.out, (".wav",))
    pipe = load_audio_pipeline(args.model, args.device, **dtype_kwargs(args))
    call = {"prompt": args.text, "speaker": args.speaker, "num_audios_per_prompt": args.num,
            "duration_s": args.duration_s, "peak_db": args.peak_db, "decoding": args.decoding,
            "decoding_options": decoding_options(args), **sampling_kwargs(args)}
    pipe.check_inputs(**call)
    name = pipe.class_names[pipe.class_ids(args.text, None)[0]]
    paths = output_paths(Path(args.out or f"{name}.wav"), args.num)
    generator = torch.Generator(pipe.transformer.device).manual_seed(args.seed)
    out = pipe(**call, generator=generator)
    for path, audio, (digit, speaker) in zip(paths, out.audios, out.labels):
        write_wav(prepare_output_file(path), audio, out.sample_rate)
        print(f"wrote {path} ({digit}, speaker {speaker}, {len(audio) / out.sample_rate:.2f} s)")
    print(decoding_summary(out.stats, args.decoding, call["decoding_options"]))
    return 0
