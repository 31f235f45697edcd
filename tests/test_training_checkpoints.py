"""Folders left by an interrupted checkpoint write are tidied at the next start, with a notice."""

from __future__ import annotations

import shutil

import torch

from omniar.training.checkpoints import checkpoint_dirs, clean_orphans
from omniar.training.config import TrainerConfig
from omniar.training.trainer import Trainer


def test_clean_orphans_removes_temporaries_and_restores_a_lost_backup(tmp_path):
    for name in (".tmp-step_30-111", ".old-step_10-222", ".old-step_20-333", "step_10"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "marker").write_text(name)
    (tmp_path / ".tmp-final-444").write_text("a stray file")
    notice = clean_orphans(tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["step_10", "step_20"]
    # step_20 was being replaced when the run died: its complete backup comes back.
    assert (tmp_path / "step_20" / "marker").read_text() == ".old-step_20-333"
    assert (tmp_path / "step_10" / "marker").read_text() == "step_10"
    assert "\n" not in notice and "interrupted" in notice and "restored step_20" in notice
    assert clean_orphans(tmp_path) is None
    assert clean_orphans(tmp_path / "missing") is None


def _trainer(output_dir, max_steps):
    data = torch.utils.data.TensorDataset(torch.randn(8, 2), torch.randn(8, 1))

    def loss_fn(model, batch, step):
        inputs, targets = batch
        return ((model(inputs) - targets) ** 2).mean(), {}

    config = TrainerConfig(output_dir=str(output_dir), max_steps=max_steps, batch_size=4,
                           warmup_steps=0, checkpoint_every=2, log_every=2)
    return Trainer(torch.nn.Linear(2, 1), data, loss_fn, config, show_progress=False)


def test_a_run_with_orphans_resumes_and_says_so(tmp_path, capsys):
    _trainer(tmp_path, 4).train()
    root = tmp_path / "checkpoints"
    # What a write killed half-way through step 6 would leave: a partial temporary folder.
    shutil.copytree(root / "step_4", root / ".tmp-step_6-99999")
    (root / ".tmp-step_6-99999" / "model.safetensors").unlink()
    (tmp_path / ".tmp-final-99999").mkdir()
    capsys.readouterr()
    _trainer(tmp_path, 6).train()
    out = capsys.readouterr().out
    notices = [line for line in out.splitlines() if "interrupted" in line]
    assert len(notices) == 2, out
    assert "Traceback" not in out
    assert [step for step, _ in checkpoint_dirs(root)] == [4, 6]
    assert not [path for path in (*root.iterdir(), *tmp_path.iterdir()) if path.name.startswith(".")]
