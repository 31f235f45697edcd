"""Next-patch prediction: patch inputs and targets by hand on a 4x4 grid, the loss, the
patch-size curriculum, cached decoding, and a curriculum-trained raster model that overfits."""

import pytest
import torch

from omniar.models.ar_model import AutoregressiveModel
from omniar.orders.next_patch import NextPatchCurriculum, NextPatchOrder
from omniar.orders.raster import RasterOrder
from omniar.samplers.condition import Condition
from omniar.samplers.decode import DecodingState, decode_sequential
from omniar.samplers.guidance import GuidanceSchedule
from omniar.samplers.processors import SamplingConfig
from omniar.training.ar_loss import autoregressive_loss

VOCAB = 13
PATCHES = [[0, 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15]]


pytestmark = pytest.mark.usefixtures("one_thread")  # many tiny ops: see conftest


def tiny_model(randomize=True) -> AutoregressiveModel:
    model = AutoregressiveModel(
        vocab_size=VOCAB,
        hidden_size=32,
        num_layers=2,
        num_heads=4,
        rope_axes=2,
        qk_norm=True,
        condition="class",
        class_sizes=[3],
    )
    if randomize:
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(torch.randn_like(parameter) * 0.1)
    return model.eval()


def test_patch_inputs_positions_and_targets_on_a_4x4_grid():
    order = NextPatchOrder((4, 4), 2)
    assert order.patches.tolist() == PATCHES
    tokens = torch.arange(16)[None] + 100  # token value = index + 100
    inputs = order.teacher_forcing_inputs(tokens)
    # patches 0..2 are fed (the last one is only predicted), one slot each, at the patch centres
    assert inputs["pooled_tokens"].tolist() == [[[p + 100 for p in patch] for patch in PATCHES[:3]]]
    assert inputs["position_ids"].tolist() == [[[0.5, 0.5], [0.5, 2.5], [2.5, 0.5]]]
    coarse = NextPatchOrder((4, 4), 2, positions="coarse").teacher_forcing_inputs(tokens)
    assert coarse["position_ids"].tolist() == [[[0, 0], [0, 1], [1, 0]]]
    assert inputs["ranks"].tolist() == [[1, 2, 3]]
    # every token of patch m + 1 is a target of patch m's slot (patch 0: of the prefix)
    assert order.training_targets(tokens).tolist() == [
        [t + 100 for patch in PATCHES for t in patch]
    ]
    logits = torch.arange(5.0).view(1, 5, 1)  # prefix of 2 slots, then the 3 patch slots
    assert (
        order.training_logits(logits, prefix_length=2).flatten().tolist()
        == [1] * 4 + [2] * 4 + [3] * 4 + [4] * 4
    )


def test_a_patch_slot_is_the_mean_of_its_token_embeddings():
    order = NextPatchOrder((4, 4), 2)
    model = tiny_model()
    tokens = torch.randint(0, VOCAB, (2, 16))
    seen = {}
    model.backbone.register_forward_pre_hook(lambda module, args: seen.update(embeds=args[0]))
    output = model(
        **order.teacher_forcing_inputs(tokens), with_prefix=True, class_labels=torch.tensor([0, 1])
    )
    table = model.token_embed.weight
    expected = torch.stack([table[tokens[:, patch]].mean(1) for patch in PATCHES[:3]], dim=1)
    torch.testing.assert_close(seen["embeds"][:, output.prefix_length :], expected)


def test_loss_is_the_mean_cross_entropy_over_each_next_patchs_tokens():
    order = NextPatchOrder((4, 4), 2)
    model = tiny_model()
    tokens = torch.randint(0, VOCAB, (2, 16))
    labels = torch.tensor([0, 2])
    loss, _ = autoregressive_loss(model, order, tokens, {"class_labels": labels})
    output = model(**order.teacher_forcing_inputs(tokens), with_prefix=True, class_labels=labels)
    log_probs = output.logits.log_softmax(-1)
    predictors = [output.prefix_length - 1 + m for m in range(4)]  # prefix, then patch slots 0..2
    by_hand = torch.stack(
        [
            -log_probs[b, slot, tokens[b, t]]
            for b in range(2)
            for slot, patch in zip(predictors, PATCHES)
            for t in patch
        ]
    ).mean()
    torch.testing.assert_close(loss, by_hand)


