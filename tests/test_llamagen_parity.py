"""Converted LlamaGen GPTs compute what LlamaGen's equations compute (fp32, max |diff| <= 1e-4).

The references in `llamagen_reference` read random state dicts in LlamaGen's key names (one
layer at full GPT-B shapes) directly; the model under test is what `omniar.convert` builds.
"""

import pytest
import torch
from llamagen_reference import condition_embeddings, gpt_logits, gpt_state, greedy_reference

from omniar.convert.llamagen import cfg_interval_schedule, load_gpt
from omniar.orders.raster import RasterOrder
from omniar.samplers.condition import Condition
from omniar.samplers.guidance import GuidanceSchedule, guide
from omniar.samplers.processors import SamplingConfig
from omniar.samplers.registry import get_decoder

TOLERANCE = 1e-4
GREEDY = SamplingConfig(temperature=1.0, top_k=1)


@pytest.fixture(scope="module")
def c2i():
    state = gpt_state("c2i", seed=0)
    return state, load_gpt(dict(state), "c2i.pt")[0]


@pytest.fixture(scope="module")
def t2i():
    state = gpt_state("t2i", seed=1)
    return state, load_gpt(dict(state), "t2i.pt")[0]


def _captions(lengths: list[int], width: int = 20, dim: int = 2048, seed: int = 2):
    """Right-padded caption states and masks (as a text encoder returns them), and the same
    captions left-padded to 120 tokens with their masks (as LlamaGen's sampler feeds them)."""
    g = torch.Generator().manual_seed(seed)
    states = torch.randn(len(lengths), width, dim, generator=g) * 0.1
    mask = torch.arange(width)[None] < torch.tensor(lengths)[:, None]
    left = torch.zeros(len(lengths), 120, dim)
    for row, count in enumerate(lengths):
        left[row, 120 - count:] = states[row, :count]
    left_valid = torch.arange(120)[None] >= 120 - torch.tensor(lengths)[:, None]
    return states, mask, left, left_valid


def _teacher_forced(model, tokens, order, **condition):
    inputs = order.teacher_forcing_inputs(tokens)
    with torch.no_grad():
        return model(**inputs, with_prefix=True, **condition).logits


def test_c2i_teacher_forced_logits_with_and_without_guidance(c2i):
    state, model = c2i
    order = RasterOrder((16, 16))
    labels = torch.tensor([207, 1, 999])
    tokens = torch.randint(0, 16384, (3, 256), generator=torch.Generator().manual_seed(3))
    ours = _teacher_forced(model, torch.cat([tokens, tokens]), order, class_labels=torch.cat([labels, labels]),
                           drop_condition=torch.tensor([False] * 3 + [True] * 3))
    both = torch.cat([labels, torch.full_like(labels, 1000)])
    reference = gpt_logits(state, condition_embeddings(state, labels=both), torch.cat([tokens, tokens])[:, :-1], 16)
    assert ours.shape == reference.shape == (6, 256, 16384)
    assert (ours - reference).abs().max() <= TOLERANCE
    guided = guide(ours[:3], ours[3:], 4.0)
    assert (guided - (reference[3:] + 4.0 * (reference[:3] - reference[3:]))).abs().max() <= 4 * TOLERANCE


def test_t2i_teacher_forced_logits_with_padded_captions_and_null_caption(t2i):
    state, model = t2i
    order = RasterOrder((16, 16))
    states, mask, left, left_valid = _captions([5, 17])
    tokens = torch.randint(0, 16384, (2, 256), generator=torch.Generator().manual_seed(4))
    ours = _teacher_forced(model, torch.cat([tokens, tokens]), order, text_states=torch.cat([states, states]),
                           text_mask=torch.cat([mask, mask]), drop_condition=torch.tensor([False, False, True, True]))
    null = state["cls_embedding.uncond_embedding"].expand(2, -1, -1)
    prefix = condition_embeddings(state, captions=torch.cat([left, null]))
    reference = gpt_logits(state, prefix, torch.cat([tokens, tokens])[:, :-1], 16,
                           prefix_valid=torch.cat([left_valid, left_valid]))
    assert ours.shape == reference.shape == (4, 120 + 255, 16384)
    # padded caption slots produce no prediction; the last caption slot and every token do
    assert (ours[:, 119:] - reference[:, 119:]).abs().max() <= TOLERANCE


