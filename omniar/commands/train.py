"""`omniar train RECIPE`: train what a recipe describes (rerun to resume)."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train a model from a recipe (resumable)",
        description="Train from a YAML recipe. Rerunning the same command resumes from the newest "
        "checkpoint. Scale out with `accelerate launch -m omniar.cli train RECIPE`.",
    )
    parser.add_argument("recipe", help="recipe file, e.g. recipes/emoji_t2i_raster.yaml")
    parser.add_argument("--data-root", help="folder the recipe's data paths are relative to "
                        "(default: ../shared/data beside the repository)")
    parser.add_argument("--output-dir", help="override the recipe's trainer.output_dir; the run "
                        "writes only under it (checkpoints, metrics, final/, pipeline/)")
    parser.add_argument("--pipeline-dir", help="write the finished pipeline here instead of "
                        "OUTPUT_DIR/pipeline (e.g. assets/NAME to replace a shipped model)")
    parser.add_argument("--max-steps", type=int, help="override the recipe's trainer.max_steps")
    parser.add_argument("--stop-after", type=int, help="pause at this step (checkpointed); rerun to continue")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from omniar.training.recipes import run_recipe

    run_recipe(
        args.recipe, data_root=args.data_root, output_dir=args.output_dir, max_steps=args.max_steps,
        show_progress=not args.no_progress, stop_after=args.stop_after, pipeline_dir=args.pipeline_dir,
    )
    return 0
