"""The demo app: the available tabs in one `gr.Blocks`, a queue, and an offline-safe launch."""

from __future__ import annotations

import gradio as gr

from omniar.app.tabs import available_tabs

QUEUE_SIZE = 32
"""Requests waiting beyond this many are refused with a 'queue full' message."""

SYSTEM_FONTS = ["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "Helvetica", "Arial", "sans-serif"]
MONO_FONTS = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]

INTRO = (
    "# omniar\n"
    "Autoregressive generation with one transformer across modalities, using the small "
    "embedded models that ship with omniar (they run on a CPU). Jobs run one at a time."
)


def offline_theme() -> gr.themes.Theme:
    """Gradio's default look with system fonts only, so the page loads no web fonts."""
    return gr.themes.Default(font=SYSTEM_FONTS, font_mono=MONO_FONTS)


def build_app() -> gr.Blocks:
    """The demo: one tab per modality whose model is installed, behind a queue."""
    with gr.Blocks(title="omniar demo", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.Markdown(INTRO)
        with gr.Tabs():
            for tab in available_tabs():
                with gr.Tab(tab.TITLE):
                    tab.build()
    demo.queue(default_concurrency_limit=1, max_size=QUEUE_SIZE)
    return demo


def launch(host: str = "127.0.0.1", port: int = 7860, share: bool = False) -> None:
    """Serve the demo until interrupted; binds to this machine only unless `host` says otherwise."""
    build_app().launch(
        server_name=host, server_port=port, share=share, show_error=True, ssr_mode=False,
        theme=offline_theme(),
    )
