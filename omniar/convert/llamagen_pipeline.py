"""`omniar convert llamagen`: LlamaGen (or NPP) GPT + VQ files -> an `ImagePipeline` folder.

The folder is an ordinary saved pipeline (safetensors, `model_index.json`), so `omniar.load`,
`ImagePipeline.from_pretrained` and `omniar generate image --model DIR` use it like a shipped
model. It records ImageNet class names (c2i) and two sampling presets: "default" (LlamaGen's
demo settings) and, where LlamaGen published FID figures for the size, "fid".
"""

from __future__ import annotations

import re
from pathlib import Path

from omniar.convert.checkpoint_files import load_state_dict
from omniar.convert.imagenet import imagenet_class_names
from omniar.convert.llamagen import FID_GUIDANCE, GPTLayout, load_gpt
from omniar.convert.llamagen_vq import VQLayout, load_vq
from omniar.convert.output_folder import DTYPES, check_destination, check_dtype, write_pipeline
from omniar.errors import OmniarError

IMAGE_SIZES = (256, 384, 512)
__all__ = ["DTYPES", "IMAGE_SIZES", "convert_llamagen"]
# sample_c2i.py's / sample_t2i.py's defaults; FID: top-k off and the per-size scale of the paper
C2I_DEMO = {"guidance_scale": 4.0, "top_k": 2000, "top_p": 1.0, "temperature": 1.0}
T2I_DEMO = {"guidance_scale": 7.5, "top_k": 1000, "top_p": 1.0, "temperature": 1.0}


def sampling_presets(layout: GPTLayout) -> dict[str, dict]:
    """Named sampling settings for a converted model (see the module docstring)."""
    demo = C2I_DEMO if layout.condition == "class" else T2I_DEMO
    presets = {"default": dict(demo), "demo": dict(demo)}
    if layout.condition == "class" and layout.name in FID_GUIDANCE:
        presets["fid"] = {"guidance_scale": FID_GUIDANCE[layout.name], "top_k": 0, "top_p": 1.0,
                          "temperature": 1.0}
    return presets


def guess_image_size(gpt_path: Path) -> int:
    """The image size in a LlamaGen file name (`c2i_XL_384.pt` -> 384), else 256."""
    found = re.findall(r"(?<!\d)(256|384|512)(?!\d)", gpt_path.stem)
    return int(found[-1]) if found else 256


def _check_options(image_size: int, dtype: str, vq: VQLayout, vq_path: Path) -> None:
    if image_size not in IMAGE_SIZES:
        raise OmniarError(f"--image-size {image_size} is not valid; expected one of {IMAGE_SIZES}")
    check_dtype(dtype)
    if image_size % vq.downsample_factor:
        raise OmniarError(f"--image-size {image_size}: not a multiple of {vq_path}'s downsampling factor "
                          f"{vq.downsample_factor}")


def model_card(gpt: GPTLayout, vq: VQLayout, gpt_path: Path, vq_path: Path, image_size: int, dtype: str) -> str:
    side = image_size // vq.downsample_factor
    return "\n".join([
        f"# LlamaGen {gpt.description}, converted",
        "",
        f"Converted by `omniar convert llamagen` from `{gpt_path.name}` (GPT) and `{vq_path.name}` "
        f"(VQ-{vq.downsample_factor}, {vq.codebook_size} codes of dimension {vq.codebook_dim}); weights "
        f"stored as {dtype}. Images of {image_size}x{image_size} pixels, {side}x{side} tokens in raster order.",
        "",
        "Presets: `default`/`demo` are LlamaGen's sampling script defaults; `fid` (class-conditional "
        "B/L/XL/XXL/3B) the settings of its published FID figures. The weights keep the licence of "
        "the files they came from (LlamaGen: MIT).",
        "",
    ])


def convert_llamagen(gpt: str | Path, vq: str | Path, out: str | Path, image_size: int | None = None,
                     dtype: str = "float32", force: bool = False, text_encoder: str | None = None) -> Path:
    """Convert LlamaGen GPT and VQ checkpoint files into an `ImagePipeline` folder at `out`.

    `image_size` defaults to the size in the GPT file's name (256 when it has none).
    Text-to-image GPTs need `text_encoder` (a local T5 folder or hub id; LlamaGen used
    flan-t5-xl). Every problem is an `OmniarError` raised before anything is written.
    """
    from omniar.models.text_encoders import load_text_encoder
    from omniar.pipelines.image import ImagePipeline

    gpt_path, vq_path = Path(gpt), Path(vq)
    check_destination(out, force)
    transformer, gpt_layout = load_gpt(load_state_dict(gpt_path, "--gpt"), gpt_path)
    tokenizer, vq_layout = load_vq(load_state_dict(vq_path, "--vq"), vq_path)
    image_size = image_size or guess_image_size(gpt_path)
    _check_options(image_size, dtype, vq_layout, vq_path)
    if transformer.config.vocab_size != tokenizer.vocab_size:
        raise OmniarError(f"--vq {vq_path}: {tokenizer.vocab_size} codes, but {gpt_path} predicts "
                          f"{transformer.config.vocab_size}; expected the VQ model the GPT was trained on")
    components = {}
    if gpt_layout.condition == "text":
        if not text_encoder:
            raise OmniarError(f"--gpt {gpt_path} is text-to-image: pass --text-encoder (a T5 folder such "
                              "as flan-t5-xl, whose features are 2048-wide)")
        encoder, text_tokenizer = load_text_encoder(text_encoder)
        components = {"text_encoder": encoder, "text_tokenizer": text_tokenizer}
    names = imagenet_class_names() if gpt_layout.condition == "class" and gpt_layout.num_classes == 1000 else []
    pipeline = ImagePipeline(
        transformer=transformer, tokenizer=tokenizer, image_size=image_size, orders=["raster"],
        class_names=names, sampling_presets=sampling_presets(gpt_layout), **components,
    )
    card = model_card(gpt_layout, vq_layout, gpt_path, vq_path, image_size, dtype)
    return write_pipeline(out, pipeline, card, dtype, force)
