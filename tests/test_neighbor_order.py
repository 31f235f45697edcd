"""Neighbor (NAR) order: diagonal schedule and mask, two-head training logits, the vertical head
inside the model (saved and loaded), cached diagonal-by-diagonal decoding, and overfitting."""

import pytest
import torch

from omniar.models.ar_model import AutoregressiveModel
from omniar.models.attention_mask import rank_visibility_mask
from omniar.orders.neighbor import NeighborOrder
from omniar.samplers.condition import Condition
from omniar.samplers.decode import DecodingState, decode_sequential
from omniar.samplers.guidance import GuidanceSchedule
from omniar.samplers.processors import SamplingConfig
from omniar.training.ar_loss import autoregressive_loss

VOCAB = 11


pytestmark = pytest.mark.usefixtures("one_thread")  # many tiny ops: see conftest


def tiny_model(vertical_head_layers=1, randomize=True) -> AutoregressiveModel:
    model = AutoregressiveModel(
        vocab_size=VOCAB,
        hidden_size=32,
        num_layers=2,
        num_heads=4,
        num_kv_heads=2,
        rope_axes=2,
        qk_norm=True,
        adaln=True,
        condition="class",
        class_sizes=[3],
        vertical_head_layers=vertical_head_layers,
    )
    if randomize:  # AdaLN gates start at zero (every block is the identity): perturb them all
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(torch.randn_like(parameter) * 0.1)
    return model.eval()


def test_schedule_is_one_anti_diagonal_per_step():
    order = NeighborOrder((3, 3))
    assert [d.tolist() for d in order.diagonals] == [[0], [1, 3], [2, 4, 6], [5, 7], [8]]
    assert [s.targets.tolist() for s in order.steps] == [[0], [1, 3], [2, 4, 6], [5, 7], [8]]
    assert [s.inputs.tolist() for s in order.steps] == [[], [0], [1, 3], [2, 4, 6], [5, 7]]
    assert NeighborOrder((8, 8)).num_steps == 15
    rect = NeighborOrder((2, 3))
    assert [d.tolist() for d in rect.diagonals] == [[0], [1, 3], [2, 4], [5]]
    assert rect.positions.tolist() == [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]


def test_mask_lets_each_token_see_its_own_and_earlier_diagonals():
    order = NeighborOrder((2, 3))
    assert order.plan.feed_indices.tolist() == [0, 1, 3, 2, 4]
    ranks = torch.cat([torch.zeros(1, dtype=torch.long), order.plan.feed_ranks])[None]
    slots = torch.arange(6)[None]
    mask = rank_visibility_mask(ranks, slots, ranks, torch.ones_like(ranks, dtype=torch.bool))[0, 0]
    #          P  0  1  3  2  4
    expected = [
        [1, 0, 0, 0, 0, 0],  # prefix
        [1, 1, 0, 0, 0, 0],  # (0,0)
        [1, 1, 1, 1, 0, 0],  # (0,1)
        [1, 1, 1, 1, 0, 0],  # (1,0)
        [1, 1, 1, 1, 1, 1],  # (0,2)
        [1, 1, 1, 1, 1, 1],  # (1,1)
    ]
    assert mask.int().tolist() == expected


def test_training_logits_average_left_and_upper_neighbours():
    order = NeighborOrder((2, 3))
    # targets in plan order: 0, 1, 3, 2, 4, 5; fed slots: 0->0, 1->1, 3->2, 2->3, 4->4
    sources = order.training_sources
    assert sources.horizontal_slots.tolist() == [-1, 0, 0, 1, 2, 4]
    assert sources.horizontal_weight.tolist() == [1, 1, 0, 1, 1, 1]
    assert sources.vertical_slots.tolist() == [0, 0, 0, 0, 1, 3]
    assert sources.vertical_weight.tolist() == [0, 0, 1, 0, 1, 1]
    model = tiny_model()
    tokens = torch.randint(0, VOCAB, (2, 6))
    output = model(
        **order.teacher_forcing_inputs(tokens), with_prefix=True, class_labels=torch.tensor([0, 1])
    )
    h, v, p = output.logits, output.vertical_logits, output.prefix_length
    expected = torch.stack(
        [
            h[:, p - 1],  # (0,0) from the prefix
            h[:, p + 0],  # (0,1) right of (0,0)
            v[:, p + 0],  # (1,0) below (0,0)
            h[:, p + 1],  # (0,2) right of (0,1)
            (h[:, p + 2] + v[:, p + 1]) / 2,  # (1,1) right of (1,0), below (0,1)
            (h[:, p + 4] + v[:, p + 3]) / 2,  # (1,2) right of (1,1), below (0,2)
        ],
        dim=1,
    )
    torch.testing.assert_close(order.training_logits(h, p, output), expected)
    assert order.training_targets(tokens).tolist() == tokens[:, [0, 1, 3, 2, 4, 5]].tolist()


