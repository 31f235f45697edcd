"""The trainer overfits a tiny token set and resumes a stopped run with identical results."""

import json

import pytest
import torch
import yaml

from omniar.data.token_file import save_token_file
from omniar.training.config import TrainerConfig
from omniar.training.metrics_log import read_metrics
from omniar.training.recipes import run_recipe
from omniar.training.trainer import Trainer

MODEL = dict(vocab_size=6, hidden_size=32, num_layers=2, num_heads=2, rope_axes=1, class_sizes=[2])


def write_recipe(tmp_path, max_steps, output, order=None, ema=None):
    tokens = torch.tensor([[1, 2, 3, 4, 5, 0], [5, 4, 3, 2, 1, 0]])
    save_token_file(tmp_path / "tokens.safetensors", tokens, torch.tensor([0, 1]))
    recipe = {
        "task": "ar_tokens",
        "data": {"tokens": str(tmp_path / "tokens.safetensors")},
        "order": order or {"name": "raster", "shape": [6]},
        "model": MODEL,
        "condition_dropout": 0.0,
        "trainer": {
            "output_dir": str(tmp_path / output), "max_steps": max_steps, "batch_size": 2,
            "learning_rate": 3e-3, "warmup_steps": 5, "log_every": 5, "checkpoint_every": 10,
            "ema_decay": ema,
        },
    }
    path = tmp_path / f"{output}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_tiny_model_overfits(tmp_path):
    run_recipe(write_recipe(tmp_path, 120, "run"), show_progress=False)
    metrics = [m for m in read_metrics(tmp_path / "run" / "metrics.jsonl") if "loss" in m]
    assert metrics[0]["loss"] > 1.0
    assert metrics[-1]["loss"] < 0.05
    assert (tmp_path / "run" / "final" / "config.json").exists()


@pytest.mark.parametrize("ema", [None, 0.9])
def test_resume_continues_identically(tmp_path, ema):
    straight = run_recipe(write_recipe(tmp_path, 20, "straight", ema=ema), show_progress=False)
    resumed_path = write_recipe(tmp_path, 20, "resumed", ema=ema)
    run_recipe(resumed_path, show_progress=False, stop_after=10)
    assert not (tmp_path / "resumed" / "final").exists()
    resumed = run_recipe(resumed_path, show_progress=False)
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    log = [json.loads(line) for line in (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in log] == [5, 10, 15, 20]


def test_block_causal_order_trains_on_the_same_transformer(tmp_path):
    model = dict(MODEL, class_sizes=[2, 2])
    path = write_recipe(tmp_path, 120, "blocks", order={"name": "block_causal", "length": 6, "block_size": 2})
    recipe = yaml.safe_load(path.read_text())
    recipe["model"] = model
    import safetensors.torch as st
    data = st.load_file(str(tmp_path / "tokens.safetensors"))
    data["class_labels"] = torch.tensor([[0, 0], [1, 1]])
    st.save_file(data, str(tmp_path / "tokens.safetensors"))
    path.write_text(yaml.safe_dump(recipe))
    run_recipe(path, show_progress=False)
    metrics = [m for m in read_metrics(tmp_path / "blocks" / "metrics.jsonl") if "loss" in m]
    assert metrics[-1]["loss"] < 0.05


def test_bad_trainer_settings_are_named():
    with pytest.raises(ValueError, match="max_steps"):
        TrainerConfig(output_dir="x", max_steps=0)
    with pytest.raises(ValueError, match="unknown trainer setting"):
        TrainerConfig.from_dict({"output_dir": "x", "max_steps": 1, "lr": 1.0})
    with pytest.raises(ValueError, match="mixed_precision"):
        TrainerConfig(output_dir="x", max_steps=1, mixed_precision="fp8")


def _train_linear(tmp_path, ema_restarts, max_steps=12):
    torch.manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(8, 2), torch.randn(8, 1))

    def loss_fn(model, batch, step):
        inputs, targets = batch
        return ((model(inputs) - targets) ** 2).mean(), {}

    config = TrainerConfig(output_dir=str(tmp_path / f"linear{list(ema_restarts)}"), max_steps=max_steps,
                           batch_size=4, learning_rate=0.1, warmup_steps=0, lr_schedule="constant",
                           ema_decay=0.9, checkpoint_every=100, log_every=100)
    trainer = Trainer(torch.nn.Linear(2, 1), data, loss_fn, config, show_progress=False,
                      ema_restarts=ema_restarts)
    averaged = trainer.train()
    return averaged, trainer.model


def test_ema_restart_drops_the_weights_before_it(tmp_path):
    averaged, raw = _train_linear(tmp_path, ())
    assert not torch.allclose(averaged.weight, raw.weight)
    restarted, raw = _train_linear(tmp_path, (11,))
    torch.testing.assert_close(restarted.weight, raw.weight)
    # A restart at step 6 averages steps 6-11 only, so it ends nearer the raw weights than no restart.
    middle, raw = _train_linear(tmp_path, (6,))
    assert (middle.weight - raw.weight).abs().sum() < (averaged.weight - raw.weight).abs().sum()



def test_each_evaluation_step_is_logged_once(tmp_path):
    data = torch.utils.data.TensorDataset(torch.randn(8, 2), torch.randn(8, 1))
    evaluated = []

    def loss_fn(model, batch, step):
        inputs, targets = batch
        return ((model(inputs) - targets) ** 2).mean(), {}

    def eval_fn(model):
        evaluated.append(len(evaluated))
        return {"probe": float(len(evaluated))}

    config = TrainerConfig(output_dir=str(tmp_path / "run"), max_steps=6, batch_size=4,
                           learning_rate=0.1, warmup_steps=0, checkpoint_every=100, log_every=100,
                           eval_every=2)
    def run():
        Trainer(torch.nn.Linear(2, 1), data, loss_fn, config, eval_fn=eval_fn,
                show_progress=False).train()
        return [(entry["step"], entry["eval/probe"])
                for entry in read_metrics(tmp_path / "run" / "metrics.jsonl") if "eval/probe" in entry]

    assert run() == [(2, 1.0), (4, 2.0), (6, 3.0)]
    # Rerunning the finished training (to finalize again) evaluates the final model once more;
    # its entry replaces the old one instead of adding a second line for step 6.
    assert run() == [(2, 1.0), (4, 2.0), (6, 4.0)]
