"""Cached, step-by-step decoding computes exactly the logits of one full teacher-forced pass."""

import pytest
import torch

from omniar.models.ar_model import AutoregressiveModel
from omniar.orders import BlockCausalOrder, RasterOrder
from omniar.samplers.condition import Condition
from omniar.samplers.decode import DecodingState
from omniar.samplers.guidance import GuidanceSchedule, guide


def make_model(rope_axes: int, condition: str = "class", **kwargs) -> AutoregressiveModel:
    """A tiny model whose every weight is perturbed: zero-initialised AdaLN gates would make the
    attention path vanish and the cached-vs-full comparison vacuous."""
    model = AutoregressiveModel(
        vocab_size=11, hidden_size=32, num_layers=2, num_heads=4, num_kv_heads=2, rope_axes=rope_axes,
        qk_norm=True, condition=condition, class_sizes=[3, 4], text_dim=6, **kwargs,
    ).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    return model


def stepwise_logits(model, order, condition, tokens, guidance, rollback_at=None):
    """Feed the known `tokens` step by step through the cache, collecting each step's logits."""
    state = DecodingState(model, order, condition, guidance)
    state.tokens = tokens
    output = state.prefill()
    collected = []
    index = 0
    rolled = False
    while index < order.num_steps:
        if index > 0:
            output = state.run(order.step_inputs(state.rows(tokens), index))
        logits = state.guided_logits(order.step_logits(output.logits, index), index)
        collected.append(logits)
        if rollback_at is not None and index == rollback_at and not rolled:
            fed = len(order.steps[index].inputs) + len(order.steps[index - 1].inputs)
            state.cache.rollback(state.cache.lengths - fed)
            collected = collected[:-2]
            index -= 1
            rolled = True
            continue
        index += 1
    return torch.cat(collected, dim=1)


def full_logits(model, order, condition, tokens, guidance):
    guided = guidance.enabled
    kwargs = condition.model_kwargs(guided, tokens.device)
    rows = torch.cat([tokens, tokens]) if guided else tokens
    output = model(**order.teacher_forcing_inputs(rows), **kwargs)
    logits = order.training_logits(output.logits, output.prefix_length)
    if not guided:
        return logits
    batch = tokens.shape[0]
    steps_of_target = torch.cat(
        [torch.full((len(step.targets),), i) for i, step in enumerate(order.steps)]
    )
    scales = torch.tensor([guidance.scale_at(int(s), order.num_steps) for s in steps_of_target])
    return guide(logits[:batch], logits[batch:], scales.view(1, -1, *[1] * (logits.ndim - 2)))


CASES = [
    ("1d raster", RasterOrder(7), 1),
    ("2d raster", RasterOrder((3, 4)), 2),
    ("block causal", BlockCausalOrder(8, 2), 1),
]


@pytest.mark.parametrize("name,order,axes", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("guidance", [GuidanceSchedule(1.0), GuidanceSchedule(2.5, "linear")], ids=["no-cfg", "cfg"])
@pytest.mark.parametrize("rollback", [False, True])
def test_cached_decode_matches_full_forward(name, order, axes, guidance, rollback):
    model = make_model(axes, adaln=True)
    labels = torch.tensor([[0, 1], [2, 3]])
    condition = Condition(2, class_labels=labels)
    tokens = torch.randint(0, 11, (2, order.num_tokens))
    cached = stepwise_logits(model, order, condition, tokens, guidance, rollback_at=3 if rollback else None)
    full = full_logits(model, order, condition, tokens, guidance)
    assert cached.shape == full.shape
    torch.testing.assert_close(cached, full, atol=1e-5, rtol=0)


def test_text_prefix_with_padding_matches_full_forward():
    model = make_model(2, condition="text")
    order = RasterOrder((2, 3))
    states = torch.randn(3, 5, 6)
    mask = torch.tensor([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=torch.bool)
    condition = Condition(3, text_states=states, text_mask=mask)
    tokens = torch.randint(0, 11, (3, order.num_tokens))
    guidance = GuidanceSchedule(3.0)
    torch.testing.assert_close(
        stepwise_logits(model, order, condition, tokens, guidance),
        full_logits(model, order, condition, tokens, guidance), atol=1e-5, rtol=0,
    )


def test_padding_does_not_change_a_samples_logits():
    """A prompt's logits are the same alone or padded inside a batch with a longer prompt."""
    model = make_model(1, condition="text")
    order = RasterOrder(5)
    short = torch.randn(1, 2, 6)
    tokens = torch.randint(0, 11, (1, 5))
    alone = full_logits(model, order, Condition(1, text_states=short), tokens, GuidanceSchedule())
    padded = torch.cat([short, torch.zeros(1, 3, 6)], dim=1)
    batch = Condition(
        2, text_states=torch.cat([padded, torch.randn(1, 5, 6)]),
        text_mask=torch.tensor([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool),
    )
    together = full_logits(model, order, batch, torch.cat([tokens, tokens]), GuidanceSchedule())
    torch.testing.assert_close(together[:1], alone, atol=1e-5, rtol=0)


def test_per_sample_rollback_keeps_each_sample_exact():
    """Samples rolled back to different lengths continue exactly as an uncached pass."""
    model = make_model(1)
    order = RasterOrder(6)
    condition = Condition(2, class_labels=torch.tensor([[0, 0], [1, 1]]))
    tokens = torch.randint(0, 11, (2, 6))
    full = full_logits(model, order, condition, tokens, GuidanceSchedule())
    state = DecodingState(model, order, condition, GuidanceSchedule(), extra_slots=4)
    state.prefill()
    for index in range(1, 5):
        state.run(order.step_inputs(tokens, index))
    prefix = condition.prefix_length
    state.cache.rollback(torch.tensor([prefix + 1, prefix + 3]))
    # sample 0 continues at step 2 (feeding token 1), sample 1 at step 4 (feeding token 3)
    steps = torch.tensor([2, 4])
    fed = steps - 1
    output = state.run({
        "tokens": tokens[torch.arange(2), fed][:, None],
        "position_ids": order.positions[fed][:, None],
        "ranks": steps[:, None],
    })
    torch.testing.assert_close(output.logits[0, 0], full[0, 2], atol=1e-5, rtol=0)
    torch.testing.assert_close(output.logits[1, 0], full[1, 4], atol=1e-5, rtol=0)