def test_patch_size_one_is_exactly_raster():
    model = tiny_model()
    tokens = torch.randint(0, VOCAB, (2, 16))
    condition = {"class_labels": torch.tensor([1, 2])}
    patch, _ = autoregressive_loss(model, NextPatchOrder((4, 4), 1), tokens, condition)
    raster, _ = autoregressive_loss(model, RasterOrder((4, 4)), tokens, condition)
    torch.testing.assert_close(patch, raster)


@torch.no_grad()
def test_cached_patch_by_patch_decoding_matches_one_full_forward():
    order = NextPatchOrder((4, 4), 2)
    model = tiny_model()
    condition = Condition(2, class_labels=torch.tensor([0, 2]))
    tokens = torch.randint(0, VOCAB, (2, 16))
    state = DecodingState(model, order, condition, GuidanceSchedule())
    output = state.prefill()
    cached = []
    for index in range(order.num_steps):
        if index > 0:
            output = state.run(order.step_inputs(tokens, index))
        cached.append(order.step_logits(output.logits, index, output))
    output = model(**order.teacher_forcing_inputs(tokens), **condition.model_kwargs(False, "cpu"))
    full = order.training_logits(output.logits, output.prefix_length, output)
    torch.testing.assert_close(torch.cat(cached, 1), full, atol=1e-5, rtol=0)


def test_curriculum_follows_training_progress():
    curriculum = NextPatchCurriculum((8, 8))
    assert [curriculum.patch_size_at(s, 10) for s in range(10)] == [2] * 5 + [1] * 5
    assert isinstance(curriculum.order_at(3, 10), NextPatchOrder)
    assert isinstance(curriculum.order_at(7, 10), RasterOrder)
    three = NextPatchCurriculum.from_recipe(
        (8, 8), {"patch_sizes": [4, 2, 1], "fractions": [0.25, 0.25, 0.5]}
    )
    assert [three.patch_size_at(s, 8) for s in range(8)] == [4, 4, 2, 2, 1, 1, 1, 1]
    assert three.order_at(0, 8).patch_positions == "centre"
    literal = NextPatchCurriculum.from_recipe((8, 8), {"positions": "coarse"})
    assert literal.order_at(0, 8).token_positions()[-1].tolist() == [3.0, 3.0]
    # The trainer restarts the weight average where each later stage begins.
    assert three.stage_starts(8) == (2, 4)
    assert NextPatchCurriculum((8, 8), [1], [1.0]).stage_starts(8) == ()


@pytest.mark.parametrize(
    "options,match",
    [
        ({"patch_sizes": [2, 4]}, "same length|last patch size"),
        ({"patch_sizes": [2, 2], "fractions": [0.5, 0.5]}, "last patch size"),
        ({"patch_sizes": [2, 1], "fractions": [0.7, 0.7]}, "sum to 1"),
        ({"patch_sizes": [3, 1], "fractions": [0.5, 0.5]}, "divide the grid"),
        ({"patch": 2}, "unknown key"),
        ({"positions": "corner"}, "positions must be one of"),
    ],
)
def test_bad_curricula_are_rejected(options, match):
    with pytest.raises(ValueError, match=match):
        NextPatchCurriculum.from_recipe((8, 8), options)


def test_curriculum_trained_model_samples_its_image_in_raster_order():
    curriculum = NextPatchCurriculum((4, 4))
    model = tiny_model(randomize=False).train()
    tokens = torch.randint(0, VOCAB, (1, 16)).repeat(4, 1)
    labels = torch.ones(4, dtype=torch.long)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    steps = 200
    for step in range(steps):
        loss, logs = autoregressive_loss(
            model, curriculum.order_at(step, steps), tokens, {"class_labels": labels}
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert logs["accuracy"] == 1.0
    raster = RasterOrder((4, 4))
    generated, stats = decode_sequential(
        model.eval(), raster, Condition(1, class_labels=labels[:1]), SamplingConfig(temperature=0)
    )
    assert stats.forward_passes == 16
    assert torch.equal(generated, tokens[:1])