def test_vertical_head_is_part_of_the_saved_model(tmp_path):
    model = tiny_model()
    assert model.vertical_blocks is not None and len(model.vertical_blocks) == 1
    order = NeighborOrder((3, 3))
    tokens = torch.randint(0, VOCAB, (1, 9))
    inputs = dict(
        order.teacher_forcing_inputs(tokens), with_prefix=True, class_labels=torch.tensor([2])
    )
    model.save_pretrained(tmp_path)
    loaded = AutoregressiveModel.from_pretrained(tmp_path).eval()
    assert loaded.config.vertical_head_layers == 1
    with torch.no_grad():
        torch.testing.assert_close(
            loaded(**inputs).vertical_logits, model(**inputs).vertical_logits
        )


def test_a_model_without_vertical_head_is_rejected():
    order = NeighborOrder((2, 2))
    model = tiny_model(vertical_head_layers=0)
    tokens = torch.randint(0, VOCAB, (1, 4))
    output = model(
        **order.teacher_forcing_inputs(tokens), with_prefix=True, class_labels=torch.tensor([0])
    )
    assert output.vertical_logits is None
    with pytest.raises(ValueError, match="vertical_head_layers"):
        order.training_logits(output.logits, output.prefix_length, output)
    with pytest.raises(ValueError, match="neighbor shape"):
        NeighborOrder((0, 3))


def stepwise_logits(model, order, condition, tokens, guidance):
    state = DecodingState(model, order, condition, guidance)
    output = state.prefill()
    collected = []
    for index in range(order.num_steps):
        if index > 0:
            output = state.run(order.step_inputs(state.rows(tokens), index))
        collected.append(
            state.guided_logits(order.step_logits(output.logits, index, output), index)
        )
    return torch.cat(collected, dim=1)


def full_logits(model, order, condition, tokens, guidance):
    rows = torch.cat([tokens, tokens]) if guidance.enabled else tokens
    output = model(
        **order.teacher_forcing_inputs(rows), **condition.model_kwargs(guidance.enabled, "cpu")
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


@pytest.mark.parametrize("shape", [(3, 3), (2, 4)])
@pytest.mark.parametrize(
    "guidance", [GuidanceSchedule(1.0), GuidanceSchedule(2.5)], ids=["no-cfg", "cfg"]
)
@torch.no_grad()
def test_cached_diagonal_decoding_matches_one_full_forward(shape, guidance):
    order = NeighborOrder(shape)
    model = tiny_model()
    condition = Condition(2, class_labels=torch.tensor([0, 2]))
    tokens = torch.randint(0, VOCAB, (2, order.num_tokens))
    cached = stepwise_logits(model, order, condition, tokens, guidance)
    full = full_logits(model, order, condition, tokens, guidance)
    assert cached.shape == (2, order.num_tokens, VOCAB)
    torch.testing.assert_close(cached, full, atol=1e-5, rtol=0)


def test_decoding_an_8x8_grid_takes_15_forward_passes():
    order = NeighborOrder((8, 8))
    tokens, stats = decode_sequential(
        tiny_model(),
        order,
        Condition(2, class_labels=torch.tensor([0, 1])),
        guidance=GuidanceSchedule(2.0),
        generator=torch.Generator().manual_seed(0),
    )
    assert tokens.shape == (2, 64) and stats.forward_passes == 15


def test_tiny_model_overfits_one_image():
    order = NeighborOrder((4, 4))
    model = tiny_model(randomize=False).train()
    tokens = torch.randint(0, VOCAB, (1, 16)).repeat(4, 1)
    labels = torch.ones(4, dtype=torch.long)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(150):
        loss, logs = autoregressive_loss(model, order, tokens, {"class_labels": labels})
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert logs["accuracy"] == 1.0
    generated, stats = decode_sequential(
        model.eval(), order, Condition(1, class_labels=labels[:1]), SamplingConfig(temperature=0)
    )
    assert stats.forward_passes == 7
    assert torch.equal(generated, tokens[:1])
