"""The decode step compiles as one graph (no host syncs, fixed-shape cache) and compiled decoding
gives the eager tokens; attention gets an additive float mask."""

from __future__ import annotations

import torch

from omniar.models.ar_model import AutoregressiveModel
from omniar.models.attention_mask import additive_mask
from omniar.orders.raster import RasterOrder
from omniar.samplers.condition import Condition
from omniar.samplers.decode import decode_sequential
from omniar.samplers.processors import SamplingConfig


def tiny_model() -> AutoregressiveModel:
    torch.manual_seed(0)
    return AutoregressiveModel(vocab_size=32, hidden_size=32, num_layers=2, num_heads=2, rope_axes=2,
                               qk_norm=True, condition="class", class_sizes=[3]).eval()


def test_one_token_step_has_no_graph_breaks():
    model = tiny_model()
    cache = model.new_cache(2, 12, fixed_shape=True)
    with torch.no_grad():
        model(with_prefix=True, class_labels=torch.tensor([0, 1]), cache=cache)

        def step(tokens, position_ids, ranks):
            return model(tokens=tokens, position_ids=position_ids, ranks=ranks, cache=cache).logits

        cache.reserve(1)
        explained = torch._dynamo.explain(step)(
            torch.zeros(2, 1, dtype=torch.long), torch.zeros(2, 1, 2), torch.ones(2, 1, dtype=torch.long)
        )
    assert explained.graph_break_count == 0, explained.break_reasons
    assert explained.graph_count == 1


def test_compiled_decoding_matches_eager():
    model = tiny_model()
    order = RasterOrder((3, 3))
    condition = Condition(2, class_labels=torch.tensor([0, 2]))
    greedy = SamplingConfig(temperature=0.0)
    eager, _ = decode_sequential(model, order, condition, greedy)
    compiled, stats = decode_sequential(model, order, condition, greedy, compile=True)
    assert torch.equal(eager, compiled)
    assert stats.forward_passes == order.num_steps


def test_additive_mask():
    visible = torch.tensor([[True, False]])
    mask = additive_mask(visible, torch.bfloat16)
    assert mask.dtype == torch.bfloat16
    assert mask[0, 0] == 0 and mask[0, 1] == -torch.inf
