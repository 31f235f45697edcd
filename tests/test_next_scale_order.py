"""Next-scale (VAR) order: block-causal mask, scale-aware positions, feature inputs from the
multi-scale tokenizer, cached scale-by-scale decoding, and a tiny model that overfits one image."""

import pytest
import torch
import torch.nn.functional as F

from omniar.models.ar_model import AutoregressiveModel
from omniar.models.attention_mask import rank_visibility_mask
from omniar.orders.next_scale import NextScaleOrder, flatten_scales, split_scales
from omniar.samplers.condition import Condition
from omniar.samplers.decode import DecodingState, decode_sequential
from omniar.samplers.guidance import GuidanceSchedule
from omniar.samplers.processors import SamplingConfig
from omniar.tokenizers.multiscale_vq import MultiScaleVQTokenizer
from omniar.training.ar_loss import autoregressive_loss

SCALES = (1, 2, 4)


pytestmark = pytest.mark.usefixtures("one_thread")  # many tiny ops: see conftest


def tiny_tokenizer(scales=SCALES) -> MultiScaleVQTokenizer:
    """A random multi-scale tokenizer: 4 latent channels, 9 codes, 2x downsampling."""
    return MultiScaleVQTokenizer(
        scales=scales,
        downsample_factor=2,
        block_out_channels=(8, 8),
        norm_num_groups=4,
        latent_channels=4,
        fsq_levels=(3, 3),
        num_phi=2,
    ).eval()


def tiny_model(order, tokenizer, randomize=True) -> AutoregressiveModel:
    model = AutoregressiveModel(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_layers=2,
        num_heads=4,
        rope_axes=2,
        qk_norm=True,
        adaln=True,
        condition="class",
        class_sizes=[3],
        input_dim=order.feature_dim(tokenizer),
    )
    if randomize:  # AdaLN gates start at zero (every block is the identity): perturb them all
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(torch.randn_like(parameter) * 0.1)
    return model.eval()


def order_mask(order, prefix_length=1):
    ranks = torch.cat([torch.zeros(prefix_length, dtype=torch.long), order.plan.feed_ranks])[None]
    slots = torch.arange(ranks.shape[1])[None]
    return rank_visibility_mask(ranks, slots, ranks, torch.ones_like(ranks, dtype=torch.bool))[
        0, 0
    ].int()


def test_mask_is_block_causal_across_scales():
    # prefix, then the 4 slots of scale 1 (2x2); scale 0 is predicted from the prefix, never fed
    assert order_mask(NextScaleOrder((1, 2))).tolist() == [
        [1, 0, 0, 0, 0],
        [1, 1, 1, 1, 1],
        [1, 1, 1, 1, 1],
        [1, 1, 1, 1, 1],
        [1, 1, 1, 1, 1],
    ]
    # scales 1, 2, 3 with a 2-slot prefix: blocks of 2 (prefix), 4 and 9
    mask = order_mask(NextScaleOrder((1, 2, 3)), prefix_length=2)
    blocks = [2, 4, 9]
    expected = torch.zeros(15, 15, dtype=torch.int)
    start = 0
    for size in blocks:
        expected[start : start + size, : start + size] = 1
        start += size
    assert mask.tolist() == expected.tolist()


def test_schedule_plan_and_positions():
    order = NextScaleOrder(SCALES)
    assert order.num_tokens == 21 and order.num_steps == 3
    assert [s.targets.tolist() for s in order.steps] == [[0], list(range(1, 5)), list(range(5, 21))]
    assert [s.inputs.tolist() for s in order.steps] == [[], list(range(1, 5)), list(range(5, 21))]
    plan = order.plan
    assert plan.feed_ranks.tolist() == [1] * 4 + [2] * 16
    assert plan.predictor_slots.tolist() == [-1] + list(range(20))
    # cell centres on the finest (4x4) grid
    positions = order.positions.tolist()
    assert positions[0] == [1.5, 1.5]
    assert positions[1:5] == [[0.5, 0.5], [0.5, 2.5], [2.5, 0.5], [2.5, 2.5]]
    assert positions[5:] == [[float(i), float(j)] for i in range(4) for j in range(4)]


def test_flatten_and_split_scales_round_trip():
    maps = [torch.randint(0, 9, (2, s, s)) for s in SCALES]
    tokens = flatten_scales(maps)
    assert tokens.shape == (2, 21)
    for back, original in zip(split_scales(tokens, SCALES), maps):
        assert torch.equal(back, original)
    with pytest.raises(ValueError, match="tokens"):
        split_scales(tokens[:, :-1], SCALES)


def test_teacher_forcing_inputs_are_the_tokenizers_accumulated_features():
    tokenizer = tiny_tokenizer()
    order = NextScaleOrder.for_tokenizer(tokenizer)
    codes = tokenizer.encode(torch.rand(2, 3, 8, 8) * 2 - 1)
    tokens = flatten_scales(codes)
    features = order.teacher_forcing_inputs(tokens, tokenizer)["features"]
    assert features.shape == (2, 20, 4 + 3)
    expected = tokenizer.next_scale_inputs(codes)  # f_hat after scale k, at scale k + 1's size
    assert [e.shape[-1] for e in expected] == [2, 4]
    torch.testing.assert_close(features[:, :4, :4], expected[0].flatten(2).transpose(1, 2))
    torch.testing.assert_close(features[:, 4:, :4], expected[1].flatten(2).transpose(1, 2))
    # the last channels are the one-hot scale index (the level embedding's input)
    levels = torch.tensor([1] * 4 + [2] * 16)
    assert torch.equal(features[0, :, 4:], F.one_hot(levels, 3).float())
    # the last scale's accumulated features are what the tokenizer decodes
    torch.testing.assert_close(tokenizer.accumulated_features(codes)[1], expected[1])


