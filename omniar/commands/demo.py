"""`omniar demo [--host 127.0.0.1] [--port 7860] [--share false]`: the Gradio demo app.

It binds to this machine only unless `--host` says otherwise, sends no analytics, loads no web
fonts, and makes a public share link only with `--share true`.
"""

from __future__ import annotations

import argparse
import socket

TRUE_WORDS = ("true", "yes", "1", "on")
FALSE_WORDS = ("false", "no", "0", "off")


def parse_bool(text: str) -> bool:
    """'true'/'false' (also yes/no, 1/0, on/off) as a bool, for `--share`."""
    word = text.strip().lower()
    if word not in TRUE_WORDS + FALSE_WORDS:
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return word in TRUE_WORDS


def check_can_listen(host: str, port: int) -> None:
    """Fail early, before any model loads, when `host:port` cannot be listened on."""
    try:
        family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as error:
        raise ValueError(
            f"cannot listen on {host}:{port} ({error.strerror or error}); choose another --port or --host"
        ) from error


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="serve the Gradio demo app (image, audio, 3D and graph tabs)",
        description="Serve the Gradio demo in the browser, with one tab per modality whose "
        "embedded model is installed. Needs the app extra: pip install 'omniar[app]'.",
    )
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1: reachable from this machine only)")
    parser.add_argument("--port", type=int, default=7860, help="port to listen on (default 7860)")
    parser.add_argument("--share", type=parse_bool, default=False, metavar="true|false",
                        help="also make a public gradio.live link (downloads Gradio's tunnel; "
                        "default false)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.port <= 65535:
        raise ValueError(f"--port must be between 1 and 65535, got {args.port}")
    check_can_listen(args.host, args.port)
    try:
        from omniar.app import launch
    except ModuleNotFoundError as error:
        if error.name != "gradio":
            raise
        raise ValueError("the demo needs Gradio: pip install 'omniar[app]'") from error
    try:
        launch(host=args.host, port=args.port, share=args.share)
    except OSError as error:
        raise ValueError(f"could not serve the demo on {args.host}:{args.port}: {error}") from error
    return 0
