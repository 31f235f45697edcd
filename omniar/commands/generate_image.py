"""`omniar generate image PROMPT`: one PNG (a grid for several images) and the stats."""

from __future__ import annotations

import argparse
import json

from omniar.commands.decoding_args import (
    add_decoding_arguments,
    add_dtype_argument,
    decoding_options,
    decoding_summary,
    dtype_kwargs,
)
from omniar.commands.output_files import check_output_file, prepare_output_file
from omniar.errors import OmniarError
from omniar.pipelines.input_checks import check_count

DEFAULT_MODEL = "emoji-t2i"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "image", help="text- or class-to-image",
        description="Generate images and write them as one PNG (a grid when --num > 1, upscaled with "
        "nearest neighbour so 32x32 images are visible).",
    )
    parser.add_argument("prompt", help="text prompt (or a class name/id for class-conditional models)")
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"embedded model name or folder (default {DEFAULT_MODEL})")
    parser.add_argument("--num", type=int, default=4,
                        help="number of images (num_images_per_prompt; default 4)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--cfg", type=float,
                        help="guidance scale (guidance_scale; default: the model's preset)")
    parser.add_argument("--guidance-schedule", help="constant | interval | linear | power_cosine")
    parser.add_argument("--temperature", type=float, help="sampling temperature (0 = greedy)")
    parser.add_argument("--top-k", type=int, help="top-k (0 = off)")
    parser.add_argument("--top-p", type=float, help="nucleus sampling threshold")
    parser.add_argument("--order", help="generation order (default: the model's)")
    add_decoding_arguments(parser)
    parser.add_argument("--preset", help="named sampling preset of the model")
    parser.add_argument("--scale", type=int, default=8, help="upscaling factor of the PNG (default 8)")
    parser.add_argument("--device", help="cpu, cuda, mps (default cpu)")
    add_dtype_argument(parser)
    parser.add_argument("--out", default="omniar_image.png",
                        help="output PNG (default omniar_image.png); missing folders are created")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from omniar.assets import models_with_order
    from omniar.loading import load
    from omniar.pipelines.image_output import image_grid

    out = check_output_file("--out", args.out, (".png",))
    check_count("--scale", args.scale)
    options = decoding_options(args)
    pipe = load(args.model, device=args.device, **dtype_kwargs(args))
    others = models_with_order(args.order) if args.order not in (None, *pipe.config.orders) else []
    if others:
        raise OmniarError(f"--order {args.order}: {args.model} generates with {pipe.config.orders}; "
                          f"--model {' or '.join(others)} generates with {args.order}")
    call = {"prompt": args.prompt}
    if not pipe.is_text_conditional:
        call = {"class_labels": int(args.prompt) if args.prompt.isdigit() else args.prompt}
    call.update(
        num_images_per_prompt=args.num, guidance_scale=args.cfg,
        guidance_schedule=args.guidance_schedule, temperature=args.temperature, top_k=args.top_k,
        top_p=args.top_p, order=args.order, decoding=args.decoding, decoding_options=options,
        preset=args.preset,
    )
    pipe.check_inputs(**call)
    output = pipe(**call, generator=torch.Generator(device=pipe.device).manual_seed(args.seed))
    image_grid(output.images, scale=args.scale).save(prepare_output_file(out), format="PNG")
    print(f"wrote {out}")
    print(decoding_summary(output.stats, args.decoding, options))
    print(json.dumps(output.stats))
    return 0
