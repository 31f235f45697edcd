"""Speculative Jacobi decoding: the acceptance rule alone, greedy equality with sequential
decoding, and preservation of the sequential output distribution (which a wrong acceptance rule
breaks detectably)."""

import itertools

import pytest
import torch
from scipy import stats

from omniar.models.ar_model import AutoregressiveModel
from omniar.models.kv_cache import StaticKVCache
from omniar.orders import BlockCausalOrder, RasterOrder
from omniar.orders.registry import ORDERS
from omniar.samplers import jacobi
from omniar.samplers.condition import Condition
from omniar.samplers.decode import StopCondition, decode_sequential
from omniar.samplers.guidance import GuidanceSchedule, guide
from omniar.samplers.processors import (
    SamplingConfig,
    sample_from_probabilities,
    sampling_probabilities,
)
from omniar.samplers.speculative import (
    acceptance_probability,
    residual_distribution,
    speculative_accept,
)

GREEDY = SamplingConfig(temperature=0)
SIGNIFICANCE = 1e-3


def chi_square_p_value(observed: torch.Tensor, expected_probs: torch.Tensor) -> float:
    """Goodness of fit of counts to probabilities; cells expecting < 5 are pooled."""
    observed, expected = observed.double(), expected_probs.double() * observed.sum()
    small = expected < 5
    observed = torch.cat([observed[~small], observed[small].sum()[None]])
    expected = torch.cat([expected[~small], expected[small].sum()[None]])
    keep = expected > 0
    assert observed[~keep].sum() == 0, (
        "a sample fell outside the support of the target distribution"
    )
    observed, expected = observed[keep], expected[keep]
    return float(
        stats.chisquare(
            observed.numpy(), (expected * observed.sum() / expected.sum()).numpy()
        ).pvalue
    )


# ---- the acceptance rule alone --------------------------------------------------------------


def test_acceptance_rule_outputs_p_whatever_q():
    generator = torch.Generator().manual_seed(0)
    p = torch.tensor([0.5, 0.3, 0.2, 0.0, 0.0, 0.0])  # e.g. after top-k
    q = torch.tensor([0.05, 0.05, 0.3, 0.3, 0.2, 0.1])
    n = 60000
    drafts = sample_from_probabilities(q.expand(n, 6), generator)
    accepted, tokens = speculative_accept(p.expand(n, 6), q.expand(n, 6), drafts, generator)
    assert chi_square_p_value(torch.bincount(tokens, minlength=6), p) > SIGNIFICANCE
    expected_rate = torch.minimum(p, q).sum().item()
    assert abs(accepted.float().mean().item() - expected_rate) < 0.01
    assert torch.equal(tokens[accepted], drafts[accepted])


def test_point_mass_draft_is_accepted_with_probability_p():
    p = torch.tensor([0.1, 0.6, 0.3])
    q = torch.tensor([0.0, 0.0, 1.0])
    assert acceptance_probability(p, q, torch.tensor(2)).item() == pytest.approx(0.3)
    torch.testing.assert_close(residual_distribution(p, q), torch.tensor([1 / 7, 6 / 7, 0.0]))


def test_acceptance_rule_is_greedy_for_one_hot_p():
    generator = torch.Generator().manual_seed(0)
    p = torch.nn.functional.one_hot(torch.tensor([2, 0, 1]), 4).float()
    q = torch.full((3, 4), 0.25)
    accepted, tokens = speculative_accept(p, q, torch.tensor([2, 3, 1]), generator)
    assert accepted.tolist() == [True, False, True] and tokens.tolist() == [2, 0, 1]


def test_undrafted_variables_are_drawn_from_p_and_residual_of_equal_distributions_is_p():
    p = torch.tensor([[0.0, 1.0, 0.0]])
    accepted, tokens = speculative_accept(
        p, p.clone(), torch.tensor([0]), drafted=torch.tensor([False])
    )
    assert not accepted.item() and tokens.item() == 1
    torch.testing.assert_close(residual_distribution(p, p), p)
    with pytest.raises(ValueError, match="draft"):
        speculative_accept(p, p, torch.tensor([0, 1]))


# ---- greedy: token for token equal to sequential decoding ----------------------------------


class GenericWiringOrder(BlockCausalOrder):
    """Overrides `step_logits`, which makes Jacobi call it step by step (the generic path)."""

    def step_logits(self, logits, step_index, output=None):
        assert output is not None and output.logits.shape == logits.shape
        return super().step_logits(logits, step_index, output)


