"""Subcommands with one module per modality (`generate image`, `eval graph`, ...).

`omniar generate X` is defined by `omniar/commands/generate_X.py`, `omniar eval X` by
`eval_X.py`; each module has `register(subparsers)`. Adding a modality is adding a file.
"""

from __future__ import annotations

import importlib
import pkgutil

import omniar.commands as commands_package


def register_family(subparsers, family: str, help_text: str) -> None:
    parser = subparsers.add_parser(family, help=help_text, description=help_text)
    inner = parser.add_subparsers(dest="target", required=True, metavar="WHAT")
    prefix = f"{family}_"
    for module in sorted(pkgutil.iter_modules(commands_package.__path__), key=lambda m: m.name):
        if module.name.startswith(prefix):
            importlib.import_module(f"omniar.commands.{module.name}").register(inner)
