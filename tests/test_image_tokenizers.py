"""Image tokenizers: shapes, reconstruction, multi-scale features, persistence, inputs, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from PIL import Image

from omniar.eval.tokenizer_eval import evaluate_tokenizer
from omniar.tokenizers.image_inputs import to_image_tensor, to_pil_images
from omniar.tokenizers.image_vq import ImageVQTokenizer
from omniar.tokenizers.multiscale_vq import MultiScaleVQTokenizer
from omniar.training.image_losses import reconstruction_loss, sobel_gradients

TINY = {"block_out_channels": (8, 16, 16), "norm_num_groups": 4, "mid_block_add_attention": False}
SCALES = (1, 2, 4)  # 4x4 latent: 16x16 images


def tiny_vq(**overrides) -> ImageVQTokenizer:
    torch.manual_seed(0)
    return ImageVQTokenizer(**{**TINY, **overrides}).eval()


def tiny_msvq(**overrides) -> MultiScaleVQTokenizer:
    torch.manual_seed(0)
    settings = {**TINY, "latent_channels": 4, "scales": SCALES, "num_phi": 2}
    return MultiScaleVQTokenizer(**{**settings, **overrides}).eval()


def images(batch: int = 2, size: int = 16, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, size, size, generator=generator) * 2 - 1


def block_images() -> torch.Tensor:
    """Four 16x16 images made of flat-coloured 4x4 blocks (exactly representable by 4x4 tokens)."""
    generator = torch.Generator().manual_seed(1)
    palette = torch.tensor([[1.0, 1.0, 1.0], [1.0, -1.0, -1.0], [-1.0, 0.5, -1.0], [0.0, 0.0, 1.0]])
    choice = torch.randint(0, 4, (4, 4, 4), generator=generator)
    blocks = palette[choice].permute(0, 3, 1, 2)
    return blocks.repeat_interleave(4, dim=2).repeat_interleave(4, dim=3)


def psnr(reconstruction: torch.Tensor, target: torch.Tensor) -> float:
    mse = ((reconstruction - target) / 2).pow(2).mean()
    return float(-10 * torch.log10(mse))


@pytest.mark.parametrize("quantizer", ["fsq", "vq"])
def test_single_scale_round_trip_shapes_and_dtypes(quantizer):
    model = tiny_vq(quantizer=quantizer)
    codes = model.encode(images(3))
    assert codes.shape == (3, 4, 4) and codes.dtype == torch.int64
    assert model.token_shape(16) == (4, 4) and model.token_shape((32, 16)) == (8, 4)
    assert 0 <= codes.min() and codes.max() < model.vocab_size
    decoded = model.decode(codes)
    assert decoded.shape == (3, 3, 16, 16) and decoded.dtype == torch.float32
    assert decoded.min() >= -1 and decoded.max() <= 1
    assert model.vocab_size == (1000 if quantizer == "fsq" else 1024)


@pytest.mark.parametrize("quantizer", ["fsq", "vq"])
def test_multiscale_round_trip_shapes_and_dtypes(quantizer):
    model = tiny_msvq(quantizer=quantizer)
    codes = model.encode(images(2))
    assert [tuple(c.shape) for c in codes] == [(2, 1, 1), (2, 2, 2), (2, 4, 4)]
    assert all(c.dtype == torch.int64 for c in codes)
    assert model.tokens_per_image == 21 and model.token_shape(16) == [(1, 1), (2, 2), (4, 4)]
    decoded = model.decode(codes)
    assert decoded.shape == (2, 3, 16, 16) and decoded.min() >= -1 and decoded.max() <= 1
    assert model.decode(codes[:1]).shape == (2, 3, 16, 16)  # coarse image from the first scale
    assert model.embed_codes(codes[1]).shape == (2, 4, 2, 2)


def test_overfit_tokenizer_reconstructs_its_images(one_thread):
    torch.manual_seed(0)
    model = ImageVQTokenizer(**TINY, fsq_levels=(8, 8, 8), latent_channels=3).train()
    target = block_images()
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    for _ in range(100):  # reaches ~28 dB
        loss, _ = reconstruction_loss(model(target).reconstruction, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    assert psnr(model.decode(model.encode(target)), target) > 24.0


@pytest.mark.parametrize("quantizer", ["fsq", "vq"])
def test_accumulated_features_at_last_scale_are_the_decoder_input(quantizer):
    model = tiny_msvq(quantizer=quantizer)
    x = images(2)
    with torch.no_grad():
        out = model(x)
        features = model.accumulated_features(out.codes)
    assert len(features) == len(SCALES)
    assert all(f.shape == (2, 4, 4, 4) for f in features)
    torch.testing.assert_close(features[-1], out.quantized_latent, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(model.decode(out.codes), model.decoder(features[-1]).clamp(-1, 1))
    assert not torch.allclose(features[0], features[-1])


def test_next_scale_inputs_are_downsampled_accumulated_features():
    model = tiny_msvq()
    codes = model.encode(images(2))
    features = model.accumulated_features(codes)
    inputs = model.next_scale_inputs(codes)
    assert [tuple(t.shape) for t in inputs] == [(2, 4, 2, 2), (2, 4, 4, 4)]
    torch.testing.assert_close(inputs[0], F.interpolate(features[0], size=(2, 2), mode="area"))
    torch.testing.assert_close(inputs[1], features[1])  # scale 3 is the full latent size
    assert (
        len(model.next_scale_inputs(codes[:2])) == 2
        and len(model.next_scale_inputs(codes[:1])) == 1
    )


@pytest.mark.parametrize("factory", [tiny_vq, tiny_msvq, lambda: tiny_vq(quantizer="vq")])
def test_save_load_round_trip_gives_identical_codes(tmp_path, factory):
    model = factory()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "config.json").is_file()
    assert (tmp_path / "diffusion_pytorch_model.safetensors").is_file()
    loaded = type(model).from_pretrained(tmp_path)
    x = images(3)
    before, after = model.encode(x), loaded.encode(x)
    if isinstance(before, list):
        assert all(torch.equal(a, b) for a, b in zip(before, after))
    else:
        assert torch.equal(before, after)


def test_pil_inputs_are_composited_on_white_and_expanded():
    rgba = np.zeros((16, 16, 4), dtype=np.uint8)
    rgba[:8] = (255, 0, 0, 255)  # opaque red top half, transparent bottom half
    tensor = to_image_tensor(Image.fromarray(rgba))
    assert tensor.shape == (1, 3, 16, 16)
    torch.testing.assert_close(tensor[0, :, 0, 0], torch.tensor([1.0, -1.0, -1.0]))
    torch.testing.assert_close(tensor[0, :, 15, 15], torch.tensor([1.0, 1.0, 1.0]))

    gray = Image.fromarray(np.full((16, 16), 64, dtype=np.uint8))
    expanded = to_image_tensor([gray, gray])
    assert expanded.shape == (2, 3, 16, 16)
    torch.testing.assert_close(expanded[:, 0], expanded[:, 2])

    model = tiny_vq()
    assert torch.equal(model.encode(Image.fromarray(rgba)), model.encode(tensor))
    assert to_pil_images(model.decode(model.encode(gray)))[0].size == (16, 16)


def test_bad_inputs_raise_value_errors_naming_the_argument():
    model = tiny_vq()
    with pytest.raises(ValueError, match="image_size.*multiples of the downsampling factor 4"):
        model.encode(images(1, size=18))
    with pytest.raises(ValueError, match="images.*3 RGB channels"):
        model.encode(torch.zeros(1, 1, 16, 16))
    with pytest.raises(ValueError, match="images.*3 RGB channels"):
        model.encode(torch.zeros(1, 4, 16, 16))
    with pytest.raises(ValueError, match=r"images.*\[-1, 1\]"):
        model.encode(torch.full((1, 3, 16, 16), 255.0))
    with pytest.raises(ValueError, match=r"codes.*\[0, 1000\)"):
        model.decode(torch.full((1, 4, 4), 1000))
    with pytest.raises(ValueError, match=r"codes.*\[0, 1000\)"):
        model.decode(torch.full((1, 4, 4), -1))
    with pytest.raises(ValueError, match="codes.*integer"):
        model.decode(torch.zeros(1, 4, 4))
    with pytest.raises(ValueError, match="codes.*shaped"):
        model.decode(torch.zeros(4, 4, dtype=torch.long))

    multiscale = tiny_msvq()
    with pytest.raises(ValueError, match="image_size.*16x16"):
        multiscale.encode(images(1, size=32))
    codes = multiscale.encode(images(1))
    with pytest.raises(ValueError, match=r"codes_list\[1\].*\(B, 2, 2\)"):
        multiscale.decode([codes[0], codes[2]])
    with pytest.raises(ValueError, match="codes_list.*1 to 3"):
        multiscale.decode(codes + codes)
    with pytest.raises(ValueError, match=r"codes_list\[0\].*\[0, 1000\)"):
        multiscale.decode([codes[0] + 1000])


def test_invalid_configurations_are_rejected():
    with pytest.raises(ValueError, match="downsample_factor"):
        ImageVQTokenizer(downsample_factor=3)
    with pytest.raises(ValueError, match="block_out_channels.*3 entries"):
        ImageVQTokenizer(downsample_factor=4, block_out_channels=(16, 32))
    with pytest.raises(ValueError, match="quantizer"):
        ImageVQTokenizer(**TINY, quantizer="kmeans")
    with pytest.raises(ValueError, match="scales"):
        MultiScaleVQTokenizer(**TINY, scales=(2, 1, 4))


def test_sobel_gradients_see_edges_only():
    flat = torch.zeros(1, 3, 8, 8)
    assert sobel_gradients(flat).abs().max() == 0
    edge = flat.clone()
    edge[..., 4:] = 1.0
    gradients = sobel_gradients(edge)
    assert gradients.shape == (1, 6, 8, 8)
    assert gradients[:, 0::2].abs().max() > 0 and gradients[:, 1::2].abs().max() == 0


def test_evaluate_tokenizer_reports_and_writes_json(tmp_path):
    model_dir, data_dir = tmp_path / "model", tmp_path / "data"
    tiny_msvq().save_pretrained(model_dir)
    data_dir.mkdir()
    for index in range(3):
        Image.fromarray(np.full((16, 16, 3), 40 * index, dtype=np.uint8)).save(
            data_dir / f"{index}.png"
        )
    output = tmp_path / "eval.json"
    results = evaluate_tokenizer(model_dir, data_dir, batch_size=2, output_path=output)
    assert json.loads(output.read_text()) == results
    overall = results["groups"]["all"]
    assert results["n"] == overall["n"] == 3 and overall["tokens_per_image"] == 21
    assert 0 < overall["codebook_usage_percent"] <= 100 and overall["images_per_second"] > 0
    assert len(overall["psnr_by_scale"]) == 3
    assert overall["psnr_by_scale"][-1] == pytest.approx(overall["psnr"])
    assert -1 <= overall["ssim"] <= 1
    with pytest.raises(ValueError, match="model_dir"):
        evaluate_tokenizer(data_dir, data_dir)


def test_training_task_runs_through_the_trainer(tmp_path):
    from omniar.training.recipes import run_recipe

    data_dir = tmp_path / "data" / "imgs"
    data_dir.mkdir(parents=True)
    for index, image in enumerate(to_pil_images(block_images())):
        image.save(data_dir / f"{index}.png")
    recipe = {
        "task": "image_tokenizer",
        "model": {"class": "MultiScaleVQTokenizer", **TINY, "scales": list(SCALES)},
        "data": {"dataset": "imagefolder", "path": "imgs"},
        "eval": {"path": "imgs"},
        "trainer": {"output_dir": str(tmp_path / "run"), "max_steps": 2, "batch_size": 2},
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    run_recipe(path, data_root=tmp_path / "data", show_progress=False)
    loaded = MultiScaleVQTokenizer.from_pretrained(tmp_path / "run" / "final")
    assert loaded.scales == SCALES
    lines = [
        json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    ]
    assert any("eval/psnr" in line for line in lines) and any("l1" in line for line in lines)
