"""Masks, positions and teacher-forcing plans built from orders equal hand-written ones."""

import pytest
import torch

from omniar.models.attention_mask import rank_visibility_mask
from omniar.orders import BlockCausalOrder, RasterOrder, build_order


def order_mask(order, prefix_length=1):
    plan = order.plan
    ranks = torch.cat([torch.zeros(prefix_length, dtype=torch.long), plan.feed_ranks])[None]
    valid = torch.ones_like(ranks, dtype=torch.bool)
    slots = torch.arange(ranks.shape[1])[None]
    return rank_visibility_mask(ranks, slots, ranks, valid)[0, 0].int()


def test_raster_mask_is_causal():
    mask = order_mask(RasterOrder(4))
    assert mask.tolist() == torch.tril(torch.ones(4, 4, dtype=torch.int)).tolist()


def test_block_causal_mask_is_bidirectional_inside_a_block():
    # prefix of 2 slots, then blocks [0,1] (fed at step 1) and [2,3] (fed at step 2)
    mask = order_mask(BlockCausalOrder(6, 2), prefix_length=2)
    expected = [
        [1, 1, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0],
        [1, 1, 1, 1, 0, 0],
        [1, 1, 1, 1, 0, 0],
        [1, 1, 1, 1, 1, 1],
        [1, 1, 1, 1, 1, 1],
    ]
    assert mask.tolist() == expected


def test_padding_slots_are_hidden_but_see_themselves():
    ranks = torch.tensor([[0, 0, 1, 2]])
    valid = torch.tensor([[False, True, True, True]])
    slots = torch.arange(4)[None]
    mask = rank_visibility_mask(ranks, slots, ranks, valid)[0, 0].int()
    assert mask.tolist() == [[1, 1, 0, 0], [0, 1, 0, 0], [0, 1, 1, 0], [0, 1, 1, 1]]


def test_raster_2d_positions_and_plan():
    order = RasterOrder((2, 3))
    assert order.positions.tolist() == [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]
    plan = order.plan
    assert plan.feed_indices.tolist() == [0, 1, 2, 3, 4]
    assert plan.feed_ranks.tolist() == [1, 2, 3, 4, 5]
    assert plan.predictor_slots.tolist() == [-1, 0, 1, 2, 3, 4]
    assert plan.target_indices.tolist() == [0, 1, 2, 3, 4, 5]
    assert order.num_steps == 6


def test_block_plan_predicts_each_block_from_the_previous_one():
    plan = BlockCausalOrder(6, 2).plan
    assert plan.feed_indices.tolist() == [0, 1, 2, 3]
    assert plan.predictor_slots.tolist() == [-2, -1, 0, 1, 2, 3]
    assert plan.target_indices.tolist() == [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize("bad", [dict(shape=(0, 3)), dict(shape=(2, 2, 2))])
def test_bad_raster_shapes_are_rejected(bad):
    with pytest.raises(ValueError, match="raster shape"):
        RasterOrder(**bad)


def test_unknown_order_lists_the_choices():
    with pytest.raises(ValueError, match="raster"):
        build_order("spiral")
