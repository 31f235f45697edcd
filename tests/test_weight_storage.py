"""Storing saved weights in a smaller precision (omniar.training.storage)."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from omniar.models.ar_model import AutoregressiveModel
from omniar.training.storage import cast_saved_weights, storage_dtype

WEIGHTS = "diffusion_pytorch_model.safetensors"


def tiny_model() -> AutoregressiveModel:
    torch.manual_seed(0)
    model = AutoregressiveModel(
        vocab_size=16, hidden_size=32, num_layers=1, num_heads=2, condition="none"
    )
    return model.eval()


def test_float16_storage_halves_the_file_and_loads_back_as_float32(tmp_path):
    model = tiny_model()
    model.save_pretrained(tmp_path / "half")
    model.save_pretrained(tmp_path / "full")
    cast_saved_weights(tmp_path / "half", "float16")

    stored = load_file(tmp_path / "half" / WEIGHTS)
    assert {value.dtype for value in stored.values()} == {torch.float16}
    assert not list((tmp_path / "half").glob("*.partial"))
    half_bytes = (tmp_path / "half" / WEIGHTS).stat().st_size
    assert half_bytes < 0.55 * (tmp_path / "full" / WEIGHTS).stat().st_size

    loaded = AutoregressiveModel.from_pretrained(tmp_path / "half")
    for name, value in loaded.state_dict().items():
        assert value.dtype == torch.float32
        torch.testing.assert_close(value, model.state_dict()[name].half().float())
    tokens = torch.randint(0, 16, (2, 6))
    args = dict(position_ids=torch.zeros(2, 6, 1), ranks=torch.arange(1, 7).expand(2, -1))
    logits = model(tokens, **args).logits
    loaded_logits = loaded.eval()(tokens, **args).logits
    torch.testing.assert_close(loaded_logits, logits, atol=2e-2, rtol=0)
    assert not torch.equal(loaded_logits, logits)


def test_no_storage_dtype_leaves_the_files_alone(tmp_path):
    tiny_model().save_pretrained(tmp_path)
    before = (tmp_path / WEIGHTS).read_bytes()
    cast_saved_weights(tmp_path, None)
    assert (tmp_path / WEIGHTS).read_bytes() == before


def test_bad_storage_requests_are_refused(tmp_path):
    with pytest.raises(ValueError, match="weights_dtype must be one of"):
        storage_dtype("float8")
    with pytest.raises(ValueError, match="no .safetensors weights"):
        cast_saved_weights(tmp_path, "float16")
