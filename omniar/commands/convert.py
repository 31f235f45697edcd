"""`omniar convert llamagen|var`: published checkpoints to an omniar pipeline folder."""

from __future__ import annotations

import argparse

from omniar.convert.llamagen_pipeline import DTYPES, IMAGE_SIZES


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """`--out`, `--dtype` and `--force`: what every converter takes about the folder it writes."""
    parser.add_argument("--out", required=True, help="folder to write (must not exist, unless --force)")
    parser.add_argument("--dtype", default="float32", choices=DTYPES,
                        help="storage precision of the transformer weights (default float32)")
    parser.add_argument("--force", action="store_true", help="replace an existing --out folder")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "convert", help="convert published checkpoints (LlamaGen, NPP, VAR) to a pipeline folder",
        description="Convert published checkpoints into an omniar pipeline folder that omniar.load, "
        "ImagePipeline.from_pretrained and 'omniar generate image --model DIR' read.",
    )
    inner = parser.add_subparsers(dest="target", required=True, metavar="FORMAT")
    llamagen = inner.add_parser(
        "llamagen", help="LlamaGen (or NPP) GPT + VQ files",
        description="Convert a LlamaGen GPT file (c2i_*.pt, t2i_*.pt, or an NPP GPT) and its VQ tokenizer "
        "(vq_ds16_c2i.pt, vq_ds8_c2i.pt, vq_ds16_t2i.pt) into an ImagePipeline folder.",
    )
    llamagen.add_argument("--gpt", required=True, help="the GPT checkpoint (.pt)")
    llamagen.add_argument("--vq", required=True, help="the VQ tokenizer checkpoint (.pt)")
    llamagen.add_argument("--image-size", type=int, choices=IMAGE_SIZES,
                          help="image size the GPT was trained at (default: the number in the GPT file "
                          "name, else 256)")
    llamagen.add_argument("--text-encoder", help="t2i only: a T5 encoder folder or hub id (flan-t5-xl)")
    add_output_arguments(llamagen)
    llamagen.set_defaults(run=run)
    var = inner.add_parser(
        "var", help="VAR model + VQVAE files",
        description="Convert a VAR model file (var_d16.pth, var_d20.pth, var_d24.pth, var_d30.pth, var_d36.pth) "
        "and VAR's VQVAE (vae_ch160v4096z32.pth) into an ImagePipeline folder (next-scale order).",
    )
    var.add_argument("--var", required=True, help="the VAR model checkpoint (.pth)")
    var.add_argument("--vae", required=True, help="VAR's VQVAE checkpoint (.pth)")
    add_output_arguments(var)
    var.set_defaults(run=run_var)


def run(args: argparse.Namespace) -> int:
    from omniar.convert.llamagen_pipeline import convert_llamagen

    out = convert_llamagen(args.gpt, args.vq, args.out, image_size=args.image_size, dtype=args.dtype,
                           force=args.force, text_encoder=args.text_encoder)
    print(f"wrote {out}")
    return 0


def run_var(args: argparse.Namespace) -> int:
    from omniar.convert.var_pipeline import convert_var

    print(f"wrote {convert_var(args.var, args.vae, args.out, dtype=args.dtype, force=args.force)}")
    return 0
