"""`omniar eval mesh`: tokenizer figures and generation quality of a mesh model.

Tokenizer: tokens per face of both serialisations and the round-trip error (Chamfer distance
and largest vertex error after quantisation) on the held-out procedural shapes.

Generation: ``--num`` meshes per class, compared with as many held-out procedural meshes of the
same class: share of valid meshes (faces present, no degenerate faces, consistent winding,
watertight, as every procedural shape is), COV, MMD and 1-NNA (Chamfer on sampled surface
points, `omniar.eval.mesh_metrics`), per class and overall. ``valid_fraction_raw`` is the share
as decoded, before the pipeline's repair (`omniar.pipelines.mesh_repair`); ``repaired_fraction``
the share the repair changed; ``grammar_overrides_mean`` how many steps per mesh the grammar
mask overrode the model's most likely token (``--grammar``, `omniar.pipelines.mesh_grammar`).
``--num 0`` measures the tokenizer only.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch

from omniar.commands.generate_mesh import (
    add_sampling_arguments,
    load_mesh_pipeline,
    sampling_kwargs,
)
from omniar.data.shapes import SHAPE_CLASSES, generate_shapes
from omniar.eval.mesh_metrics import evaluate_meshes, round_trip_error, tokens_per_face
from omniar.pipelines.mesh import MeshPipeline, summarize_reports


def tokenizer_figures(pipe: MeshPipeline, num_per_class: int = 20, seed: int = 0) -> dict[str, Any]:
    """Tokens per face (both serialisations) and round-trip error on held-out procedural shapes."""
    meshes = [mesh for mesh, _ in generate_shapes(num_per_class, "held_out", seed)]
    tokenizer = pipe.tokenizer
    return {"num_meshes": len(meshes),
            "tokens_per_face": tokens_per_face(meshes, tokenizer.config.quantization_bits),
            "round_trip": round_trip_error(meshes, tokenizer, seed=seed)}


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


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "mesh", help="tokenizer figures and generation quality (valid share, COV, MMD, 1-NNA)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--num", type=int, default=10,
                        help="generated meshes per class (default 10; 0 = tokenizer figures only)")
    parser.add_argument("--tokenizer-num", type=int, default=20,
                        help="held-out meshes per class for the tokenizer figures (default 20)")
    parser.add_argument("--out-json", help="write all figures to this JSON file")
    add_sampling_arguments(parser)
    parser.set_defaults(run=run)


def _row(name: str, metrics: dict[str, float]) -> str:
    return (f"{name:<10} {metrics['valid_fraction']:>6.2f} {metrics['valid_fraction_raw']:>6.2f} "
            f"{metrics['watertight_fraction']:>6.2f} {metrics['repaired_fraction']:>6.2f} "
            f"{metrics['grammar_overrides_mean']:>6.1f} {metrics['cov']:>6.2f} "
            f"{metrics['mmd']:>8.4f} {metrics['1nna']:>6.2f} {metrics['mean_faces']:>7.1f}")


def run(args: argparse.Namespace) -> int:
    if args.num < 0 or args.tokenizer_num < 1:
        raise ValueError("--num must be >= 0 and --tokenizer-num >= 1")
    pipe = load_mesh_pipeline(args.model, args.device)
    figures: dict[str, Any] = {"model": args.model, "seed": args.seed,
                               "tokenizer": tokenizer_figures(pipe, args.tokenizer_num, args.seed)}
    per_face = figures["tokenizer"]["tokens_per_face"]
    trip = figures["tokenizer"]["round_trip"]
    print(f"tokens per face: coordinates {per_face['coordinates']:.2f}, adjacency "
          f"{per_face['adjacency']:.2f} (ratio {per_face['ratio']:.2f})")
    print(f"round trip: Chamfer mean {trip['chamfer_mean']:.2e}, max vertex error "
          f"{trip['max_vertex_error']:.4f} (half step {trip['half_step']:.4f})")
    if args.num:
        figures["generation"] = evaluate_generation(
            pipe, args.num, args.seed, **sampling_kwargs(args))
        print(f"{'class':<10} {'valid':>6} {'raw':>6} {'closed':>6} {'fixed':>6} {'overr.':>6} "
              f"{'COV':>6} {'MMD':>8} {'1-NNA':>6} {'faces':>7}")
        for name, metrics in figures["generation"]["per_class"].items():
            print(_row(name, metrics))
        print(_row("overall", figures["generation"]["overall"]))
    if args.out_json:
        Path(args.out_json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out_json).write_text(json.dumps(figures, indent=2, default=float))
        print(f"wrote {args.out_json}")
    return 0