def class_model(axes: int, vocab: int = 7, codebooks: int = 1, sharpen: float = 1.0, seed: int = 0,
                vertical_head_layers: int = 0):
    torch.manual_seed(seed)
    model = AutoregressiveModel(
        vocab_size=vocab,
        num_codebooks=codebooks,
        hidden_size=32,
        num_layers=2,
        num_heads=4,
        rope_axes=axes,
        class_sizes=[3, 3],
        vertical_head_layers=vertical_head_layers,
    ).eval()
    with torch.no_grad():
        model.head.weight.mul_(sharpen)
        model.token_embed.weight.mul_(sharpen)
    return model


GREEDY_ORDERS = [
    ("raster-1d", RasterOrder(10), 1),
    ("raster-2d", RasterOrder((3, 4)), 2),
    ("block-causal", BlockCausalOrder(8, 2), 1),
    ("generic-wiring", GenericWiringOrder(8, 2), 1),
]
LABELS = torch.tensor([[0, 1], [1, 2], [2, 0]])


@pytest.mark.parametrize("name,order,axes", GREEDY_ORDERS, ids=[c[0] for c in GREEDY_ORDERS])
@pytest.mark.parametrize(
    "guidance", [GuidanceSchedule(), GuidanceSchedule(3.0, "linear")], ids=["plain", "cfg"]
)
def test_greedy_jacobi_equals_greedy_sequential(name, order, axes, guidance):
    for sharpen in (1.0, 30.0):  # flat (drafts often accepted) and chaotic (often rejected)
        model = class_model(axes, sharpen=sharpen)
        condition = Condition(3, class_labels=LABELS)
        expected, _ = decode_sequential(model, order, condition, GREEDY, guidance)
        for init, window in [("random", 3), ("left", 16), ("left", 1)]:
            tokens, stats = jacobi.decode_jacobi(
                model,
                order,
                condition,
                GREEDY,
                guidance,
                generator=torch.Generator().manual_seed(1),
                window=window,
                init=init,
            )
            assert torch.equal(tokens, expected), (sharpen, init, window)
            assert 1 <= stats.forward_passes <= order.num_steps


def test_greedy_jacobi_equals_sequential_for_neighbor_order():
    if "neighbor" not in ORDERS:
        pytest.skip("omniar.orders has no neighbor order yet")
    order = ORDERS["neighbor"]((4, 4))
    model = class_model(2, vertical_head_layers=1)
    condition = Condition(3, class_labels=LABELS)
    expected, _ = decode_sequential(model, order, condition, GREEDY)
    tokens, _ = jacobi.decode_jacobi(model, order, condition, GREEDY, window=4, init="left")
    assert torch.equal(tokens, expected)


def test_greedy_jacobi_with_several_codebooks():
    model = class_model(2, vocab=5, codebooks=2)
    condition = Condition(3, class_labels=LABELS)
    order = RasterOrder((3, 3))
    expected, _ = decode_sequential(model, order, condition, GREEDY, GuidanceSchedule(2.0))
    for init in jacobi.INITS:
        tokens, _ = jacobi.decode_jacobi(
            model, order, condition, GREEDY, GuidanceSchedule(2.0), window=4, init=init
        )
        assert tokens.shape == (3, 9, 2) and torch.equal(tokens, expected)


def test_greedy_jacobi_with_padded_text_prefix_and_adaln():
    torch.manual_seed(0)
    model = AutoregressiveModel(
        vocab_size=9, hidden_size=32, num_layers=2, num_heads=4, rope_axes=2, adaln=True,
        condition="text", text_dim=6,
    ).eval()
    for block in model.backbone.blocks:
        torch.nn.init.normal_(block.adaln[1].weight, std=0.3)
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]], dtype=torch.bool)
    condition = Condition(3, text_states=torch.randn(3, 4, 6), text_mask=mask)
    order, guidance = RasterOrder((3, 4)), GuidanceSchedule(3.0)
    expected, _ = decode_sequential(model, order, condition, GREEDY, guidance)
    tokens, _ = jacobi.decode_jacobi(model, order, condition, GREEDY, guidance, window=5)
    assert torch.equal(tokens, expected)


