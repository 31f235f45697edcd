"""`omniar` command line: generate, train, eval, bench, demo, list.

Each subcommand lives in `omniar.commands.<name>` with `register(subparsers)`; expected errors
(bad arguments, missing files) end with a one-line message and a non-zero exit, not a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = ("generate", "train", "eval", "bench", "demo", "list")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="omniar", description="Autoregressive multimodal generation: one transformer, many orders."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"omniar.commands.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (ValueError, FileNotFoundError, KeyError) as error:
        message = error.args[0] if error.args else str(error)
        print(f"omniar {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("omniar: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
