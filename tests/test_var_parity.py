"""Converted VAR models compute what VAR's equations compute (fp32, max |diff| <= 1e-4).

The references in `var_reference` read random state dicts in VAR's key names (two blocks at
VAR-d16 widths, VAR's ten scales) directly; the model and tokenizer under test are what
`omniar.convert` builds from them.
"""

import pytest
import torch
from var_reference import (
    SCALES,
    greedy_reference,
    next_scale_inputs,
    vae_state,
    var_logits,
    var_state,
)

from omniar.convert.var import load_var
from omniar.convert.var_vae import load_vae
from omniar.orders.next_scale import NextScaleOrder, flatten_scales
from omniar.samplers.condition import Condition
from omniar.samplers.guidance import GuidanceSchedule, guide
from omniar.samplers.processors import SamplingConfig
from omniar.samplers.registry import get_decoder

TOLERANCE = 1e-4
ORDER = NextScaleOrder(SCALES)


@pytest.fixture(scope="module")
def vae():
    state = vae_state(seed=1, ch=32)
    return state, load_vae(dict(state), "vae.pth", SCALES)[0]


@pytest.fixture(scope="module")
def var():
    state = var_state(seed=0)
    return state, load_var(dict(state), "var_d16.pth")[0]


def _codes(batch: int, seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 4096, (batch, side, side), generator=g) for side in SCALES]


def test_teacher_forcing_inputs_equal_the_reference(vae):
    state, tokenizer = vae
    codes = _codes(2, seed=2)
    features = ORDER.teacher_forcing_inputs(flatten_scales(codes), context=tokenizer)["features"]
    assert features.shape == (2, 679, 32 + 10)
    assert (features[..., :32] - next_scale_inputs(state, codes)).abs().max() <= 1e-5


@pytest.mark.parametrize("shared", [False, True])
def test_teacher_forced_logits_with_and_without_guidance(shared, var, vae):
    state, model = var if not shared else (var_state(seed=3, shared=True), None)
    if shared:
        model = load_var(dict(state), "var_d16s.pth")[0]
        assert model.config.adaln_shared
    vae_state_dict, tokenizer = vae
    codes = _codes(2, seed=4)
    tokens = flatten_scales(codes)
    labels = torch.tensor([207, 980])
    inputs = ORDER.teacher_forcing_inputs(torch.cat([tokens, tokens]), context=tokenizer)
    with torch.no_grad():
        ours = model(**inputs, with_prefix=True, class_labels=torch.cat([labels, labels]),
                     drop_condition=torch.tensor([False, False, True, True])).logits
    features = next_scale_inputs(vae_state_dict, codes)
    reference = var_logits(state, torch.cat([labels, torch.full_like(labels, 1000)]), torch.cat([features, features]))
    assert ours.shape == reference.shape == (4, 680, 4096)
    assert (ours - reference).abs().max() <= TOLERANCE
    t = 4.0 * 5 / 9  # VAR's cfg=4 at scale 5 is our linear schedule's scale 1 + t
    scale = GuidanceSchedule(scale=5.0, schedule="linear").scale_at(5, 10)
    assert scale == pytest.approx(1 + t)
    guided = guide(ours[:2], ours[2:], scale)
    expected = (1 + t) * reference[:2] - t * reference[2:]
    assert (guided - expected).abs().max() <= 4 * TOLERANCE


def test_cached_scale_by_scale_decode_matches_reference(var, vae):
    state, model = var
    vae_state_dict, tokenizer = vae
    codes = _codes(1, seed=5)
    tokens = flatten_scales(codes).repeat(2, 1)
    condition = Condition(1, class_labels=torch.tensor([33]))
    cache = model.new_cache(2, 680)
    with torch.no_grad():
        output = model(**condition.model_kwargs(True, model.device), cache=cache)
        steps, adaln = [output.logits[:, -1:]], output.adaln_cond
        for index in range(1, ORDER.num_steps):
            inputs = ORDER.step_inputs(tokens, index, context=tokenizer)
            steps.append(model(**inputs, cache=cache, adaln_cond=adaln).logits)
    ours = torch.cat(steps, 1)
    features = next_scale_inputs(vae_state_dict, codes).repeat(2, 1, 1)
    reference = var_logits(state, torch.tensor([33, 1000]), features)
    assert (ours - reference).abs().max() <= TOLERANCE


def test_greedy_decoding_with_vars_linear_guidance_equals_the_reference_loop(var, vae):
    state, model = var
    vae_state_dict, tokenizer = vae
    labels = torch.tensor([207])
    expected = greedy_reference(state, vae_state_dict, labels, cfg=4.0)
    tokens, stats = get_decoder("sequential")(
        model, ORDER, Condition(1, class_labels=labels), SamplingConfig(top_k=1),
        GuidanceSchedule(scale=5.0, schedule="linear"), context=tokenizer)
    assert stats.forward_passes == 10
    assert torch.equal(tokens, flatten_scales(expected))
