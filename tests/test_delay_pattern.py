"""The MusicGen delay / flatten patterns, the end-of-clip rules, and cached decoding under them."""

from __future__ import annotations

import pytest
import torch
from test_cache_equivalence import full_logits, stepwise_logits

from omniar.models.ar_model import AutoregressiveModel
from omniar.orders import DelayPatternOrder, apply_delay, build_order, undo_delay
from omniar.pipelines.audio_tokens import (
    AudioTokenRules,
    AudioVocabulary,
    clip_codes,
    frame_with_end,
)
from omniar.samplers.condition import Condition
from omniar.samplers.guidance import GuidanceSchedule

P = -1  # pad in the hand-written examples


def test_apply_delay_small_example() -> None:
    codes = torch.tensor([[[1, 2, 3], [4, 5, 6], [7, 8, 9]]])
    expected = torch.tensor([[[1, 2, 3, P, P], [P, 4, 5, 6, P], [P, P, 7, 8, 9]]])
    assert torch.equal(apply_delay(codes, P), expected)
    assert torch.equal(undo_delay(expected), codes)


@pytest.mark.parametrize("k,frames", [(1, 5), (4, 1), (4, 7), (8, 3)])
def test_undo_delay_inverts_apply_delay(k: int, frames: int) -> None:
    codes = torch.randint(0, 50, (2, k, frames))
    delayed = apply_delay(codes, 99)
    assert delayed.shape == (2, k, frames + k - 1)
    assert torch.equal(undo_delay(delayed), codes)


def test_delay_helpers_reject_bad_shapes() -> None:
    with pytest.raises(ValueError, match="batch, codebooks, frames"):
        apply_delay(torch.zeros(3, 4, dtype=torch.long), 0)
    with pytest.raises(ValueError, match="slots >= codebooks"):
        undo_delay(torch.zeros(1, 4, 2, dtype=torch.long))


def test_order_layouts_and_registry() -> None:
    delay = build_order("delay_pattern", num_codebooks=3, num_frames=4)
    assert isinstance(delay, DelayPatternOrder) and delay.pattern == "delay"
    assert (delay.num_tokens, delay.streams, delay.num_steps) == (6, 3, 6)
    assert delay.token_frames[2].tolist() == [2, 1, 0]
    flat = DelayPatternOrder(3, 4, flatten=True)
    assert (flat.num_tokens, flat.streams, flat.model_vocab_size(10)) == (12, 1, 30)
    assert flat.token_frames[:, 0].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert flat.token_codebooks[:4, 0].tolist() == [0, 1, 2, 0]
    with pytest.raises(ValueError, match="num_codebooks >= 1"):
        DelayPatternOrder(0, 4)


@pytest.mark.parametrize("flatten", [False, True], ids=["delay", "flatten"])
def test_tokens_from_codes_round_trip(flatten: bool) -> None:
    vocab = AudioVocabulary(8)
    order = DelayPatternOrder(3, 5, flatten)
    codes = frame_with_end(torch.randint(0, 8, (2, 3, 4)), torch.tensor([4, 2]), vocab)
    tokens = order.tokens_from_codes(codes, vocab.pad_token_id, vocab.size)
    assert tokens.shape == ((2, 15) if flatten else (2, 7, 3))
    assert int(tokens.max()) < order.model_vocab_size(vocab.size)
    assert torch.equal(order.codes_from_tokens(tokens, vocab.pad_token_id, vocab.size), codes)
    with pytest.raises(ValueError, match="expected codes of shape"):
        order.tokens_from_codes(codes[:, :2], vocab.pad_token_id, vocab.size)


def test_frame_with_end_and_clip_codes() -> None:
    vocab = AudioVocabulary(8)
    codes = torch.tensor([[[1, 2, 3], [4, 5, 6]], [[7, -1, -1], [0, -1, -1]]])
    framed = frame_with_end(codes, torch.tensor([3, 1]), vocab)
    assert framed[1].tolist() == [[7, 9, 8, 8], [0, 9, 8, 8]]
    assert framed[0, :, 3].tolist() == [9, 9]
    assert torch.equal(clip_codes(framed[0], vocab), codes[0])
    assert torch.equal(clip_codes(framed[1], vocab), codes[1, :, :1])


