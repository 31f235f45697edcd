"""`omniar eval mesh`: tokenizer figures and generation quality of a mesh model.

Tokenizer: tokens per face of both serialisations, the faces its quantisation dropped
(``dropped_faces``, ``dropped_fraction``) and the round-trip error (Chamfer distance and largest
vertex error after quantisation) on the held-out procedural shapes.

Generation: ``--num`` meshes per class, compared with as many held-out procedural meshes of the
same class: share of valid meshes (faces present, no degenerate faces, consistent winding,
watertight, as every procedural shape is), COV, MMD and 1-NNA (Chamfer on sampled surface
points, `omniar.eval.mesh_metrics`), per class and overall. ``valid_fraction_raw`` is the share
as decoded, before the pipeline's repair (`omniar.pipelines.mesh_repair`); ``repaired_fraction``
the share the repair changed; ``grammar_overrides_mean`` how many steps per mesh the grammar
mask overrode the model's most likely token (``--grammar``, `omniar.pipelines.mesh_grammar`).
``--num 0`` measures the tokenizer only. Figures are per shape class (the report's groups) and
over all classes, in the schema shared by every eval command (`omniar.eval.report`).
"""

from __future__ import annotations

import argparse
from typing import Any

from omniar.commands.generate_mesh import (
    add_sampling_arguments,
    load_mesh_pipeline,
    sampling_kwargs,
)
from omniar.eval.mesh_generation import evaluate_generation, tokenizer_figures
from omniar.eval.report import ALL, EvalReport, print_report

__all__ = ["evaluate_generation", "register", "run", "tokenizer_figures"]

COLUMNS = ("n", "valid_fraction", "valid_fraction_raw", "watertight_fraction",
           "repaired_fraction", "grammar_overrides_mean", "cov", "mmd", "1nna", "mean_faces",
           "tokens_per_face_adjacency", "dropped_faces", "dropped_fraction")


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


def mesh_report(model: str, seed: int, tokenizer: dict[str, dict[str, Any]],
                generation: dict[str, Any] | None) -> EvalReport:
    """The eval report: per class (and ``"all"``), the generation figures beside the tokenizer's."""
    groups: dict[str, dict[str, Any]] = {}
    per_class = {} if generation is None else {ALL: generation["overall"], **generation["per_class"]}
    for name in [ALL, *[key for key in {**tokenizer, **per_class} if key != ALL]]:
        generated = per_class.get(name, {})
        count = generated.get("num_generated", tokenizer.get(name, {}).get("num_meshes", 0))
        groups[name] = {"n": count, **generated, **tokenizer.get(name, {})}
    return EvalReport(
        model=model,
        data="generated" if generation else "held-out procedural shapes",
        n=groups[ALL]["n"],
        groups=groups,
        settings={"seed": seed, **({"stats": generation["stats"]} if generation else {})},
    )


def run(args: argparse.Namespace) -> int:
    if args.num < 0 or args.tokenizer_num < 1:
        raise ValueError("--num must be >= 0 and --tokenizer-num >= 1")
    pipe = load_mesh_pipeline(args.model, args.device)
    tokenizer = tokenizer_figures(pipe, args.tokenizer_num, args.seed)
    generation = (evaluate_generation(pipe, args.num, args.seed, **sampling_kwargs(args))
                  if args.num else None)
    report = mesh_report(args.model, args.seed, tokenizer, generation)
    overall = tokenizer[ALL]
    notes = (f"tokens per face: coordinates {overall['tokens_per_face_coordinates']:.2f}, "
             f"adjacency {overall['tokens_per_face_adjacency']:.2f}; quantisation dropped "
             f"{overall['dropped_faces']} faces ({100 * overall['dropped_fraction']:.1f}%) of "
             f"{overall['num_meshes']} held-out shapes; round trip: Chamfer mean "
             f"{overall['round_trip_chamfer_mean']:.2e}, max vertex error "
             f"{overall['max_vertex_error']:.4f} (half step {overall['half_step']:.4f})")
    print_report(report, args.out_json, notes, COLUMNS)
    return 0