def test_window_zero_and_max_iterations_fall_back_to_one_step_per_pass():
    model = class_model(1)
    condition = Condition(3, class_labels=LABELS)
    order = RasterOrder(9)
    expected, _ = decode_sequential(model, order, condition, GREEDY)
    tokens, stats = jacobi.decode_jacobi(model, order, condition, GREEDY, window=0)
    assert torch.equal(tokens, expected) and stats.forward_passes == 9
    assert stats.extra["mean_accepted_tokens_per_pass"] == 1.0
    tokens, stats = jacobi.decode_jacobi(
        model, order, condition, GREEDY, window=8, max_iterations=2
    )
    assert torch.equal(tokens, expected) and stats.forward_passes <= 9


def test_greedy_with_stop_condition_matches_sequential():
    model = class_model(1, sharpen=20.0)
    condition = Condition(3, class_labels=LABELS)
    order = RasterOrder(12)
    free, _ = decode_sequential(model, order, condition, GREEDY)
    eos = int(free[0, 4])  # a token that occurs mid-sequence: samples stop at different steps
    pad = (eos + 1) % 7

    def run(decoder, **options):
        stop = StopCondition(3, eos, pad, torch.device("cpu"))
        tokens, stats = decoder(model, order, condition, GREEDY, stop=stop, **options)
        return tokens, stats, stop.done

    expected, _, expected_done = run(decode_sequential)
    tokens, stats, done = run(jacobi.decode_jacobi, window=4, init="left")
    assert torch.equal(tokens, expected) and torch.equal(done, expected_done)
    assert bool(done[0]) and (tokens[0, 5:] == pad).all()
    assert stats.tokens_generated <= 3 * 12


def test_on_step_reports_every_step_once_in_order_and_stats():
    model = class_model(1)
    seen = []
    _tokens, stats = jacobi.decode_jacobi(
        model,
        RasterOrder(8),
        Condition(2, class_labels=LABELS[:2]),
        GREEDY,
        window=3,
        on_step=lambda step, total, toks: seen.append((step, total)),
    )
    assert seen == [(i, 8) for i in range(8)]
    assert stats.tokens_generated == 16 and stats.samples == 2
    assert stats.extra["window"] == 3.0
    assert stats.extra["mean_accepted_tokens_per_pass"] == pytest.approx(
        stats.tokens_per_pass, abs=1e-3
    )


@pytest.mark.parametrize(
    "options,match",
    [
        ({"window": -1}, "window"),
        ({"window": 2.5}, "window"),
        ({"init": "zeros"}, "init"),
        ({"max_iterations": -2}, "max_iterations"),
    ],
)
def test_bad_options_name_the_argument(options, match):
    with pytest.raises(ValueError, match=match):
        jacobi.decode_jacobi(
            class_model(1), RasterOrder(4), Condition(1, class_labels=LABELS[:1]), **options
        )


# ---- distribution preservation on a tiny model ---------------------------------------------

VOCAB, LENGTH = 5, 3
SAMPLES = 6000


def tiny_model() -> AutoregressiveModel:
    """Peaked, strongly context-dependent conditionals (random weights scaled up)."""
    torch.manual_seed(0)
    model = AutoregressiveModel(
        vocab_size=VOCAB, hidden_size=16, num_layers=1, num_heads=2, class_sizes=[2]
    ).eval()
    with torch.no_grad():
        model.head.weight.mul_(20.0)
        model.token_embed.weight.mul_(20.0)
    return model


def exact_joint(
    model, label: int, sampling: SamplingConfig, guidance: GuidanceSchedule
) -> torch.Tensor:
    """Probability of each of the VOCAB**LENGTH sequences under sequential decoding (enumerated)."""
    order = RasterOrder(LENGTH)
    sequences = torch.tensor(list(itertools.product(range(VOCAB), repeat=LENGTH)))
    count = len(sequences)
    condition = Condition(count, class_labels=torch.full((count,), label))
    rows = torch.cat([sequences, sequences]) if guidance.enabled else sequences
    with torch.no_grad():
        output = model(
            **order.teacher_forcing_inputs(rows),
            **condition.model_kwargs(guidance.enabled, torch.device("cpu")),
        )
    logits = order.training_logits(output.logits, output.prefix_length)
    if guidance.enabled:
        scales = torch.tensor([guidance.scale_at(s, order.num_steps) for s in range(LENGTH)])
        logits = guide(logits[:count], logits[count:], scales.view(1, -1, 1))
    probs = sampling_probabilities(logits, sampling)
    return probs.gather(-1, sequences[..., None]).squeeze(-1).prod(-1)


