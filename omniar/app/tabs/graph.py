"""Graph tab: sample graphs from a shipped `GraphPipeline`, draw them and tabulate their metrics.

The metrics need no reference data: sizes, the share of graphs valid for the model's family
(tree, planar, ...), the share that are unique (not isomorphic to an earlier sample), the
samples the tokenizer had to repair, and the decoding cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from omniar.app.events import GENERATION_JOB, shows_errors
from omniar.app.models import embedded_pipelines, get_pipeline, seeded_generator
from omniar.app.outputs import request_folder
from omniar.app.validation import check_choice, check_integer, check_seed
from omniar.eval.graph_draw import draw_graphs
from omniar.eval.graph_metrics import VALIDITY, uniqueness_novelty

TITLE = "Graph"
POSITION = 40

MAX_GRAPHS = 16


@dataclass
class GraphResult:
    """A PNG drawing of the graphs, (metric, value) rows, and the pipeline's stats."""

    drawing: Path
    metrics: list[list[str]]
    stats: dict[str, Any]


def available() -> bool:
    return bool(embedded_pipelines("GraphPipeline"))


def graph_metrics(graphs: list, stats: dict[str, Any], family: str | None) -> list[list[str]]:
    """(metric, value) rows for a set of sampled graphs; validity only for a known family."""
    validity = VALIDITY.get(family) if family else None
    shares = uniqueness_novelty(graphs, [], validity)
    rows = [
        ["graphs", len(graphs)],
        ["mean nodes", stats["mean_nodes"]],
        ["mean edges", stats["mean_edges"]],
        ["unique", f"{shares['uniqueness']:.0%}"],
        ["repaired by the decoder", stats["num_repaired"]],
        ["forward passes", stats["forward_passes"]],
        ["seconds", stats["seconds"]],
    ]
    if shares["validity"] is not None:
        rows.insert(3, [f"valid ({family})", f"{shares['validity']:.0%}"])
    return [[name, f"{value:.1f}" if isinstance(value, float) else str(value)] for name, value in rows]


def generate_graphs(pipe: Any, num_graphs: int, seed: int, folder: Path) -> GraphResult:
    """Sample `num_graphs` graphs, draw them into `folder`, and compute their metrics."""
    count = check_integer("number of graphs", num_graphs, 1, MAX_GRAPHS)
    seed = check_seed(seed)
    output = pipe(num_graphs=count, generator=seeded_generator(pipe, seed))
    drawing = draw_graphs(output.graphs, folder / "graphs.png", seed=seed)
    return GraphResult(drawing, graph_metrics(output.graphs, output.stats, pipe.config.family), output.stats)


@shows_errors
def on_generate(model: str, num_graphs: int, seed: int,
                progress: gr.Progress = gr.Progress(track_tqdm=True)) -> tuple[str, list[list[str]]]:
    """Generate button: the drawing and the metrics table."""
    name = check_choice("model", model, embedded_pipelines("GraphPipeline"))
    progress(0, desc=f"loading {name}")
    result = generate_graphs(get_pipeline(name), num_graphs, seed, request_folder("graphs"))
    return str(result.drawing), result.metrics


def build() -> None:
    """Model, count and seed on the left; the drawing and the metrics on the right."""
    models = embedded_pipelines("GraphPipeline")
    with gr.Row():
        with gr.Column(scale=1):
            model = gr.Dropdown(models, value=models[0], label="Model")
            num_graphs = gr.Slider(1, MAX_GRAPHS, value=4, step=1, label="Number of graphs")
            seed = gr.Number(0, label="Seed", precision=0)
            generate = gr.Button("Generate graphs", variant="primary")
            metrics = gr.Dataframe(headers=["metric", "value"], label="Metrics", interactive=False)
        with gr.Column(scale=2):
            drawing = gr.Image(label="Graphs", format="png", type="filepath", buttons=["download", "fullscreen"],
                               elem_id="graph-drawing")
    generate.click(on_generate, [model, num_graphs, seed], [drawing, metrics], api_name="generate_graphs",
                   **GENERATION_JOB)
