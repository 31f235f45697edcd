"""`omniar bench NAME`: run a benchmark script from the repository's benchmarks/ folder."""

from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _available() -> list[str]:
    return sorted(p.stem for p in BENCHMARKS.glob("*.py")) if BENCHMARKS.is_dir() else []


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "bench", help="run a benchmark (benchmarks/NAME.py) and print its figures",
        description="Run benchmarks/NAME.py from a repository checkout; extra arguments go to the script "
        "(e.g. `omniar bench decode_speed --quick`).",
    )
    parser.add_argument("name", help="benchmark name, e.g. decode_speed")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the benchmark script")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    script = BENCHMARKS / f"{args.name}.py"
    if not script.is_file():
        raise ValueError(f"unknown benchmark {args.name!r}; available: {_available() or 'none (no checkout)'}")
    sys.argv = [str(script), *args.args]
    runpy.run_path(str(script), run_name="__main__")
    return 0