@pytest.mark.parametrize("kind", ["c2i", "t2i"])
def test_cached_token_by_token_decode_matches_reference(kind, c2i, t2i):
    state, model = c2i if kind == "c2i" else t2i
    grid, order = 6, RasterOrder((6, 6))
    tokens = torch.randint(0, 16384, (2, 36), generator=torch.Generator().manual_seed(5))
    if kind == "c2i":
        labels = torch.tensor([3, 3])
        condition = Condition(1, class_labels=labels[:1])
        prefix = condition_embeddings(state, labels=torch.tensor([3, 1000]))
        valid = None
    else:
        states, mask, left, left_valid = _captions([9])
        condition = Condition(1, text_states=states, text_mask=mask)
        null = state["cls_embedding.uncond_embedding"][None]
        prefix = condition_embeddings(state, captions=torch.cat([left, null]))
        valid = torch.cat([left_valid, left_valid])
    tokens[1] = tokens[0]
    cache = model.new_cache(2, 130 + 36)
    with torch.no_grad():
        steps = [model(**condition.model_kwargs(True, model.device), cache=cache).logits[:, -1:]]
        for index in range(1, order.num_steps):
            steps.append(model(**order.step_inputs(tokens, index), cache=cache).logits)
    ours = torch.cat(steps, 1)
    reference = gpt_logits(state, prefix, tokens[:, :-1], grid, prefix_valid=valid)[:, -36:]
    assert (ours - reference).abs().max() <= TOLERANCE


def test_greedy_decoding_equals_the_reference_loop_with_guidance(c2i):
    state, model = c2i
    labels = torch.tensor([207, 360])
    prefix, null = condition_embeddings(state, labels=labels), condition_embeddings(state, labels=torch.tensor([1000] * 2))
    expected = greedy_reference(state, prefix, null, 4, cfg_scale=4.0)
    tokens, _ = get_decoder("sequential")(model, RasterOrder((4, 4)), Condition(2, class_labels=labels),
                                          GREEDY, GuidanceSchedule(scale=4.0))
    assert torch.equal(tokens, expected)


def test_cfg_interval_counts_tokens_as_llamagen_does(c2i):
    state, model = c2i
    labels = torch.tensor([5, 77])
    prefix, null = condition_embeddings(state, labels=labels), condition_embeddings(state, labels=torch.tensor([1000] * 2))
    expected = greedy_reference(state, prefix, null, 4, cfg_scale=8.0, cfg_interval=2)
    always = greedy_reference(state, prefix, null, 4, cfg_scale=8.0)
    schedule = cfg_interval_schedule(8.0, 2, 16)
    assert [schedule.scale_at(step, 16) for step in range(6)] == [8.0] * 4 + [1.0] * 2
    tokens, _ = get_decoder("sequential")(model, RasterOrder((4, 4)), Condition(2, class_labels=labels), GREEDY, schedule)
    assert torch.equal(tokens, expected) and not torch.equal(expected, always)


def test_t2i_greedy_decoding_equals_the_reference_loop(t2i):
    state, model = t2i
    states, mask, left, left_valid = _captions([3, 11], seed=6)
    prefix = condition_embeddings(state, captions=left)
    null = condition_embeddings(state, captions=state["cls_embedding.uncond_embedding"].expand(2, -1, -1))
    expected = greedy_reference(state, prefix, null, 4, cfg_scale=7.5, prefix_valid=left_valid)
    tokens, _ = get_decoder("sequential")(model, RasterOrder((4, 4)), Condition(2, text_states=states, text_mask=mask),
                                          GREEDY, GuidanceSchedule(scale=7.5))
    assert torch.equal(tokens, expected)


def test_parallel_decodings_run_on_a_converted_model(c2i):
    _, model = c2i
    order, condition = RasterOrder((4, 4)), Condition(2, class_labels=torch.tensor([1, 2]))
    sequential, _ = get_decoder("sequential")(model, order, condition, GREEDY, GuidanceSchedule(scale=2.0))
    jacobi, stats = get_decoder("jacobi")(model, order, condition, GREEDY, GuidanceSchedule(scale=2.0),
                                          generator=torch.Generator().manual_seed(0), window=8)
    assert torch.equal(jacobi, sequential) and stats.forward_passes <= 16
    zipar, stats = get_decoder("zipar")(model, order, condition, GREEDY, GuidanceSchedule(scale=2.0), window=2)
    assert zipar.shape == (2, 16) and stats.forward_passes < 16
    assert int(zipar.min()) >= 0 and int(zipar.max()) < 16384
