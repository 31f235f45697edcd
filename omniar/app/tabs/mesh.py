"""3D tab: a low-poly mesh of a chosen class from the shipped `MeshPipeline`, shown in 3D.

The mesh is written as GLB (shown by `gr.Model3D`, y-up as glTF requires) and OBJ (z-up, like
the training data), and both are offered for download.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from omniar.app.events import GENERATION_JOB, shows_errors
from omniar.app.formatting import stats_table
from omniar.app.models import embedded_pipelines, get_pipeline, seeded_generator
from omniar.app.outputs import request_folder
from omniar.app.validation import check_choice, check_seed
from omniar.pipelines.mesh import MeshSampleReport, export_meshes

TITLE = "3D"
POSITION = 30

MODEL = "shapes-mesh"
STATS_LABELS = {
    "num_faces": "faces",
    "num_vertices": "vertices",
    "valid": "valid (watertight, consistent winding)",
    "problems": "fixed while decoding",
    "forward_passes": "forward passes",
    "seconds": "seconds",
}


@dataclass
class MeshResult:
    """The mesh as GLB and OBJ files, its report, and the pipeline's stats."""

    glb: Path
    obj: Path
    report: MeshSampleReport
    stats: dict[str, Any]


def available() -> bool:
    return MODEL in embedded_pipelines("MeshPipeline")


def generate_mesh(pipe: Any, class_name: str, seed: int, folder: Path) -> MeshResult:
    """One mesh of `class_name`, written to `folder` as GLB and OBJ."""
    name, seed = check_choice("class", class_name, pipe.class_names), check_seed(seed)
    output = pipe(class_labels=[name], num_meshes=1, generator=seeded_generator(pipe, seed))
    mesh = output.meshes[0]
    if len(mesh.faces) == 0:
        raise ValueError(f"The {name} sampled with seed {seed} has no faces; try another seed.")
    glb = export_meshes(mesh, folder / f"{name}.glb")
    obj = export_meshes(mesh, folder / f"{name}.obj")
    return MeshResult(glb, obj, output.reports[0], output.stats)


@shows_errors
def on_generate(class_name: str, seed: int, progress: gr.Progress = gr.Progress(track_tqdm=True)
                ) -> tuple[str, list[str], str]:
    """Generate button: the GLB for the viewer, both files for download, and a stats table."""
    progress(0, desc=f"loading {MODEL}")
    result = generate_mesh(get_pipeline(MODEL), class_name, seed, request_folder("mesh"))
    report = result.report
    facts = {"num_faces": report.num_faces, "num_vertices": report.num_vertices,
             "valid": "yes" if report.valid else "no", "problems": "; ".join(report.problems) or "nothing",
             **result.stats}
    return str(result.glb), [str(result.glb), str(result.obj)], stats_table(facts, STATS_LABELS)


def build() -> None:
    """Class and seed on the left; the 3D view, the files and the stats on the right."""
    classes = get_pipeline(MODEL).class_names
    with gr.Row():
        with gr.Column(scale=1):
            class_name = gr.Dropdown(classes, value=classes[0], label="Class")
            seed = gr.Number(0, label="Seed", precision=0)
            generate = gr.Button("Generate mesh", variant="primary")
            stats = gr.Markdown()
        with gr.Column(scale=2):
            viewer = gr.Model3D(label="Mesh", clear_color=(1.0, 1.0, 1.0, 1.0), elem_id="mesh-viewer")
            files = gr.File(label="Download (GLB, OBJ)", file_count="multiple", interactive=False,
                            elem_id="mesh-files")
    generate.click(on_generate, [class_name, seed], [viewer, files, stats], api_name="generate_mesh",
                   **GENERATION_JOB)
