"""Launch the omniar Gradio demo: `python apps/gradio_app.py [--host H] [--port P] [--share false]`.

The same as `omniar demo`; the app itself lives in the installed package (`omniar.app`).
"""

import sys

from omniar.cli import main

if __name__ == "__main__":
    sys.exit(main(["demo", *sys.argv[1:]]))
