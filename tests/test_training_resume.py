"""A run killed after a checkpoint and resumed logs the very losses of an uninterrupted run.

The toy below has every source of randomness a real task has: dropout in the model, random
augmentation while reading samples (torch, numpy and python `random`), and optionally data-loader
workers, gradient accumulation, EMA and a log interval that does not divide the checkpoint
interval. Losses are compared with `==`, step by step, after the resume.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from omniar.training.config import TrainerConfig
from omniar.training.metrics_log import read_metrics
from omniar.training.trainer import Trainer

MAX_STEPS = 12
CRASH_AT = 7  # the checkpoint before it is step 6
SETTINGS = {
    "plain": {},
    "ema_accumulation_workers": {"ema_decay": 0.9, "gradient_accumulation_steps": 2, "num_workers": 1},
    "log_every_2": {"log_every": 2},  # the checkpoint at step 3 falls between two log lines
}


class AugmentedPoints(torch.utils.data.Dataset):
    """Random points, jittered on every read with torch, numpy and python `random`."""

    def __init__(self) -> None:
        generator = torch.Generator().manual_seed(0)
        self.inputs = torch.randn(20, 4, generator=generator)
        self.targets = torch.randn(20, 1, generator=generator)

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int):
        jitter = 0.1 * torch.randn(4) + float(np.random.uniform(-0.1, 0.1)) + random.uniform(-0.1, 0.1)
        return self.inputs[index] + jitter, self.targets[index]


def toy_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Dropout(0.3), torch.nn.Linear(16, 1))


def toy_trainer(output_dir: Path, settings: dict, crash_at: int | None = None, block: bool = False) -> Trainer:
    """The toy run; `crash_at` makes the loss raise (or, with `block`, hang) at that 0-based step."""

    def loss_fn(model, batch, step):
        if step == crash_at:
            if block:
                print("ready", flush=True)
                import time

                time.sleep(600)
            raise RuntimeError("simulated crash")
        inputs, targets = batch
        return ((model(inputs) - targets) ** 2).mean(), {}

    config = TrainerConfig(
        output_dir=str(output_dir), max_steps=MAX_STEPS, batch_size=4, learning_rate=0.05,
        warmup_steps=2, checkpoint_every=3, seed=3, **{"log_every": 1, **settings},
    )
    return Trainer(toy_model(), AugmentedPoints(), loss_fn, config, show_progress=False)


def losses(output_dir: Path) -> dict[int, float]:
    return {entry["step"]: entry["loss"] for entry in read_metrics(output_dir / "metrics.jsonl") if "loss" in entry}


def straight_run(tmp_path: Path, settings: dict) -> tuple[dict[int, float], torch.nn.Module]:
    model = toy_trainer(tmp_path / "straight", settings).train()
    return losses(tmp_path / "straight"), model


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_resume_after_a_crash_is_bit_identical(tmp_path, name):
    settings = SETTINGS[name]
    expected, straight_model = straight_run(tmp_path, settings)
    with pytest.raises(RuntimeError, match="simulated crash"):
        toy_trainer(tmp_path / "crashed", settings, crash_at=CRASH_AT).train()
    resumed_model = toy_trainer(tmp_path / "crashed", settings).train()
    got = losses(tmp_path / "crashed")
    assert sorted(got) == sorted(expected)
    for step in (step for step in expected if step >= CRASH_AT):
        assert got[step] == expected[step], f"step {step}: {got[step]!r} != {expected[step]!r}"
    for (key, a), b in zip(straight_model.state_dict().items(), resumed_model.state_dict().values()):
        assert torch.equal(a, b), key


def test_resume_after_sigkill_is_bit_identical(tmp_path):
    """The process is really killed (SIGKILL, no clean-up) while computing the step after a checkpoint."""
    expected, _ = straight_run(tmp_path, {})
    child = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]);"
        "import test_training_resume as toy;"
        "toy.toy_trainer(Path(sys.argv[2]), {}, crash_at=toy.CRASH_AT, block=True).train()"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", child, str(Path(__file__).parent), str(tmp_path / "killed")],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout.readline().strip() == "ready"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert (tmp_path / "killed" / "checkpoints" / "step_6").is_dir()
    toy_trainer(tmp_path / "killed", {}).train()
    got = losses(tmp_path / "killed")
    for step in range(CRASH_AT, MAX_STEPS + 1):
        assert got[step] == expected[step], f"step {step}: {got[step]!r} != {expected[step]!r}"
