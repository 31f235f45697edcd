"""`omniar eval tokenizer MODEL --data DIR`: PSNR, SSIM, codebook usage, tokens, speed."""

from __future__ import annotations

import argparse
import json


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "tokenizer", help="image tokenizer reconstruction quality",
        description="Encode and decode every image of a folder; print and write PSNR, SSIM, codebook "
        "usage (% of codes used), tokens per image and encode+decode images/s.",
    )
    parser.add_argument("model", help="tokenizer folder (config.json + safetensors), e.g. assets/emoji-vq")
    parser.add_argument("--data", required=True, help="Noto emoji folder (emoji_u*.png) or an image folder")
    parser.add_argument("--split", help="for Noto emoji: heldout (default), train or all")
    parser.add_argument("--image-size", type=int, help="resize images to this square size first (e.g. 32 for png72)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", help="JSON output path (default: print only)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from omniar.eval.tokenizer_eval import evaluate_tokenizer

    results = evaluate_tokenizer(
        args.model, args.data, split=args.split, image_size=args.image_size, batch_size=args.batch_size,
        device=args.device, output_path=args.out,
    )
    print(json.dumps(results, indent=2))
    return 0
