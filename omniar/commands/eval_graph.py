"""`omniar eval graph MODEL --family planar|tree|sbm|community [--num N] [--out-json F] [--out-md F]`.

Samples N graphs (default: as many as the reference split holds), then measures them with
`omniar.eval.graph_metrics.evaluate_graphs`: degree, clustering, orbit and spectral MMD against
the split (`--split test` by default; use `--split val` to choose sampling settings), validity
for the family (none for community-small), uniqueness, novelty against the training split, and
V.U.N. Community-small's one file is cut into splits by `omniar.data.graph_benchmarks`. Writes the figures
as JSON in the schema every eval command shares (`omniar.eval.report`; one group, "all") and a
markdown table beside the published ones, and prints both.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from omniar.commands.generate_graph import add_sampling_arguments, load_pipeline, sample_graphs
from omniar.data.graph_benchmarks import BENCHMARK_FAMILIES

DEFAULT_DATA_ROOT = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "graph", help="graph generation metrics (MMD, validity, V.U.N.) against a benchmark split",
        description="Sample graphs and compare them with a SPECTRE benchmark split "
        "(GRAN/DiGress metrics), next to published figures.",
    )
    add_sampling_arguments(parser)
    parser.add_argument("--data-root", default=str(DEFAULT_DATA_ROOT),
                        help="folder with graphs/{family}_{split}.jsonl or graphs/community_small.jsonl "
                        "(default ../shared/data)")
    parser.add_argument("--family", choices=BENCHMARK_FAMILIES,
                        help="benchmark family (default: the model's configured family)")
    parser.add_argument("--split", default="test", choices=("test", "val"),
                        help="reference split for the MMDs (default test)")
    parser.add_argument("--num", type=int, help="graphs to sample (default: size of the split)")
    parser.add_argument("--out-json", help="write all figures (and settings) as JSON here")
    parser.add_argument("--out-md", help="write the markdown comparison table here")
    parser.add_argument("--out-samples", help="also write the sampled graphs as JSON lines")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from omniar.data.graph_benchmarks import benchmark_source, load_benchmark_split
    from omniar.data.graph_files import save_graph_jsonl
    from omniar.eval.graph_metrics import evaluate_graphs
    from omniar.eval.graph_published import markdown_table
    from omniar.eval.report import EvalReport, print_report

    pipe = load_pipeline(args.model, args.device)
    family = args.family or pipe.config.family
    if family not in BENCHMARK_FAMILIES:
        raise ValueError(
            f"--family is needed: the model does not name a benchmark family (got {family!r}); "
            f"expected one of {BENCHMARK_FAMILIES}"
        )
    reference = load_benchmark_split(args.data_root, family, args.split)
    train = load_benchmark_split(args.data_root, family, "train")
    num = args.num if args.num is not None else len(reference)
    if num < 1:
        raise ValueError(f"--num must be >= 1, got {num}")
    pipe.set_progress_bar_config(disable=not sys.stderr.isatty())
    out = sample_graphs(pipe, args, num)
    results = evaluate_graphs(out.graphs, reference, train, family=family)
    results.update({
        "model": args.model,
        "split": args.split,
        "reference": benchmark_source(args.data_root, family, args.split),
        "seed": args.seed,
        "sampling": out.stats["sampling"],
        "grammar_mask": out.stats["grammar_mask"],
        "structure_constraint": out.stats["structure_constraint"],
        "num_repaired": out.stats["num_repaired"],
        "mean_nodes": out.stats["mean_nodes"],
        "mean_edges": out.stats["mean_edges"],
        "sampling_seconds": out.stats["seconds"],
    })
    name = f"omniar ({Path(args.model).name})"
    table = markdown_table(results, family, name)
    sampling = ", ".join(f"{key}={value}" for key, value in out.stats["sampling"].items())
    note = (
        f"Our row: {num} graphs, seed {args.seed}, {sampling}, grammar mask "
        f"{'on' if out.stats['grammar_mask'] else 'off'}, MMDs against the {args.split} split.\n"
    )
    if out.stats["structure_constraint"]:
        note += (
            f"Sampled with the {out.stats['structure_constraint']} structure constraint: only "
            "edges that keep each graph in the family; the figures describe model and sampler.\n"
        )
    settings_keys = ("family", "split", "reference", "seed", "sampling", "grammar_mask",
                     "structure_constraint", "validity_method")
    report = EvalReport(
        model=args.model,
        data=str(results["reference"]),
        n=num,
        groups={"all": {"n": num, **{k: v for k, v in results.items() if k not in settings_keys}}},
        settings={k: results[k] for k in settings_keys if k in results},
    )
    if args.out_md:
        Path(args.out_md).write_text(table + "\n" + note, encoding="utf-8")
    if args.out_samples:
        save_graph_jsonl(out.graphs, args.out_samples)
    print_report(report, args.out_json, table + "\n" + note)
    return 0
