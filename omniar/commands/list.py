"""`omniar list`: the embedded default models shipped in assets/."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser("list", help="list the embedded default models")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from omniar.assets import embedded_models

    models = embedded_models()
    if not models:
        print("no embedded models found")
    for name, info in models.items():
        print(f"{name:24s} {info['kind']:10s} {info['path']}")
    return 0
