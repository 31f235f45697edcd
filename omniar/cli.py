"""`omniar` command line: generate, train, eval, bench, demo, list.

Each subcommand lives in `omniar.commands.<name>` with `register(subparsers)`; expected errors
(bad arguments, missing files) end with a one-line message and a non-zero exit, not a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = ("generate", "train", "eval", "bench", "demo", "list", "convert")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="omniar", description="Autoregressive multimodal generation: one transformer, many orders."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"omniar.commands.{name}").register(subparsers)
    return parser


def error_message(error: BaseException) -> str:
    """One line describing an expected error: an OSError's reason and file (not "2", its
    errno), a KeyError's key without repr quotes, any other error's text."""
    if isinstance(error, OSError) and error.strerror:
        files = [str(name) for name in (error.filename, error.filename2) if name is not None]
        message = f"{error.strerror}: {' -> '.join(files)}" if files else error.strerror
    elif isinstance(error, KeyError) and len(error.args) == 1:
        message = str(error.args[0])
    else:
        message = str(error) or type(error).__name__
    return " ".join(message.split())


def main(argv: list[str] | None = None) -> int:
    """Run `omniar ARGV`; expected errors (OmniarError and other ValueErrors, missing or
    unwritable files, unknown keys) print `omniar COMMAND: error: MESSAGE` and return 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not sys.stderr.isatty():
        # diffusers' "Loading pipeline components" bar would precede an error line in logs and
        # pipes; generation keeps its own progress bar (the pipeline's, not diffusers' logging).
        from diffusers.utils import logging as diffusers_logging

        diffusers_logging.disable_progress_bar()
    try:
        return int(args.run(args) or 0)
    except (ValueError, OSError, KeyError) as error:
        print(f"omniar {args.command}: error: {error_message(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("omniar: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
