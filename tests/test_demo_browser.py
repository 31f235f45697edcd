"""The Gradio demo in a real browser: headless Chromium (Debian's `chromium`) driven by Playwright.

Uses the app process of test_demo_app.py (`shared_demo`). Every request the page makes must stay
on 127.0.0.1: no analytics, web fonts or CDN scripts.
"""

from __future__ import annotations

import io
import shutil
from urllib.parse import urlparse

import pytest

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no `chromium` on PATH (Debian's chromium package; .ci/run installs it with apt-get)",
)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (pip install -e '.[dev]')")
pytest.importorskip("gradio", reason="the demo needs gradio (pip install -e '.[dev]')")

from PIL import Image  # noqa: E402
from test_demo_app import DemoServer, shared_demo  # noqa: E402

GALLERY_IMAGE = "#image-gallery img"
TIMEOUT_MS = 60_000
LOCAL_SCHEMES = ("data", "blob", "about")


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        yield browser
        browser.close()


@pytest.fixture
def demo_page(browser):
    """A fresh page on the demo's start page; asserts afterwards that no request left the machine."""
    server: DemoServer = shared_demo()
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(server.url)
    page.get_by_role("button", name="Generate", exact=True).wait_for()
    yield page
    context.close()
    outside = [url for url in requested
               if urlparse(url).scheme not in LOCAL_SCHEMES and urlparse(url).hostname != "127.0.0.1"]
    assert not outside, f"the page made requests off this machine: {outside}"


def generate(page, prompt: str) -> None:
    page.get_by_label("Prompt").fill(prompt)
    page.get_by_role("button", name="Generate", exact=True).click()


def shown_image(page) -> Image.Image:
    """Wait for the first gallery image to be decoded by the browser, then fetch its file."""
    image = page.locator(GALLERY_IMAGE).first
    image.wait_for(state="visible")
    page.wait_for_function(
        f"() => {{ const img = document.querySelector('{GALLERY_IMAGE}'); "
        "return img && img.complete && img.naturalWidth > 0; }"
    )
    response = page.request.get(image.get_attribute("src"))
    assert response.ok
    return Image.open(io.BytesIO(response.body()))


def assert_non_empty(image: Image.Image) -> None:
    assert image.width > 0 and image.height > 0
    low, high = image.convert("L").getextrema()
    assert low < high, "the generated image is a single flat colour"


def test_prompt_generate_shows_an_image(demo_page, tmp_path):
    generate(demo_page, "grinning face")
    assert_non_empty(shown_image(demo_page))
    screenshot = tmp_path / "demo.png"
    demo_page.screenshot(path=str(screenshot), full_page=True)
    assert Image.open(screenshot).size[0] >= 1000


def test_empty_prompt_shows_an_error_and_the_next_request_works(demo_page):
    generate(demo_page, "")
    demo_page.get_by_text("The prompt is empty").first.wait_for(state="visible")
    assert demo_page.locator(GALLERY_IMAGE).count() == 0
    generate(demo_page, "red apple")
    assert_non_empty(shown_image(demo_page))


def test_mesh_and_graph_tabs_render_their_output(demo_page):
    demo_page.get_by_role("tab", name="3D").click()
    demo_page.get_by_role("button", name="Generate mesh").click()
    demo_page.locator("#mesh-viewer canvas").wait_for(state="visible")
    obj_link = demo_page.locator("#mesh-files a[download='cube.obj']")
    obj_link.wait_for(state="visible")
    assert b"\nf " in demo_page.request.get(obj_link.get_attribute("href")).body()
    demo_page.get_by_role("tab", name="Graph").click()
    demo_page.get_by_role("button", name="Generate graphs").click()
    drawing = demo_page.locator("#graph-drawing img")
    drawing.wait_for(state="visible")
    assert_non_empty(Image.open(io.BytesIO(demo_page.request.get(drawing.get_attribute("src")).body())))
