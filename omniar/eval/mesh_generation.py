"""Mesh model evaluation against held-out procedural shapes (``omniar eval mesh``, and the
preset choice at the end of mesh training).

- :func:`tokenizer_figures`: tokens per face of both serialisations, faces the quantisation
  dropped, and the round-trip error, per shape class and over all classes.
- :func:`evaluate_generation`: ``num_per_class`` generated meshes per class compared with as many
  held-out procedural meshes of that class: validity shares and COV / MMD / 1-NNA
  (`omniar.eval.mesh_metrics`), with what the pipeline's grammar and repair did.
"""

from __future__ import annotations

from typing import Any

import torch

from omniar.data.shapes import SHAPE_CLASSES, generate_shapes
from omniar.eval.mesh_metrics import evaluate_meshes, round_trip_error, tokens_per_face
from omniar.eval.report import ALL
from omniar.pipelines.mesh import MeshPipeline, summarize_reports


def tokenizer_figures(
    pipe: MeshPipeline, num_per_class: int = 20, seed: int = 0
) -> dict[str, dict[str, Any]]:
    """Per class and over all (``"all"``): tokens per face, dropped faces and round-trip error
    of the pipeline's tokenizer on ``num_per_class`` held-out procedural shapes per class."""
    shapes = generate_shapes(num_per_class, "held_out", seed)
    tokenizer = pipe.tokenizer
    bits = tokenizer.config.quantization_bits

    def figures(meshes: list) -> dict[str, Any]:
        per_face = tokens_per_face(meshes, bits)
        trip = round_trip_error(meshes, tokenizer, seed=seed)
        return {
            "num_meshes": len(meshes),
            "tokens_per_face_coordinates": per_face["coordinates"],
            "tokens_per_face_adjacency": per_face["adjacency"],
            "dropped_faces": per_face["dropped_faces"],
            "dropped_fraction": per_face["dropped_fraction"],
            "round_trip_chamfer_mean": trip["chamfer_mean"],
            "max_vertex_error": trip["max_vertex_error"],
            "half_step": trip["half_step"],
        }

    out = {ALL: figures([mesh for mesh, _ in shapes])}
    for index, name in enumerate(SHAPE_CLASSES):
        meshes = [mesh for mesh, label in shapes if label == index]
        if meshes:
            out[name] = figures(meshes)
    return out


def evaluate_generation(
    pipe: MeshPipeline,
    num_per_class: int = 10,
    seed: int = 0,
    num_points: int = 1024,
    batch_size: int = 50,
    **sampling: Any,
) -> dict[str, Any]:
    """Generate ``num_per_class`` meshes per class and score them against held-out shapes.

    ``sampling`` goes to the pipeline call (preset, temperature, guidance_scale, grammar,
    repair, ...); ``batch_size`` meshes are decoded together. Validity and the set metrics are
    measured on the pipeline's output meshes; the per-sample reports add the share valid before
    repair and what the grammar and the repair did.
    Returns ``{"overall": metrics, "per_class": {name: metrics}, "stats": decoding stats}``.
    """
    classes = pipe.class_names
    unknown = sorted(set(classes) - set(SHAPE_CLASSES))
    if unknown:
        raise ValueError(f"--model: classes {unknown} are not procedural shape classes "
                         f"{SHAPE_CLASSES}, so there is no held-out reference to compare with")
    reference = generate_shapes(num_per_class, "held_out", seed, classes)
    generator = torch.Generator(device=pipe.device).manual_seed(seed)
    result = pipe(class_labels=classes, num_meshes=num_per_class, generator=generator,
                  batch_size=batch_size, **sampling)
    labels = [report.class_name for report in result.reports]

    def score(names: list[str]) -> dict[str, float]:
        picked = [i for i, label in enumerate(labels) if label in names]
        metrics = evaluate_meshes([result.meshes[i] for i in picked],
                                  [m for m, c in reference if SHAPE_CLASSES[c] in names],
                                  num_points=num_points, seed=seed)
        reports = summarize_reports([result.reports[i] for i in picked])
        return {**metrics, **{key: value for key, value in reports.items() if key not in metrics}}

    return {"overall": score(classes), "per_class": {name: score([name]) for name in classes},
            "stats": result.stats}
