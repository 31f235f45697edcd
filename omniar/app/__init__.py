"""The Gradio demo behind `omniar demo`: one tab per modality, served on this machine only.

Nothing here may reach the network: Gradio's analytics are switched off before Gradio is
imported, the theme uses system fonts, and no share link is made unless asked for.
`build_app()` returns the `gr.Blocks`; `launch()` serves it. Tabs live in `omniar.app.tabs`.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from omniar.app.blocks import build_app, launch  # noqa: E402  (after the analytics switch)

__all__ = ["build_app", "launch"]