def test_decode_time_features_read_only_earlier_scales():
    tokenizer = tiny_tokenizer()
    order = NextScaleOrder.for_tokenizer(tokenizer)
    tokens = torch.randint(0, 9, (2, 21))
    later_changed = tokens.clone()
    later_changed[:, 5:] = (later_changed[:, 5:] + 1) % 9
    step = order.step_inputs(tokens, 2, tokenizer)
    assert torch.equal(step["features"], order.step_inputs(later_changed, 2, tokenizer)["features"])
    full = order.teacher_forcing_inputs(tokens, tokenizer)
    assert torch.equal(step["features"], full["features"][:, 4:])
    assert torch.equal(step["position_ids"], full["position_ids"][:, 4:])
    assert step["ranks"].unique().tolist() == [2]


def stepwise_logits(model, order, condition, tokens, guidance, context):
    state = DecodingState(model, order, condition, guidance)
    output = state.prefill()
    collected = []
    for index in range(order.num_steps):
        if index > 0:
            output = state.run(order.step_inputs(state.rows(tokens), index, context))
        collected.append(
            state.guided_logits(order.step_logits(output.logits, index, output), index)
        )
    return torch.cat(collected, dim=1)


def full_logits(model, order, condition, tokens, guidance, context):
    rows = torch.cat([tokens, tokens]) if guidance.enabled else tokens
    output = model(
        **order.teacher_forcing_inputs(rows, context),
        **condition.model_kwargs(guidance.enabled, "cpu"),
    )
    logits = order.training_logits(output.logits, output.prefix_length, output)
    if not guidance.enabled:
        return logits
    step_of_target = torch.cat(
        [torch.full((len(s.targets),), i) for i, s in enumerate(order.steps)]
    )
    scales = torch.tensor(
        [guidance.scale_at(int(s), order.num_steps) for s in step_of_target]
    ).view(1, -1, 1)
    batch = tokens.shape[0]
    return logits[batch:] + scales * (logits[:batch] - logits[batch:])


@pytest.mark.parametrize(
    "guidance", [GuidanceSchedule(1.0), GuidanceSchedule(3.0, "linear")], ids=["no-cfg", "cfg"]
)
@torch.no_grad()
def test_cached_scale_by_scale_decoding_matches_one_full_forward(guidance):
    tokenizer = tiny_tokenizer()
    order = NextScaleOrder.for_tokenizer(tokenizer)
    model = tiny_model(order, tokenizer)
    condition = Condition(2, class_labels=torch.tensor([0, 2]))
    tokens = torch.randint(0, tokenizer.vocab_size, (2, order.num_tokens))
    cached = stepwise_logits(model, order, condition, tokens, guidance, tokenizer)
    full = full_logits(model, order, condition, tokens, guidance, tokenizer)
    assert cached.shape == (2, 21, tokenizer.vocab_size)
    torch.testing.assert_close(cached, full, atol=1e-5, rtol=0)


def test_decoding_takes_one_forward_pass_per_scale():
    tokenizer = tiny_tokenizer()
    order = NextScaleOrder.for_tokenizer(tokenizer)
    tokens, stats = decode_sequential(
        tiny_model(order, tokenizer),
        order,
        Condition(3, class_labels=torch.tensor([0, 1, 2])),
        context=tokenizer,
        generator=torch.Generator().manual_seed(0),
    )
    assert tokens.shape == (3, 21) and stats.forward_passes == 3
    assert tokenizer.decode(split_scales(tokens, SCALES)).shape == (3, 3, 8, 8)


def test_bad_scales_and_missing_tokenizer_are_rejected():
    with pytest.raises(ValueError, match="scales"):
        NextScaleOrder((2, 4))
    with pytest.raises(ValueError, match="scales"):
        NextScaleOrder((1, 3, 3))
    order = NextScaleOrder(SCALES)
    with pytest.raises(ValueError, match="context"):
        order.teacher_forcing_inputs(torch.zeros(1, 21, dtype=torch.long))
    with pytest.raises(ValueError, match="scales"):
        order.teacher_forcing_inputs(
            torch.zeros(1, 21, dtype=torch.long), tiny_tokenizer((1, 2, 3, 4))
        )


def test_tiny_model_overfits_one_image():
    tokenizer = tiny_tokenizer()
    order = NextScaleOrder.for_tokenizer(tokenizer)
    model = tiny_model(order, tokenizer, randomize=False).train()
    tokens = flatten_scales(tokenizer.encode(torch.rand(1, 3, 8, 8) * 2 - 1)).repeat(4, 1)
    labels = torch.ones(4, dtype=torch.long)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(150):
        loss, logs = autoregressive_loss(
            model, order, tokens, {"class_labels": labels}, context=tokenizer
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert logs["accuracy"] == 1.0
    generated, _ = decode_sequential(
        model.eval(),
        order,
        Condition(1, class_labels=labels[:1]),
        SamplingConfig(temperature=0),
        context=tokenizer,
    )
    assert torch.equal(generated, tokens[:1])
