"""`omniar generate graph MODEL [--num N] [--seed S] [--out FILE.jsonl] [--png FILE.png]`.

MODEL is an embedded model name (`omniar list`, e.g. graphs-planar) or a folder written by
`GraphPipeline.save_pretrained`. Graphs are written as JSON lines in the format of
`../shared/data/graphs` (`{"num_nodes": N, "edges": [[u, v], ...]}`), to `--out` or to stdout;
a summary goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys

import torch

from omniar.commands.decoding_args import (
    SEQUENCE_DECODINGS,
    add_decoding_arguments,
    add_dtype_argument,
    decoding_options,
    decoding_summary,
    dtype_kwargs,
)
from omniar.commands.output_files import check_output_file, prepare_output_file


def default_device() -> str:
    """CUDA, then Apple MPS, then CPU."""
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def load_pipeline(model: str, device: str | None = None, **kwargs):
    """A `GraphPipeline` from an embedded name or a saved folder, in eval mode on `device`
    (`kwargs`, e.g. `torch_dtype`, go to `from_pretrained`)."""
    from omniar.loading import resolve_model_folder
    from omniar.pipelines.graph import GraphPipeline

    folder = resolve_model_folder(model)
    kind = json.loads((folder / "model_index.json").read_text()).get("_class_name")
    if kind != "GraphPipeline":
        raise ValueError(f"model {model!r} is a {kind}, not a GraphPipeline")
    pipe = GraphPipeline.from_pretrained(str(folder), **kwargs)
    return pipe.to(device or default_device())


def add_sampling_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by `generate graph` and `eval graph`."""
    parser.add_argument("model", help="embedded model name (e.g. graphs-planar) or a pipeline folder")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--preset", help="sampling preset from the model config (default: 'default')")
    parser.add_argument("--temperature", type=float, help="override the preset's temperature")
    parser.add_argument("--top-k", type=int, help="override the preset's top-k (0 = off)")
    parser.add_argument("--top-p", type=float, help="override the preset's top-p (1 = off)")
    parser.add_argument("--batch-size", type=int, default=32, help="graphs decoded at once")
    add_decoding_arguments(parser, SEQUENCE_DECODINGS)
    parser.add_argument("--no-grammar-mask", action="store_true",
                        help="sample from the raw logits (no well-formedness mask; the mask is "
                        "only used with sequential decoding)")
    parser.add_argument("--structure-constraint", action="store_true",
                        help="sample only edges that keep each graph in the model's family "
                        "(planar: planar, tree: acyclic); changes the samples, see "
                        "omniar/pipelines/graph_constraints.py")
    parser.add_argument("--device", help="torch device (default: cuda, mps or cpu)")


def sampling_call(args: argparse.Namespace, num_graphs: int) -> dict:
    """The pipeline arguments of the command line's sampling options (all but the generator)."""
    return {
        "num_graphs": num_graphs, "temperature": args.temperature, "top_k": args.top_k,
        "top_p": args.top_p, "batch_size": args.batch_size, "preset": args.preset,
        "decoding": args.decoding, "decoding_options": decoding_options(args),
        "grammar_mask": False if args.no_grammar_mask else None,
        "structure_constraint": args.structure_constraint,
    }


def sample_graphs(pipe, args: argparse.Namespace, num_graphs: int):
    """Run the pipeline with the command line's sampling options."""
    generator = torch.Generator(pipe.transformer.device).manual_seed(args.seed)
    return pipe(**sampling_call(args, num_graphs), generator=generator)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "graph", help="generate graphs (JSON lines, optional PNG drawing)",
        description="Sample graphs from an embedded or saved GraphPipeline.",
    )
    add_sampling_arguments(parser)
    add_dtype_argument(parser)
    parser.add_argument("--num", type=int, default=16,
                        help="number of graphs (num_graphs; default 16)")
    parser.add_argument("--out", help="write the graphs here as JSON lines, FILE.jsonl "
                        "(default: stdout)")
    parser.add_argument("--png", help="also draw the graphs into this PNG file")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from omniar.data.graph_files import graph_to_record

    out_file = check_output_file("--out", args.out, (".jsonl",)) if args.out else None
    png = check_output_file("--png", args.png, (".png",)) if args.png else None
    pipe = load_pipeline(args.model, args.device, **dtype_kwargs(args))
    pipe.check_inputs(**sampling_call(args, args.num))
    pipe.set_progress_bar_config(disable=not sys.stderr.isatty())
    out = sample_graphs(pipe, args, args.num)
    lines = [json.dumps(graph_to_record(graph)) + "\n" for graph in out.graphs]
    if out_file is not None:
        prepare_output_file(out_file).write_text("".join(lines), encoding="utf-8")
    else:
        sys.stdout.writelines(lines)
    if png is not None:
        from omniar.eval.graph_draw import draw_graphs

        draw_graphs(out.graphs, prepare_output_file(png), seed=args.seed)
    stats = out.stats
    print(
        f"generated {args.num} graphs ({stats['mean_nodes']:.1f} nodes, "
        f"{stats['mean_edges']:.1f} edges on average; {stats['num_repaired']} repaired) in "
        f"{stats['seconds']:.1f} s" + (f" -> {args.out}" if args.out else ""),
        file=sys.stderr,
    )
    print(decoding_summary(stats, args.decoding, decoding_options(args)), file=sys.stderr)
    for i, report in enumerate(out.reports):
        if report:
            print(f"graph {i}: " + "; ".join(report), file=sys.stderr)
    return 0
