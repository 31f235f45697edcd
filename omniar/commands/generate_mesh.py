"""`omniar generate mesh CLASS`: low-poly meshes from the embedded shapes model or a saved folder.

Several meshes (``--num N``) go side by side along x into one file; with ``--separate`` each
goes to its own numbered file instead (``chair.glb`` -> ``chair_0.glb``, ``chair_1.glb``, ...).
GLB files are y-up (glTF's convention); OBJ/PLY/STL/OFF keep the model's z-up. ``--png`` writes a
preview rendered with matplotlib.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from omniar.assets import asset_path
from omniar.commands.decoding_args import (
    SEQUENCE_DECODINGS,
    add_decoding_arguments,
    add_dtype_argument,
    decoding_options,
    decoding_summary,
    dtype_kwargs,
)
from omniar.commands.output_files import check_output_file, prepare_output_file
from omniar.pipelines.mesh import EXPORT_TYPES, MeshPipeline, MeshSampleReport, export_meshes
from omniar.pipelines.mesh_grammar import GRAMMAR_LEVELS

DEFAULT_MODEL = "shapes-mesh"


def load_mesh_pipeline(model: str = DEFAULT_MODEL, device: str = "auto", **kwargs) -> MeshPipeline:
    """A `MeshPipeline` from an embedded model name or a saved pipeline folder (`kwargs`, e.g.
    `torch_dtype`, go to `from_pretrained`)."""
    folder = Path(model)
    if not (folder / "model_index.json").is_file():
        if folder.exists() or "/" in model:
            raise ValueError(
                f"--model: {model} is not a saved pipeline folder (no model_index.json)")
        folder = asset_path(model)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    pipe = MeshPipeline.from_pretrained(str(folder), **kwargs)
    pipe.transformer.eval()
    return pipe.to(device)


def add_sampling_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by `generate mesh` and `eval mesh`."""
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help="embedded model name or saved pipeline folder "
                        f"(default {DEFAULT_MODEL})")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--preset", help="named sampling preset of the model (default: 'default')")
    parser.add_argument("--cfg", type=float, dest="guidance_scale",
                        help="classifier-free guidance scale (1 = off)")
    parser.add_argument("--temperature", type=float, help="sampling temperature (0 = greedy)")
    parser.add_argument("--top-k", type=int, help="keep the k most likely tokens (0 = off)")
    parser.add_argument("--top-p", type=float, help="nucleus sampling mass (1 = off)")
    add_decoding_arguments(parser, SEQUENCE_DECODINGS)
    parser.add_argument("--grammar", choices=GRAMMAR_LEVELS,
                        help="grammar mask level (default: manifold for sequential decoding)")
    parser.add_argument("--no-repair", dest="repair", action="store_false",
                        help="return meshes as decoded, without merging vertices or filling holes")
    parser.add_argument("--batch-size", type=int, default=16, help="meshes decoded together")
    parser.add_argument("--device", default="auto", help="cpu, cuda, mps or auto (default)")


def sampling_kwargs(args: argparse.Namespace) -> dict:
    return {"preset": args.preset, "decoding": args.decoding,
            "decoding_options": decoding_options(args),
            "guidance_scale": args.guidance_scale, "temperature": args.temperature,
            "top_k": args.top_k, "top_p": args.top_p,
            "batch_size": args.batch_size, "grammar": args.grammar, "repair": args.repair}


def describe(report: MeshSampleReport) -> str:
    """One line per mesh: faces, validity before/after repair, what the grammar and repair did."""
    status = "valid" if report.valid else "INVALID"
    before = "valid" if report.valid_raw else "invalid"
    raw = "" if report.valid == report.valid_raw else f" ({before} before repair)"
    changes = ", ".join(f"{value} {name.replace('_', ' ')}"
                        for name, value in report.repairs.items() if value)
    notes = [f"grammar overrode {report.grammar.get('overrides', 0)} tokens"]
    notes += [f"repair: {changes}"] if changes else []
    notes += report.problems[:3]
    return f"{report.num_faces} faces, {status}{raw}; {'; '.join(notes)}"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "mesh", help="generate low-poly meshes of a class (GLB/OBJ/PLY/STL, PNG preview)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("class_name", metavar="CLASS", help="shape class, e.g. chair")
    parser.add_argument("--num", type=int, default=1,
                        help="number of meshes (num_meshes; default 1)")
    parser.add_argument("--out", help=f"output file, one of .{', .'.join(EXPORT_TYPES)} "
                        "(default CLASS.glb)")
    parser.add_argument("--separate", action="store_true",
                        help="write each mesh to its own numbered file instead of side by side")
    parser.add_argument("--png", help="also write a PNG preview (needs matplotlib)")
    add_sampling_arguments(parser)
    add_dtype_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    suffixes = tuple(f".{kind}" for kind in EXPORT_TYPES)
    out = check_output_file("--out", args.out or f"{args.class_name}.glb", suffixes)
    png = check_output_file("--png", args.png, (".png",)) if args.png else None
    pipe = load_mesh_pipeline(args.model, args.device, **dtype_kwargs(args))
    call = {"class_labels": [args.class_name], "num_meshes": args.num, **sampling_kwargs(args)}
    pipe.check_inputs(**call)
    numbered = [out.with_name(f"{out.stem}_{i}{out.suffix}") for i in range(args.num)]
    if args.separate and args.num > 1:
        for path in numbered:
            check_output_file("--out", path, suffixes)
    result = pipe(**call, generator=torch.Generator(device=pipe.device).manual_seed(args.seed))
    for index, report in enumerate(result.reports):
        print(f"{args.class_name} #{index}: {describe(report)}")
    print(decoding_summary(result.stats, args.decoding, decoding_options(args)))
    if args.separate and len(result.meshes) > 1:
        written = [export_meshes(mesh, prepare_output_file(path))
                   for mesh, path in zip(result.meshes, numbered) if len(mesh.faces)]
    else:
        written = [export_meshes(result.meshes, prepare_output_file(out))]
    for path in written:
        print(f"wrote {path}")
    if png is not None:
        from omniar.eval.mesh_render import render_meshes

        titles = [f"{args.class_name} #{i}" for i in range(len(result.meshes))]
        render_meshes(result.meshes, prepare_output_file(png), titles=titles)
        print(f"wrote {png}")
    return 0
