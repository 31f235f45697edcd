"""`omniar convert var`: a VAR model file + VAR's VQVAE file -> an `ImagePipeline` folder.

The folder is an ordinary saved pipeline generating in the next-scale order, with ImageNet class
names and VAR's two published sampling settings as presets. VAR guides scale k of K with
`(1 + w_k) cond - w_k uncond`, `w_k = cfg * k / (K - 1)`; that is our "linear" guidance
schedule with `guidance_scale = 1 + cfg` (`omniar.samplers.guidance`), so VAR's cfg 4 is
guidance_scale 5 and its FID setting cfg 1.5 is guidance_scale 2.5.
"""

from __future__ import annotations

from pathlib import Path

from omniar.convert.checkpoint_files import load_state_dict
from omniar.convert.imagenet import imagenet_class_names
from omniar.convert.output_folder import check_destination, check_dtype, write_pipeline
from omniar.convert.var import VARLayout, load_var
from omniar.convert.var_vae import VAELayout, load_vae
from omniar.errors import OmniarError

# VAR's README (FID 3.55 for d16 ... 1.97 for d30) and its demo notebook
FID_PRESET = {"guidance_scale": 2.5, "guidance_schedule": "linear", "top_k": 900, "top_p": 0.96,
              "temperature": 1.0}
DEMO_PRESET = {"guidance_scale": 5.0, "guidance_schedule": "linear", "top_k": 900, "top_p": 0.95,
               "temperature": 1.0}


def sampling_presets() -> dict[str, dict]:
    """"default" and "demo": VAR's demo settings (cfg 4); "fid": those of its FID figures (cfg 1.5)."""
    return {"default": dict(DEMO_PRESET), "demo": dict(DEMO_PRESET), "fid": dict(FID_PRESET)}


def model_card(var: VARLayout, vae: VAELayout, var_path: Path, vae_path: Path, dtype: str) -> str:
    scales = ", ".join(str(side) for side in var.scales)
    return "\n".join([
        f"# {var.description}, converted",
        "",
        f"Converted by `omniar convert var` from `{var_path.name}` (transformer) and `{vae_path.name}` "
        f"(multi-scale VQVAE, {vae.codebook_size} codes of dimension {vae.latent_channels}); transformer "
        f"weights stored as {dtype}. Images of {var.image_size}x{var.image_size} pixels, generated in "
        f"the next-scale order over scales {scales} ({len(var.scales)} forward passes).",
        "",
        "Presets: `default`/`demo` are VAR's demo settings (cfg 4, top-k 900, top-p 0.95), `fid` the "
        "settings of its FID figures (cfg 1.5, top-k 900, top-p 0.96); VAR's cfg c is guidance_scale "
        "1 + c with guidance_schedule \"linear\". The weights keep the licence of the files they came "
        "from (VAR: MIT).",
        "",
    ])


def convert_var(var: str | Path, vae: str | Path, out: str | Path, dtype: str = "float32",
                force: bool = False) -> Path:
    """Convert a VAR model file and VAR's VQVAE file into an `ImagePipeline` folder at `out`.

    Every problem is an `OmniarError` raised before anything is written.
    """
    from omniar.pipelines.image import ImagePipeline

    var_path, vae_path = Path(var), Path(vae)
    check_destination(out, force)
    check_dtype(dtype)
    transformer, var_layout = load_var(load_state_dict(var_path, "--var"), var_path)
    tokenizer, vae_layout = load_vae(load_state_dict(vae_path, "--vae"), vae_path, var_layout.scales)
    if (vae_layout.codebook_size, vae_layout.latent_channels) != (var_layout.vocab_size, var_layout.latent_channels):
        raise OmniarError(
            f"--vae {vae_path}: {vae_layout.codebook_size} codes of dimension {vae_layout.latent_channels}, but "
            f"{var_path.name} predicts {var_layout.vocab_size} codes of dimension {var_layout.latent_channels}; "
            "expected the VQVAE the model was trained with"
        )
    if vae_layout.downsample_factor != 16:
        raise OmniarError(f"--vae {vae_path}: downsamples by {vae_layout.downsample_factor}; VAR's VQVAE "
                          "downsamples by 16")
    names = imagenet_class_names() if var_layout.num_classes == 1000 else []
    pipeline = ImagePipeline(
        transformer=transformer, tokenizer=tokenizer, image_size=var_layout.image_size, orders=["next_scale"],
        class_names=names, sampling_presets=sampling_presets(),
    )
    return write_pipeline(out, pipeline, model_card(var_layout, vae_layout, var_path, vae_path, dtype), dtype, force)
