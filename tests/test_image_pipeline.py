"""ImagePipeline on a tiny random model: outputs, seeds, save/load, CLI, and errors."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from omniar.cli import main
from omniar.models.ar_model import AutoregressiveModel
from omniar.models.caption_encoder import CaptionEncoder
from omniar.pipelines.image import ImagePipeline
from omniar.tokenizers.image_vq import ImageVQTokenizer


def tiny_pipeline(condition: str = "text") -> ImagePipeline:
    torch.manual_seed(0)
    tokenizer = ImageVQTokenizer(downsample_factor=4, block_out_channels=(16, 16, 16), norm_num_groups=8,
                                 fsq_levels=(4, 4))
    encoder = CaptionEncoder(hidden_size=32, num_layers=1, max_length=24) if condition == "text" else None
    transformer = AutoregressiveModel(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_layers=1, num_heads=2, rope_axes=2,
        condition=condition, text_dim=32, class_sizes=[3],
    )
    return ImagePipeline(
        transformer=transformer.eval(), tokenizer=tokenizer.eval(), text_encoder=encoder, image_size=16,
        class_names=["cat", "dog", "cow"] if condition == "class" else None,
        sampling_presets={"default": {"top_k": 8, "guidance_scale": 2.0}},
    )


@pytest.fixture(scope="module")
def pipe():
    return tiny_pipeline()


@pytest.fixture(scope="module")
def saved(tmp_path_factory, pipe):
    folder = tmp_path_factory.mktemp("pipe")
    pipe.save_pretrained(folder)
    return folder


def seeded(seed=0):
    return torch.Generator().manual_seed(seed)


def test_output_types(pipe):
    pil = pipe(["a cat", "a dog"], num_images_per_prompt=2, generator=seeded()).images
    assert len(pil) == 4 and all(isinstance(i, Image.Image) and i.size == (16, 16) for i in pil)
    array = pipe("a cat", generator=seeded(), output_type="np").images
    assert array.shape == (1, 16, 16, 3) and array.dtype == np.float32 and 0 <= array.min() <= array.max() <= 1
    tensor = pipe("a cat", generator=seeded(), output_type="pt").images
    assert tensor.shape == (1, 3, 16, 16)
    np.testing.assert_allclose(tensor.permute(0, 2, 3, 1).numpy(), array, atol=1e-6)
    tokens = pipe("a cat", generator=seeded(), output_type="tokens").images
    assert tokens.shape == (1, 16) and tokens.dtype == torch.long


def test_stats_report_cost_and_settings(pipe):
    stats = pipe("a cat", num_images_per_prompt=3, generator=seeded()).stats
    assert stats["forward_passes"] == 16 and stats["tokens_generated"] == 48
    assert stats["guidance_scale"] == 2.0 and stats["top_k"] == 8 and stats["order"] == "raster"


def test_same_seed_same_images_and_micro_batches_do_not_matter(pipe):
    a = pipe("a cat", num_images_per_prompt=4, generator=seeded(1), output_type="tokens").images
    b = pipe("a cat", num_images_per_prompt=4, generator=seeded(1), output_type="tokens").images
    c = pipe("a cat", num_images_per_prompt=4, generator=seeded(2), output_type="tokens").images
    assert torch.equal(a, b) and not torch.equal(a, c)
    greedy = dict(num_images_per_prompt=4, temperature=0.0, output_type="tokens")
    whole = pipe("a cat", batch_size=4, **greedy).images
    split = pipe("a cat", batch_size=3, **greedy).images
    assert torch.equal(whole, split)


def test_save_load_round_trip_gives_identical_samples(pipe, saved):
    loaded = ImagePipeline.from_pretrained(saved)
    assert loaded.config.sampling_presets == pipe.config.sampling_presets
    a = pipe("a cow", num_images_per_prompt=2, generator=seeded(3), output_type="tokens").images
    b = loaded("a cow", num_images_per_prompt=2, generator=seeded(3), output_type="tokens").images
    assert torch.equal(a, b)


def test_class_conditional_pipeline_takes_names_and_ids():
    pipe = tiny_pipeline("class")
    by_name = pipe(class_labels=["dog"], generator=seeded(), output_type="tokens").images
    by_id = pipe(class_labels=[1], generator=seeded(), output_type="tokens").images
    assert torch.equal(by_name, by_id)
    with pytest.raises(ValueError, match=r"unknown class label 'horse'; expected one of .*dog"):
        pipe(class_labels="horse")
    with pytest.raises(ValueError, match="class-conditional"):
        pipe("a dog")


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(prompt=""), "non-empty"),
        (dict(prompt="x" * 30), "max_length"),
        (dict(prompt=[]), "non-empty"),
        (dict(prompt="a cat", num_images_per_prompt=0), "num_images_per_prompt"),
        (dict(prompt="a cat", order="spiral"), "order"),
        (dict(prompt="a cat", decoding="magic"), "sequential"),
        (dict(prompt="a cat", output_type="gif"), "output_type"),
        (dict(prompt="a cat", top_p=0.0), "top_p"),
        (dict(prompt="a cat", preset="fast"), "preset"),
        (dict(class_labels=[0]), "text-conditional"),
    ],
)
def test_bad_arguments_are_named(pipe, kwargs, match):
    with pytest.raises(ValueError, match=match):
        pipe(**kwargs)


def test_installed_entry_point_writes_a_png_grid(saved, tmp_path):
    """The one subprocess test: the `omniar` script pip installed, beside this Python."""
    script = Path(sys.executable).with_name("omniar")
    if not script.is_file():
        pytest.skip(f"no installed omniar script beside {sys.executable}")
    out = tmp_path / "grid.png"
    result = subprocess.run(
        [str(script), "generate", "image", "a cat", "--model", str(saved), "--num", "4", "--out",
         str(out), "--scale", "2"], capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    image = Image.open(out)
    assert image.format == "PNG" and image.size == (64, 64)
    stats = json.loads(result.stdout.strip().splitlines()[-1])
    assert stats["samples"] == 4


def _cli(capsys, *args: str) -> tuple[int, str]:
    """`omniar ARGS` in this process: the exit status and stderr."""
    code = main(list(args))
    return code, capsys.readouterr().err


def test_cli_errors_are_one_line(saved, tmp_path, capsys):
    code, err = _cli(capsys, "generate", "image", "a cat", "--model", str(saved), "--order",
                     "spiral", "--out", str(tmp_path / "x.png"))
    assert code == 2
    last = err.strip().splitlines()[-1]
    assert "Traceback" not in err and last.startswith("omniar generate: error:") and "order" in last
    code, err = _cli(capsys, "generate", "image", "a cat", "--model", str(tmp_path / "nothing"))
    assert code == 2 and "not a folder" in err


def test_models_with_order_reads_each_model_index(saved, tmp_path, monkeypatch):
    from omniar import assets

    monkeypatch.setattr(assets, "ASSETS", tmp_path)
    import shutil

    shutil.copytree(saved, tmp_path / "tiny-raster")
    assert assets.models_with_order("raster") == ["tiny-raster"]
    assert assets.models_with_order("next_scale") == []
    shipped = [name for name, info in assets.embedded_models().items() if info["kind"] == "ImagePipeline"]
    assert shipped == ["tiny-raster"]


def test_cli_suggests_a_model_for_an_order_it_lacks(saved, tmp_path, capsys):
    from omniar.assets import models_with_order

    others = models_with_order("next_scale")
    if not others:
        pytest.skip("no embedded next_scale model in assets/")
    code, err = _cli(capsys, "generate", "image", "a cat", "--model", str(saved), "--order",
                     "next_scale", "--out", str(tmp_path / "x.png"))
    assert code == 2
    last = err.strip().splitlines()[-1]
    assert "--model" in last and others[0] in last and "['raster']" in last


def test_incomplete_model_folder_is_reported(saved, tmp_path):
    import shutil

    broken = Path(shutil.copytree(saved, tmp_path / "broken"))
    (broken / "model_index.json").unlink()
    from omniar.loading import load

    with pytest.raises(ValueError, match="model_index.json"):
        load(str(broken))
