"""Logits processors keep exactly the expected tokens; guidance combines as documented; seeds."""

import math

import pytest
import torch

from omniar.models.ar_model import AutoregressiveModel
from omniar.orders import RasterOrder
from omniar.samplers.condition import Condition
from omniar.samplers.decode import decode_sequential
from omniar.samplers.guidance import GuidanceSchedule, guide
from omniar.samplers.processors import (
    SamplingConfig,
    min_p_filter,
    process_logits,
    sample,
    top_k_filter,
    top_p_filter,
)

LOGITS = torch.log(torch.tensor([0.05, 0.4, 0.1, 0.3, 0.15]))


def kept(logits):
    return torch.isfinite(logits).nonzero().flatten().tolist()


def test_top_k_keeps_the_k_largest():
    assert sorted(kept(top_k_filter(LOGITS, 2))) == [1, 3]
    assert kept(top_k_filter(LOGITS, 0)) == [0, 1, 2, 3, 4]


def test_top_p_keeps_the_smallest_set_reaching_p():
    assert sorted(kept(top_p_filter(LOGITS, 0.7))) == [1, 3]
    assert sorted(kept(top_p_filter(LOGITS, 0.71))) == [1, 3, 4]
    assert kept(top_p_filter(LOGITS, 0.1)) == [1]


def test_min_p_drops_tokens_below_a_fraction_of_the_best():
    assert sorted(kept(min_p_filter(LOGITS, 0.3))) == [1, 3, 4]


def test_temperature_scales_logits():
    out = process_logits(LOGITS, SamplingConfig(temperature=2.0))
    torch.testing.assert_close(out, LOGITS / 2)


def test_greedy_takes_the_argmax():
    assert sample(LOGITS[None], SamplingConfig(temperature=0)).item() == 1


def test_filtered_tokens_are_never_sampled():
    generator = torch.Generator().manual_seed(0)
    draws = sample(LOGITS.expand(2000, 5), SamplingConfig(top_k=2), generator)
    assert set(draws.tolist()) == {1, 3}
    share = (draws == 1).float().mean().item()
    assert abs(share - 0.4 / 0.7) < 0.04


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(temperature=-0.1), "temperature"),
        (dict(top_k=-1), "top_k"),
        (dict(top_p=0.0), "top_p"),
        (dict(top_p=1.5), "top_p"),
        (dict(min_p=1.0), "min_p"),
    ],
)
def test_bad_sampling_arguments_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SamplingConfig(**kwargs)


def test_guidance_combines_conditional_and_unconditional():
    cond, uncond = torch.tensor([2.0, 0.0]), torch.tensor([1.0, 1.0])
    assert guide(cond, uncond, 3.0).tolist() == [4.0, -2.0]
    assert guide(cond, uncond, 1.0).tolist() == cond.tolist()


def test_guidance_schedules():
    constant = GuidanceSchedule(4.0)
    assert [constant.scale_at(i, 5) for i in range(5)] == [4.0] * 5
    linear = GuidanceSchedule(4.0, "linear")
    assert [linear.scale_at(i, 5) for i in range(5)] == [1.0, 1.75, 2.5, 3.25, 4.0]
    interval = GuidanceSchedule(4.0, "interval", interval=(0.0, 0.5))
    assert [interval.scale_at(i, 5) for i in range(5)] == [4.0, 4.0, 4.0, 1.0, 1.0]
    cosine = GuidanceSchedule(3.0, "power_cosine", power=1.0)
    assert cosine.scale_at(0, 3) == 1.0 and cosine.scale_at(2, 3) == pytest.approx(3.0)
    assert cosine.scale_at(1, 3) == pytest.approx(1 + 2 * (1 - math.cos(math.pi / 2)) / 2)
    with pytest.raises(ValueError, match="guidance_schedule"):
        GuidanceSchedule(2.0, "cubic")
    with pytest.raises(ValueError, match="guidance_scale"):
        GuidanceSchedule(-1.0)


def _decode(seed, guidance=GuidanceSchedule()):
    torch.manual_seed(0)
    model = AutoregressiveModel(vocab_size=50, hidden_size=32, num_layers=1, num_heads=2,
                                rope_axes=2, class_sizes=[3]).eval()
    generator = torch.Generator().manual_seed(seed)
    tokens, stats = decode_sequential(
        model, RasterOrder((4, 4)), Condition(4, class_labels=torch.tensor([0, 1, 2, 0])),
        guidance=guidance, generator=generator,
    )
    return tokens, stats


def test_same_seed_same_samples_different_seed_differs():
    first, stats = _decode(1)
    again, _ = _decode(1)
    other, _ = _decode(2)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert stats.forward_passes == 16 and stats.tokens_generated == 64 and stats.tokens_per_pass == 1.0


def test_guidance_scale_one_equals_no_guidance():
    plain, _ = _decode(3)
    scale_one, _ = _decode(3, GuidanceSchedule(1.0, "linear"))
    assert torch.equal(plain, scale_one)


def test_condition_batch_mismatch_is_an_error():
    with pytest.raises(ValueError, match="class_labels"):
        Condition(2, class_labels=torch.tensor([0, 1, 2]))


class _UnitGuidance(GuidanceSchedule):
    """Runs the batched guidance path (conditional + null rows) at scale 1 on every step."""

    @property
    def enabled(self) -> bool:
        return True

    def scale_at(self, step: int, num_steps: int) -> float:
        return 1.0


def test_batched_guidance_at_scale_one_equals_the_conditional_model():
    plain, _ = _decode(4)
    batched, stats = _decode(4, _UnitGuidance())
    assert torch.equal(plain, batched)
