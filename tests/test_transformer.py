"""The transformer's options and its errors on bad input."""

import pytest
import torch

from omniar.models.ar_model import AutoregressiveModel
from omniar.models.rope import AxialRotaryEmbedding, apply_rotary
from omniar.models.transformer import Transformer


def test_identity_rotation_at_zero_position():
    rope = AxialRotaryEmbedding(8, num_axes=2)
    x = torch.randn(1, 2, 3, 8)
    cos, sin = rope.angles(torch.zeros(1, 3, 2))
    torch.testing.assert_close(apply_rotary(x, cos, sin), x)


def test_rotary_depends_only_on_relative_offsets():
    rope = AxialRotaryEmbedding(8, num_axes=2)
    q, k = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)

    def score(pq, pk):
        cq, sq = rope.angles(torch.tensor([[pq]], dtype=torch.float))
        ck, sk = rope.angles(torch.tensor([[pk]], dtype=torch.float))
        return (apply_rotary(q, cq, sq) * apply_rotary(k, ck, sk)).sum()

    torch.testing.assert_close(score([3, 1], [1, 0]), score([5, 4], [3, 3]))


@pytest.mark.parametrize("options", [dict(qk_norm=True), dict(num_kv_heads=1), dict(adaln_dim=16)])
def test_options_build_and_run(options):
    model = Transformer(hidden_size=32, num_layers=2, num_heads=4, **options)
    x = torch.randn(2, 5, 32)
    cond = torch.randn(2, 16) if "adaln_dim" in options else None
    out = model(x, torch.arange(5.0).view(1, 5, 1).expand(2, -1, -1), adaln_cond=cond)
    assert out.shape == (2, 5, 32) and torch.isfinite(out).all()


def test_bad_shapes_name_the_argument():
    model = Transformer(hidden_size=32, num_layers=1, num_heads=4, rope_axes=2)
    x = torch.randn(2, 5, 32)
    with pytest.raises(ValueError, match="position_ids"):
        model(x, torch.zeros(2, 5, 1))
    with pytest.raises(ValueError, match="attention_mask"):
        model(x, torch.zeros(2, 5, 2), attention_mask=torch.ones(2, 1, 5, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="inputs_embeds"):
        model(torch.randn(2, 5, 16), torch.zeros(2, 5, 2))
    with pytest.raises(ValueError, match="adaln_cond"):
        model(x, torch.zeros(2, 5, 2), adaln_cond=torch.randn(2, 32))


def test_sequence_longer_than_the_cache_is_rejected():
    model = Transformer(hidden_size=32, num_layers=1, num_heads=4)
    cache = model.new_cache(1, 4)
    with pytest.raises(ValueError, match="max_length=4"):
        model(torch.randn(1, 5, 32), torch.zeros(1, 5, 1), cache=cache)
    with pytest.raises(ValueError, match="roll back"):
        cache.rollback(2)


def test_explicit_mask_equals_the_derived_causal_mask():
    model = Transformer(hidden_size=32, num_layers=1, num_heads=4)
    x, pos = torch.randn(1, 4, 32), torch.arange(4.0).view(1, 4, 1)
    causal = torch.tril(torch.ones(4, 4, dtype=torch.bool)).view(1, 1, 4, 4)
    torch.testing.assert_close(model(x, pos), model(x, pos, attention_mask=causal))


def test_token_and_label_ranges_are_checked():
    model = AutoregressiveModel(vocab_size=8, hidden_size=16, num_layers=1, num_heads=2, class_sizes=[3])
    with pytest.raises(ValueError, match="token ids"):
        model.embed_tokens(torch.tensor([[8]]))
    with pytest.raises(ValueError, match="class_labels out of range"):
        model(with_prefix=True, class_labels=torch.tensor([3]))


def test_multi_codebook_embeddings_and_heads():
    model = AutoregressiveModel(vocab_size=8, num_codebooks=3, hidden_size=16, num_layers=1, num_heads=2,
                                condition="none")
    tokens = torch.randint(0, 8, (2, 5, 3))
    out = model(tokens, torch.zeros(2, 5, 1), torch.arange(1, 6).expand(2, -1), with_prefix=True)
    assert out.logits.shape == (2, 6, 3, 8)
    expected = sum(model.token_embed(tokens[..., k] + 8 * k) for k in range(3))
    torch.testing.assert_close(model.embed_tokens(tokens), expected)


def test_save_and_load_round_trip(tmp_path):
    model = AutoregressiveModel(vocab_size=8, hidden_size=16, num_layers=1, num_heads=2, class_sizes=[3],
                                rope_axes=2, adaln=True).eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "diffusion_pytorch_model.safetensors").exists()
    loaded = AutoregressiveModel.from_pretrained(tmp_path).eval()
    tokens = torch.randint(0, 8, (1, 3))
    args = dict(position_ids=torch.zeros(1, 3, 2), ranks=torch.arange(1, 4)[None], with_prefix=True,
                class_labels=torch.tensor([1]))
    torch.testing.assert_close(model(tokens, **args).logits, loaded(tokens, **args).logits)
