"""The demo's tabs, one module each: adding a tab is adding a file here.

A tab module defines `TITLE` (the tab's label), `POSITION` (tabs are shown in increasing
position), `available()` (False hides the tab, e.g. when its model is not shipped) and
`build()`, which creates the tab's components and events inside an open `gr.Tab`. The
generation itself is a plain function of the module that the UI handler calls.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from types import ModuleType

logger = logging.getLogger(__name__)


def tab_modules() -> list[ModuleType]:
    """Every tab module in this package, by `POSITION`."""
    modules = [importlib.import_module(f"{__name__}.{info.name}") for info in pkgutil.iter_modules(__path__)]
    return sorted(modules, key=lambda module: module.POSITION)


def available_tabs() -> list[ModuleType]:
    """The tab modules whose models are installed; the others are logged and left out."""
    tabs = []
    for module in tab_modules():
        if module.available():
            tabs.append(module)
        else:
            logger.info("demo: no %s tab (its model is not installed)", module.TITLE)
    return tabs
