"""ZipAR: the row schedule, attention that only ever sees written slots of raster predecessors,
and equality with sequential decoding when the window is the row length."""

import pytest
import torch

from omniar.models.ar_model import AutoregressiveModel
from omniar.orders import BlockCausalOrder, RasterOrder
from omniar.samplers.condition import Condition
from omniar.samplers.decode import StopCondition, decode_sequential
from omniar.samplers.guidance import GuidanceSchedule
from omniar.samplers.processors import SamplingConfig
from omniar.samplers.zipar import decode_zipar

ROWS, COLS = 4, 5
LABELS = torch.tensor([0, 1, 2])


def grid_model() -> AutoregressiveModel:
    torch.manual_seed(0)
    return AutoregressiveModel(
        vocab_size=9, hidden_size=32, num_layers=2, num_heads=4, rope_axes=2, class_sizes=[3]
    ).eval()


@pytest.mark.parametrize(
    "sampling", [SamplingConfig(temperature=0), SamplingConfig(top_k=4)], ids=["greedy", "top-k"]
)
@pytest.mark.parametrize(
    "guidance", [GuidanceSchedule(), GuidanceSchedule(2.5, "linear")], ids=["plain", "cfg"]
)
def test_window_equal_to_row_length_is_sequential_decoding(sampling, guidance):
    model = grid_model()
    order = RasterOrder((ROWS, COLS))
    condition = Condition(3, class_labels=LABELS)
    expected, sequential = decode_sequential(
        model, order, condition, sampling, guidance, generator=torch.Generator().manual_seed(3)
    )
    for window in (COLS, COLS + 3):
        tokens, stats = decode_zipar(
            model, order, condition, sampling, guidance,
            generator=torch.Generator().manual_seed(3), window=window,
        )
        assert torch.equal(tokens, expected)
        assert stats.forward_passes == sequential.forward_passes == ROWS * COLS
        assert stats.extra["window"] == COLS


class AttentionRecorder:
    """Records, per forward pass, what was fed (ranks, positions, validity) and the attention mask
    the first layer got, together with the cache's slot bookkeeping at that moment."""

    def __init__(self, model: AutoregressiveModel):
        self.passes = []
        model.backbone.register_forward_pre_hook(self.feed, with_kwargs=True)
        model.backbone.blocks[0].attn.register_forward_pre_hook(self.attend)

    def feed(self, module, args, kwargs):
        positions = args[1]
        self.passes.append({
            "positions": positions[0].round().long().tolist(),
            "ranks": kwargs["ranks"][0].tolist(),
            "valid": kwargs["valid"][0].tolist(),
        })

    def attend(self, module, args):
        _, _, mask, cache, _, slots = args
        record = self.passes[-1]
        record["mask"] = mask[0, 0] == 0  # the additive float mask: 0 where visible
        record["slots"] = slots[0].tolist()
        record["length"] = int(cache.lengths[0])
        record["cache_valid"] = cache.valid[0, : record["length"]].clone()
        record["lengths_equal"] = bool((cache.lengths == cache.lengths[0]).all())


@pytest.mark.parametrize("window", [1, 2, 3])
def test_attention_only_sees_written_slots_of_raster_predecessors(window):
    model = grid_model()
    recorder = AttentionRecorder(model)
    tokens, stats = decode_zipar(
        model, RasterOrder((ROWS, COLS)), Condition(3, class_labels=LABELS),
        SamplingConfig(top_k=4), GuidanceSchedule(2.0),
        generator=torch.Generator().manual_seed(0), window=window,
    )
    assert tokens.shape == (3, ROWS * COLS) and stats.forward_passes == (ROWS - 1) * window + COLS
    produced_at = {r * COLS + c: r * window + c for r in range(ROWS) for c in range(COLS)}
    slot_coord = dict.fromkeys(recorder.passes[0]["slots"])    # prefix slots: no grid token
    for index, record in enumerate(recorder.passes[1:], start=1):
        assert record["lengths_equal"]
        for slot, position, rank in zip(record["slots"], record["positions"], record["ranks"]):
            coord = position[0] * COLS + position[1]
            slot_coord[slot] = coord
            if produced_at[coord] >= index:     # not generated yet: a stand-in for a row's end
                assert coord % COLS == COLS - 1 and rank == coord + 1
        written = set(range(record["length"]))
        for query, (slot, rank) in enumerate(zip(record["slots"], record["ranks"])):
            visible = record["mask"][query].nonzero().flatten().tolist()
            assert set(visible) <= written, "attends to a slot that was never written"
            coords = []
            for key in visible:
                assert key == slot or bool(record["cache_valid"][key]), "attends to an invalid slot"
                if slot_coord[key] is not None:
                    assert slot_coord[key] < rank, "attends to a token after it in raster order"
                    coords.append(slot_coord[key])
            assert len(coords) == len(set(coords)), "a stand-in is still visible next to its token"
        scheduled = {token for token, when in produced_at.items() if when == index}
        assert scheduled and scheduled <= set(record["ranks"]), f"pass {index} is off schedule"


def test_first_token_of_a_row_is_fed_from_a_stand_in_at_the_predecessor_position():
    model = grid_model()
    recorder = AttentionRecorder(model)
    window = 2
    decode_zipar(
        model, RasterOrder((ROWS, COLS)), Condition(1, class_labels=LABELS[:1]),
        SamplingConfig(temperature=0), window=window,
    )
    start_row_1 = recorder.passes[window]           # row 1 starts once row 0 has `window` tokens
    assert COLS in start_row_1["ranks"]
    fed = start_row_1["positions"][start_row_1["ranks"].index(COLS)]
    assert fed == [0, COLS - 1]                       # the missing predecessor's coordinates
    row_0_done = COLS - 1                             # pass that produces (0, C-1)
    replacing = recorder.passes[row_0_done + 1]
    assert COLS in replacing["ranks"]                 # the real (0, C-1) is fed at rank C
    assert replacing["positions"][replacing["ranks"].index(COLS)] == [0, COLS - 1]


def test_smaller_windows_need_fewer_passes():
    model = grid_model()
    passes = []
    for window in (1, 2, COLS):
        _, stats = decode_zipar(
            model, RasterOrder((ROWS, COLS)), Condition(2, class_labels=LABELS[:2]), window=window
        )
        passes.append(stats.forward_passes)
    assert passes == [(ROWS - 1) * 1 + COLS, (ROWS - 1) * 2 + COLS, ROWS * COLS]


def test_on_step_sees_every_token_once():
    seen = []
    decode_zipar(
        grid_model(), RasterOrder((ROWS, COLS)), Condition(1, class_labels=LABELS[:1]), window=2,
        on_step=lambda step, total, tokens: seen.append(step),
    )
    assert sorted(seen) == list(range(ROWS * COLS)) and seen[0] == 0


def test_rejects_orders_other_than_2d_raster_and_bad_options():
    model = grid_model()
    condition = Condition(1, class_labels=LABELS[:1])
    with pytest.raises(ValueError, match="2D raster"):
        decode_zipar(model, BlockCausalOrder(8, 2), condition)
    with pytest.raises(ValueError, match="window"):
        decode_zipar(model, RasterOrder((ROWS, COLS)), condition, window=0)
    with pytest.raises(ValueError, match="stop"):
        stop = StopCondition(1, 0, 1, torch.device("cpu"))
        decode_zipar(model, RasterOrder((ROWS, COLS)), condition, stop=stop)