def sequence_counts(tokens: torch.Tensor) -> torch.Tensor:
    codes = (tokens * VOCAB ** torch.arange(LENGTH - 1, -1, -1)).sum(-1)
    return torch.bincount(codes, minlength=VOCAB**LENGTH)


def draw(decoder, model, labels, sampling, guidance, seed, **options):
    condition = Condition(len(labels), class_labels=labels)
    generator = torch.Generator().manual_seed(seed)
    return decoder(
        model, RasterOrder(LENGTH), condition, sampling, guidance, generator=generator, **options
    )


SETTINGS = [
    ("plain-random", SamplingConfig(), GuidanceSchedule(), "random", 2),
    ("topk-cfg-random", SamplingConfig(top_k=3), GuidanceSchedule(3.0, "linear"), "random", 2),
    (
        "temperature-cfg-left",
        SamplingConfig(temperature=0.8, top_p=0.95),
        GuidanceSchedule(2.0),
        "left",
        3,
    ),
]


@pytest.mark.parametrize(
    "name,sampling,guidance,init,window", SETTINGS, ids=[s[0] for s in SETTINGS]
)
def test_jacobi_preserves_the_sequential_distribution(name, sampling, guidance, init, window):
    model = tiny_model()
    labels = torch.ones(SAMPLES, dtype=torch.long)
    target = exact_joint(model, 1, sampling, guidance)
    sequential, _ = draw(decode_sequential, model, labels, sampling, guidance, seed=0)
    parallel, decoded = draw(
        jacobi.decode_jacobi, model, labels, sampling, guidance, seed=1, window=window, init=init
    )
    seq_counts, jac_counts = sequence_counts(sequential), sequence_counts(parallel)
    assert chi_square_p_value(seq_counts, target) > SIGNIFICANCE
    assert chi_square_p_value(jac_counts, target) > SIGNIFICANCE
    table = torch.stack([seq_counts, jac_counts])
    table = table[:, table.sum(0) >= 10]
    assert stats.contingency.chi2_contingency(table.numpy()).pvalue > SIGNIFICANCE
    assert decoded.extra["mean_accepted_tokens_per_pass"] > 1.0  # drafts were accepted at all


def _always_accept(p, q, draft, generator=None, drafted=None):
    _, tokens = speculative_accept(p, q, draft, generator, drafted)
    return drafted, torch.where(drafted, draft, tokens)


def _resample_from_p(p, q, draft, generator=None, drafted=None):
    accepted, _ = speculative_accept(p, q, draft, generator, drafted)
    return accepted, torch.where(accepted, draft, sample_from_probabilities(p, generator))


@pytest.mark.parametrize(
    "wrong_rule", [_always_accept, _resample_from_p], ids=["always-accept", "resample-from-p"]
)
def test_a_wrong_acceptance_rule_is_detected(monkeypatch, wrong_rule):
    model = tiny_model()
    sampling, guidance = SamplingConfig(top_k=3), GuidanceSchedule(3.0, "linear")
    monkeypatch.setattr(jacobi, "speculative_accept", wrong_rule)
    tokens, _ = draw(
        jacobi.decode_jacobi,
        model,
        torch.ones(SAMPLES, dtype=torch.long),
        sampling,
        guidance,
        seed=1,
        window=2,
    )
    assert (
        chi_square_p_value(sequence_counts(tokens), exact_joint(model, 1, sampling, guidance))
        < 1e-8
    )


def test_per_sample_accepted_lengths_differ_and_each_sample_keeps_its_distribution(monkeypatch):
    model = tiny_model()
    sampling, guidance = SamplingConfig(), GuidanceSchedule(2.0)
    lengths = []
    rollback = StaticKVCache.rollback

    def recording_rollback(cache, new_lengths):
        lengths.append(torch.as_tensor(new_lengths).clone())
        rollback(cache, new_lengths)

    monkeypatch.setattr(StaticKVCache, "rollback", recording_rollback)
    labels = torch.arange(SAMPLES) % 2
    tokens, _ = draw(jacobi.decode_jacobi, model, labels, sampling, guidance, seed=2, window=2)
    batch = SAMPLES
    assert any(len(set(step[:batch].tolist())) > 1 for step in lengths), (
        "all samples advanced alike"
    )
    assert all(torch.equal(step[:batch], step[batch:]) for step in lengths), (
        "cfg rows out of lockstep"
    )
    for label in (0, 1):
        counts = sequence_counts(tokens[labels == label])
        assert (
            chi_square_p_value(counts, exact_joint(model, label, sampling, guidance)) > SIGNIFICANCE
        )
