"""Input-token corruption: only the fed history changes, at the asked-for rates, in training only."""

import pytest
import torch

from omniar.models.ar_model import AutoregressiveModel
from omniar.orders import RasterOrder
from omniar.training.ar_loss import autoregressive_loss, corrupt_inputs


def test_corruption_rate_stays_within_the_maximum_and_draws_from_the_batch():
    torch.manual_seed(0)
    tokens = torch.arange(4096).view(64, 64)
    noisy = corrupt_inputs(tokens, 0.3)
    changed = (noisy != tokens).float().mean(1)
    assert changed.max() <= 0.45  # per-sample rate <= 0.3 plus sampling spread over 64 tokens
    assert 0.1 < changed.mean() < 0.2  # mean rate 0.15
    assert changed.std() > 0.03  # rates differ between samples
    assert torch.isin(noisy, tokens).all()
    assert torch.equal(corrupt_inputs(tokens, 0.0), tokens)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_bad_rates_are_refused(rate):
    tokens = torch.zeros(2, 4, dtype=torch.long)
    with pytest.raises(ValueError, match="input_noise"):
        corrupt_inputs(tokens, rate)


def _model_and_tokens():
    torch.manual_seed(0)
    model = AutoregressiveModel(vocab_size=11, hidden_size=32, num_layers=2, num_heads=4,
                                rope_axes=2, class_sizes=(3,))
    return model, torch.randint(0, 11, (8, 16)), {"class_labels": torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])}


def test_noise_changes_the_training_loss_but_not_the_evaluation_loss():
    model, tokens, condition = _model_and_tokens()
    order = RasterOrder((4, 4))
    model.eval()
    clean, _ = autoregressive_loss(model, order, tokens, condition)
    noisy_eval, _ = autoregressive_loss(model, order, tokens, condition, input_noise=0.9)
    assert torch.equal(clean, noisy_eval)
    model.train()
    clean_train, _ = autoregressive_loss(model, order, tokens, condition)
    torch.manual_seed(1)
    noisy_train, _ = autoregressive_loss(model, order, tokens, condition, input_noise=0.9)
    assert torch.allclose(clean, clean_train)
    assert not torch.allclose(clean_train, noisy_train)
