"""A converted VAR VQVAE tokenizes and decodes as VAR's equations do (random weights, VAR's layout
at width 32, 256x256 images, VAR's ten scales)."""

import pytest
import torch
from var_reference import SCALES, vae_decode, vae_latent, vae_quantize, vae_state

from omniar.convert.var_vae import VAR_PHI_INDICES, load_vae


@pytest.fixture(scope="module")
def converted():
    state = vae_state(seed=7, ch=32)
    tokenizer, layout = load_vae(dict(state), "vae.pth", SCALES)
    return state, tokenizer, layout


def test_layout_is_read_from_the_shapes(converted):
    _, tokenizer, layout = converted
    assert layout.block_out_channels == (32, 32, 64, 64, 128) and layout.downsample_factor == 16
    assert (layout.codebook_size, layout.latent_channels, layout.num_phi) == (4096, 32, 4)
    assert tokenizer.image_size == 256 and tuple(tokenizer.config.phi_indices) == VAR_PHI_INDICES


def test_codes_features_and_pixels_equal_the_reference(converted):
    state, tokenizer, _ = converted
    images = torch.rand(2, 3, 256, 256, generator=torch.Generator().manual_seed(8)) * 2 - 1
    with torch.no_grad():
        latent = tokenizer.latent(images)
        reference_latent = vae_latent(state, images)
        assert (latent - reference_latent).abs().max() <= 1e-4
        codes = tokenizer.encode(images)
        expected, features = vae_quantize(state, reference_latent)
        assert [c.shape[-1] for c in codes] == list(SCALES)
        assert all(torch.equal(ours, theirs) for ours, theirs in zip(codes, expected))
        ours = tokenizer.accumulated_features(codes)
        assert max((a - b).abs().max().item() for a, b in zip(ours, features)) <= 1e-5
        pixels = tokenizer.decode_features(ours[-1])
    assert (pixels - vae_decode(state, features[-1])).abs().max() <= 1e-4
    torch.testing.assert_close(tokenizer.decode(codes), pixels.clamp(-1, 1))
