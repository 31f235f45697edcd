"""Image tab: text-to-image with every shipped order and decoding, and a decoding comparison.

The order menu lists each (order, model) pair of the `ImagePipeline`s in assets/, so a newly
shipped model with another order shows up without code changes. "Compare decodings" runs
sequential and Jacobi decoding with the same seed and shows both with their cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr
from PIL import Image

from omniar.app.events import GENERATION_JOB, shows_errors
from omniar.app.formatting import markdown_table, stats_table
from omniar.app.models import (
    default_sampling,
    embedded_pipelines,
    get_pipeline,
    pipeline_config,
    seeded_generator,
)
from omniar.app.validation import (
    check_choice,
    check_integer,
    check_number,
    check_prompt,
    check_seed,
)
from omniar.pipelines.image_output import image_grid
from omniar.samplers.registry import DECODERS

TITLE = "Image"
POSITION = 10

MAX_IMAGES = 16
MAX_GUIDANCE = 10.0
MAX_TEMPERATURE = 2.0
MAX_TOP_K = 1000
PREVIEW_SCALE = 8
"""Generated images are 32x32; they are shown upscaled with nearest neighbour."""

COMPARED_DECODINGS = ("sequential", "jacobi")
STATS_LABELS = {
    "forward_passes": "forward passes",
    "forward_passes_per_image": "forward passes per image",
    "seconds": "seconds",
    "tokens_per_pass": "accepted tokens per pass",
    "tokens_generated": "tokens",
    "order": "order",
    "decoding": "decoding",
}


@dataclass
class ImageResult:
    """Generated images (PIL, model resolution) and the pipeline's stats."""

    images: list[Image.Image]
    stats: dict[str, Any]


def order_choices() -> list[tuple[str, str]]:
    """(label, value) menu entries: each order of each shipped image model, value "model:order"."""
    return [
        (f"{order} ({name})", f"{name}:{order}")
        for name in embedded_pipelines("ImagePipeline")
        for order in pipeline_config(name).get("orders", ["raster"])
    ]


def available() -> bool:
    return bool(order_choices())


def generate_images(
    pipe: Any, prompt: str, order: str, decoding: str, guidance_scale: float, temperature: float,
    top_k: int, seed: int, num_images: int,
) -> ImageResult:
    """Run an `ImagePipeline` once with checked settings (ValueError names a bad one)."""
    text = check_prompt(prompt)
    condition = {"prompt": text} if pipe.is_text_conditional else {"class_labels": text}
    output = pipe(
        **condition, order=order, decoding=check_choice("decoding", decoding, list(DECODERS)),
        guidance_scale=check_number("guidance scale", guidance_scale, 1.0, MAX_GUIDANCE),
        temperature=check_number("temperature", temperature, 0.0, MAX_TEMPERATURE),
        top_k=check_integer("top-k", top_k, 0, MAX_TOP_K),
        num_images_per_prompt=check_integer("number of images", num_images, 1, MAX_IMAGES),
        generator=seeded_generator(pipe, check_seed(seed)),
    )
    return ImageResult(output.images, output.stats)


def compare_decodings(pipe: Any, prompt: str, order: str, guidance_scale: float, temperature: float,
                      top_k: int, seed: int, num_images: int) -> dict[str, ImageResult]:
    """The same request decoded sequentially and with Jacobi decoding, from the same seed."""
    return {
        decoding: generate_images(pipe, prompt, order, decoding, guidance_scale, temperature, top_k,
                                  seed, num_images)
        for decoding in COMPARED_DECODINGS
    }


def _pipeline_and_order(model_order: str, progress: gr.Progress) -> tuple[Any, str]:
    value = check_choice("order", model_order, [value for _, value in order_choices()])
    name, order = value.split(":", 1)
    progress(0, desc=f"loading {name}")
    return get_pipeline(name), order


@shows_errors
def on_generate(prompt: str, model_order: str, decoding: str, guidance_scale: float, temperature: float,
                top_k: int, seed: int, num_images: int, progress: gr.Progress = gr.Progress(track_tqdm=True)
                ) -> tuple[list[Image.Image], str]:
    """Generate button: the upscaled images and a stats table."""
    pipe, order = _pipeline_and_order(model_order, progress)
    result = generate_images(pipe, prompt, order, decoding, guidance_scale, temperature, top_k, seed,
                             num_images)
    previews = [image_grid([image], scale=PREVIEW_SCALE) for image in result.images]
    return previews, stats_table(result.stats, STATS_LABELS)


@shows_errors
def on_compare(prompt: str, model_order: str, guidance_scale: float, temperature: float, top_k: int,
               seed: int, num_images: int, progress: gr.Progress = gr.Progress(track_tqdm=True)
               ) -> tuple[Image.Image, Image.Image, str]:
    """Compare button: one grid per decoding and a table of their times and forward passes."""
    pipe, order = _pipeline_and_order(model_order, progress)
    results = compare_decodings(pipe, prompt, order, guidance_scale, temperature, top_k, seed, num_images)
    rows = [(name, r.stats["seconds"], r.stats["forward_passes"], r.stats["tokens_per_pass"])
            for name, r in results.items()]
    table = markdown_table(("decoding", "seconds", "forward passes", "accepted tokens per pass"), rows)
    grids = [image_grid(results[name].images, scale=PREVIEW_SCALE // 2) for name in COMPARED_DECODINGS]
    return grids[0], grids[1], table


def build() -> None:
    """Prompt and sampling settings on the left, the images and their stats on the right."""
    choices = order_choices()
    defaults = default_sampling(choices[0][1].split(":", 1)[0])
    with gr.Row():
        with gr.Column():
            prompt = gr.Textbox(label="Prompt", value="grinning face", max_lines=1)
            model_order = gr.Dropdown(choices, value=choices[0][1], label="Order (model)")
            decoding = gr.Radio(list(DECODERS), value="sequential", label="Decoding")
            guidance = gr.Slider(1.0, MAX_GUIDANCE, value=defaults["guidance_scale"], step=0.25,
                                 label="Guidance scale")
            temperature = gr.Slider(0.0, MAX_TEMPERATURE, value=defaults["temperature"], step=0.05,
                                    label="Temperature (0 = greedy)")
            top_k = gr.Slider(0, MAX_TOP_K, value=defaults["top_k"], step=1, label="Top-k (0 = off)")
            seed = gr.Number(0, label="Seed", precision=0)
            num_images = gr.Slider(1, MAX_IMAGES, value=4, step=1, label="Number of images")
            with gr.Row():
                generate = gr.Button("Generate", variant="primary")
                compare = gr.Button("Compare decodings")
        with gr.Column():
            gallery = gr.Gallery(label="Images", format="png", columns=4, height="auto", elem_id="image-gallery",
                                 buttons=["download", "fullscreen"])
            stats = gr.Markdown(elem_id="image-stats")
    with gr.Row():
        sequential_grid = gr.Image(label="sequential", format="png", height=280, buttons=["download"],
                                   elem_id="compare-sequential")
        jacobi_grid = gr.Image(label="jacobi", format="png", height=280, buttons=["download"],
                               elem_id="compare-jacobi")
    comparison = gr.Markdown(elem_id="compare-stats")
    generate.click(
        on_generate, [prompt, model_order, decoding, guidance, temperature, top_k, seed, num_images],
        [gallery, stats], api_name="generate_image", **GENERATION_JOB,
    )
    compare.click(
        on_compare, [prompt, model_order, guidance, temperature, top_k, seed, num_images],
        [sequential_grid, jacobi_grid, comparison], api_name="compare_decodings", **GENERATION_JOB,
    )