@pytest.mark.parametrize("flatten", [False, True], ids=["delay", "flatten"])
@pytest.mark.parametrize("length", [1, 3, 5])
def test_rules_accept_the_training_layout_and_stop_after_the_last_frame(flatten, length) -> None:
    """Every token of a clip laid out for training is allowed by the decoding rules, and
    decoding is finished exactly when the end and all frames before it have been produced."""
    vocab, max_frames = AudioVocabulary(8), 5
    order = DelayPatternOrder(3, max_frames + 1, flatten)
    rules = AudioTokenRules(order, vocab, max_frames)
    codes = torch.randint(0, 8, (1, 3, max_frames))
    tokens = order.tokens_from_codes(
        frame_with_end(codes, torch.tensor([length]), vocab), vocab.pad_token_id, vocab.size
    ).reshape(1, order.num_tokens, -1)
    ends = rules.new_ends(1, torch.device("cpu"))
    finished_at = None
    for position in range(order.num_tokens):
        allowed = rules.allowed(position, ends)
        assert allowed[0, torch.arange(order.streams), tokens[0, position]].all(), position
        ends = rules.observe(position, tokens[0, position][None], ends)
        if finished_at is None and rules.finished(position, ends).item():
            finished_at = position
    assert ends.item() == length
    frames, first = order.token_frames, order.token_codebooks == 0
    last_real = max(p for p in range(order.num_tokens) if (frames[p] < length).any())
    end_sampled = int(((frames == length) & first).any(1).nonzero()[0])
    assert finished_at == max(last_real, end_sampled)


def test_rules_force_the_end_at_the_cap_and_forbid_it_at_frame_zero() -> None:
    vocab = AudioVocabulary(8)
    rules = AudioTokenRules(DelayPatternOrder(2, 4), vocab, max_frames=3)
    unknown = rules.new_ends(1, torch.device("cpu"))
    start = rules.allowed(0, unknown)[0]
    assert start[0, :8].all() and not start[0, 8:].any()  # codebook 0, frame 0: codes only
    assert start[1].tolist() == [False] * 8 + [True, False]  # codebook 1 not started: pad
    assert rules.allowed(1, unknown)[0, 0, vocab.eos_token_id]  # frame 1: may end
    cap = rules.allowed(3, unknown)[0, 0]
    assert cap.tolist() == [False] * 9 + [True]  # frame 3 = max_frames: must end
    with pytest.raises(ValueError, match="max_frames"):
        AudioTokenRules(DelayPatternOrder(2, 3), vocab, max_frames=3)


def perturbed_model(**kwargs) -> AutoregressiveModel:
    """A small model with every weight random, so zero-initialised AdaLN gates are not vacuous."""
    model = AutoregressiveModel(
        hidden_size=32,
        num_layers=2,
        num_heads=4,
        num_kv_heads=2,
        rope_axes=1,
        qk_norm=True,
        adaln=True,
        class_sizes=[3, 2],
        **kwargs,
    )
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0, 0.2)
    return model.eval()


@pytest.mark.parametrize("flatten", [False, True], ids=["delay", "flatten"])
@pytest.mark.parametrize(
    "guidance", [GuidanceSchedule(1.0), GuidanceSchedule(3.0)], ids=["no-cfg", "cfg"]
)
def test_cached_decode_matches_full_forward(flatten: bool, guidance: GuidanceSchedule) -> None:
    vocab = AudioVocabulary(6)
    order = DelayPatternOrder(3, 4, flatten)
    model = perturbed_model(
        vocab_size=order.model_vocab_size(vocab.size), num_codebooks=order.streams
    )
    codes = frame_with_end(torch.randint(0, 6, (2, 3, 3)), torch.tensor([3, 2]), vocab)
    tokens = order.tokens_from_codes(codes, vocab.pad_token_id, vocab.size)
    condition = Condition(2, class_labels=torch.tensor([[0, 1], [2, 0]]))
    cached = stepwise_logits(model, order, condition, tokens, guidance, rollback_at=2)
    full = full_logits(model, order, condition, tokens, guidance)
    assert cached.shape == full.shape == (*tokens.shape, model.config.vocab_size)
    assert full.std() > 0.1  # the perturbed model is far from uniform
    torch.testing.assert_close(cached, full, atol=1e-4, rtol=0)
