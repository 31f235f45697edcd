"""`omniar eval tokenizer MODEL --data DIR`: PSNR, SSIM, codebook usage, tokens, speed."""

from __future__ import annotations

import argparse
import sys

GROUP_KEYS = ("split", "folder", "unicode-block", "category")  # omniar.eval.tokenizer_eval
TABLE_COLUMNS = ("n", "psnr", "ssim", "codebook_usage_percent", "max_usage_percent",
                 "code_perplexity", "tokens_per_image", "images_per_second")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "tokenizer", help="image tokenizer reconstruction quality",
        description="Encode and decode every image of a folder; print and write PSNR, SSIM, codebook "
        "usage (% of codes used), code perplexity, tokens per image and encode+decode images/s, over "
        "all images and per group (--group-by; default: the Noto train / heldout split, other images "
        "by folder). A file that is not a readable image is an error, unless --skip-corrupt, which "
        "lists it as skipped.",
    )
    parser.add_argument(
        "model", help="embedded tokenizer name (e.g. emoji-vq) or tokenizer folder (config.json + "
        "safetensors)",
    )
    parser.add_argument("--data", required=True, help="Noto emoji folder (emoji_u*.png) or an image folder")
    parser.add_argument(
        "--split", help="Noto emoji only: score just the train, heldout or all emoji files "
        "(default: every image of the folder)",
    )
    parser.add_argument(
        "--group-by", nargs="+", default=["split"], choices=GROUP_KEYS, metavar="KEY",
        help="per-group rows by: split (Noto train / heldout, other files by folder; default), "
        "folder, unicode-block (e.g. Emoticons) or category (single, skin-tone variant, zwj "
        "sequence, keycap, flag); several keys are crossed, e.g. --group-by unicode-block split. "
        "Blocks and categories read Noto, Twemoji and OpenMoji file names",
    )
    parser.add_argument("--image-size", type=int, help="resize images to this square size first (e.g. 32 for png72)")
    parser.add_argument("--skip-corrupt", action="store_true",
                        help="leave out files that are not readable images (listed as skipped)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out-json", "--out", dest="out", help="JSON output path (default: print only)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from omniar.eval.report import print_report
    from omniar.eval.tokenizer_eval import evaluate_tokenizer

    results = evaluate_tokenizer(
        args.model, args.data, split=args.split, image_size=args.image_size, batch_size=args.batch_size,
        device=args.device, skip_corrupt=args.skip_corrupt, progress=sys.stderr.isatty(),
        group_by=args.group_by,
    )
    print_report(results, args.out, columns=TABLE_COLUMNS)
    return 0
