"""One training loop for every omniar model, built on accelerate.

Mixed precision, gradient accumulation, multi-GPU and multi-node come from `accelerate`
(`accelerate launch -m omniar.cli train RECIPE` scales the same code); the learning-rate schedule
comes from diffusers' `get_scheduler` and weight EMA from diffusers' `EMAModel`. This module adds
what those do not: a bit-identical resume (batches and their augmentation seeded per batch,
`omniar.training.batches`; the metrics summed since the last log line saved with the checkpoint),
atomic checkpoints tidied after an interrupted write, metrics as JSON lines.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from diffusers.optimization import get_scheduler
from diffusers.training_utils import EMAModel
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from omniar.training.batches import ResumableBatchSampler, SeededBatchSampler, SeededDataset
from omniar.training.checkpoints import checkpoint_dirs, clean_orphans, prune, write_atomically
from omniar.training.config import TrainerConfig
from omniar.training.metrics_log import MetricsLog
from omniar.training.setup import EvalFn, LossFn

__all__ = ["Trainer", "TrainerConfig"]


def _move_to(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {key: _move_to(value, device) for key, value in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_move_to(value, device) for value in batch)
    return batch


class _RunState:
    """The optimiser step and the metrics summed since the last log line, saved with accelerate's
    state so that a resumed run logs the very figures an uninterrupted one would."""

    def __init__(self) -> None:
        self.step = 0
        self.sums: dict[str, float] = {}
        self.grad_norms: list[float] = []
        self.counted = 0

    def add(self, values: dict[str, float]) -> None:
        for key, value in values.items():
            self.sums[key] = self.sums.get(key, 0.0) + float(value)
        self.counted += 1

    def take_means(self) -> dict[str, float]:
        """The means since the last call (grad_norm included when clipping measured it)."""
        means = {key: value / self.counted for key, value in self.sums.items()}
        if self.grad_norms:
            means["grad_norm"] = sum(self.grad_norms) / len(self.grad_norms)
        self.sums, self.grad_norms, self.counted = {}, [], 0
        return means

    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step, "sums": dict(self.sums), "grad_norms": list(self.grad_norms),
                "counted": self.counted}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])
        self.sums = {key: float(value) for key, value in state.get("sums", {}).items()}
        self.grad_norms = [float(value) for value in state.get("grad_norms", [])]
        self.counted = int(state.get("counted", 0))


class Trainer:
    """Train `model` on `train_dataset` by minimising `loss_fn(model, batch, step)`.

    Resumes from the newest checkpoint in `config.output_dir`, so rerunning a killed command
    continues it. `train()` returns the unwrapped model carrying the EMA weights when EMA is on;
    the average restarts from the current weights after each 0-based step in `ema_restarts`
    (see `TrainingSetup`).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        train_dataset: Dataset,
        loss_fn: LossFn,
        config: TrainerConfig,
        collate_fn: Callable | None = None,
        eval_fn: EvalFn | None = None,
        finalize: Callable[[torch.nn.Module, str], None] | None = None,
        show_progress: bool = True,
        ema_restarts: tuple[int, ...] = (),
    ) -> None:
        self.model = model
        self.train_dataset = train_dataset
        self.loss_fn = loss_fn
        self.config = config
        self.collate_fn = collate_fn
        self.eval_fn = eval_fn
        self.finalize = finalize
        self.show_progress = show_progress
        self.ema_restarts = frozenset(int(step) for step in ema_restarts)
        self.output_dir = Path(config.output_dir)
        self.checkpoint_root = self.output_dir / "checkpoints"

    def _build(self) -> None:
        cfg = self.config
        self.accelerator = Accelerator(
            mixed_precision=cfg.mixed_precision,
            gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        )
        set_seed(cfg.seed)
        decay, no_decay = [], []
        for param in self.model.parameters():
            if param.requires_grad:
                (decay if param.ndim >= 2 else no_decay).append(param)
        optimizer = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": cfg.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=cfg.learning_rate,
            betas=cfg.betas,
        )
        scheduler = get_scheduler(
            "cosine" if cfg.lr_schedule == "cosine" else "constant_with_warmup",
            optimizer,
            # accelerate steps a prepared scheduler once per process per optimiser step.
            num_warmup_steps=cfg.warmup_steps * self.accelerator.num_processes,
            num_training_steps=cfg.max_steps * self.accelerator.num_processes,
        )
        self.ema = EMAModel(self.model.parameters(), decay=cfg.ema_decay) if cfg.ema_decay else None
        self.wrapped, self.optimizer, self.scheduler = self.accelerator.prepare(
            self.model, optimizer, scheduler
        )
        self.state = _RunState()
        self.accelerator.register_for_checkpointing(self.state)
        if self.ema is not None:
            self.ema.to(self.accelerator.device)
            self.accelerator.register_for_checkpointing(self.ema)

    def _resume(self) -> int:
        if self.accelerator.is_main_process:
            for folder in (self.checkpoint_root, self.output_dir):
                notice = clean_orphans(folder)
                if notice:
                    self.accelerator.print(notice)
        self.accelerator.wait_for_everyone()
        found = checkpoint_dirs(self.checkpoint_root)
        if not found:
            return 0
        _, path = found[-1]
        self.accelerator.load_state(str(path))
        self.accelerator.print(f"resumed from {path} (step {self.state.step})")
        return self.state.step

    def _save_checkpoint(self, step: int) -> None:
        self.state.step = step
        target = self.checkpoint_root / f"step_{step}"
        if self.accelerator.is_main_process:
            write_atomically(target, lambda tmp: self.accelerator.save_state(str(tmp)))
            prune(self.checkpoint_root, self.config.keep_checkpoints)
        self.accelerator.wait_for_everyone()

    def _evaluation_model(self) -> torch.nn.Module:
        model = self.accelerator.unwrap_model(self.wrapped)
        if self.ema is None:
            return model
        averaged = copy.deepcopy(model)
        self.ema.copy_to(averaged.parameters())
        return averaged

    def _loader(self, start_step: int) -> DataLoader:
        sampler = ResumableBatchSampler(
            len(self.train_dataset),
            self.config.batch_size,
            seed=self.config.seed,
            start_step=start_step * self.config.gradient_accumulation_steps,
            rank=self.accelerator.process_index,
            world_size=self.accelerator.num_processes,
        )
        # The loader's own generator (not the global one) draws its worker base seed, so creating
        # it does not shift the global random stream, which the checkpoint restores.
        return DataLoader(
            SeededDataset(self.train_dataset),
            batch_sampler=SeededBatchSampler(sampler),
            collate_fn=self.collate_fn,
            num_workers=self.config.num_workers,
            generator=torch.Generator().manual_seed(self.config.seed),
        )

    def train(self, stop_after: int | None = None) -> torch.nn.Module:
        """Run until `max_steps` optimiser steps, checkpointing and logging on the way.

        `stop_after` ends the run early at that step with a checkpoint (as if it were killed
        there) without finishing; rerunning resumes it on the same schedule.
        """
        cfg = self.config
        self._build()
        start = self._resume()
        log = MetricsLog(self.output_dir / "metrics.jsonl", start) if self.accelerator.is_main_process else None
        batches = iter(self._loader(start))
        progress = tqdm(
            total=cfg.max_steps,
            initial=start,
            desc="train",
            disable=not (self.show_progress and self.accelerator.is_local_main_process),
        )
        last_time = time.perf_counter()
        step = logged_step = start
        self.wrapped.train()
        end = cfg.max_steps if stop_after is None else min(stop_after, cfg.max_steps)
        while step < end:
            for _ in range(cfg.gradient_accumulation_steps):
                batch = _move_to(next(batches), self.accelerator.device)
                with self.accelerator.accumulate(self.wrapped), self.accelerator.autocast():
                    loss, logs = self.loss_fn(self.wrapped, batch, step)
                    if not torch.isfinite(loss):
                        raise FloatingPointError(
                            f"loss became {loss.item()} at step {step}; lower trainer.learning_rate "
                            "or check the data"
                        )
                    self.accelerator.backward(loss)
                    grad_norm = None
                    if self.accelerator.sync_gradients and cfg.max_grad_norm is not None:
                        grad_norm = self.accelerator.clip_grad_norm_(
                            self.wrapped.parameters(), cfg.max_grad_norm
                        )
                    self.optimizer.step()
                    self.scheduler.step()
                    self.optimizer.zero_grad(set_to_none=True)
                self.state.add({"loss": loss.item(), **logs})
            if self.ema is not None and step in self.ema_restarts:
                # diffusers' EMAModel uses decay 0 on its first update, so the average restarts
                # from the weights just stepped and then warms up as it did at the start.
                self.ema.optimization_step = 0
            step += 1
            if self.ema is not None:
                self.ema.step(self.accelerator.unwrap_model(self.wrapped).parameters())
            if grad_norm is not None:
                self.state.grad_norms.append(float(grad_norm))
            progress.update(1)
            if step % cfg.log_every == 0 or step == cfg.max_steps:
                means = self.state.take_means()
                elapsed = time.perf_counter() - last_time
                means["lr"] = self.scheduler.get_last_lr()[0]
                means["steps_per_s"] = (step - logged_step) / elapsed if elapsed > 0 else math.inf
                progress.set_postfix(loss=f"{means['loss']:.4f}")
                if log is not None:
                    log.write(step, means)
                logged_step = step
                last_time = time.perf_counter()
            # The last step is evaluated once, on the final model, after the loop.
            if (self.eval_fn is not None and cfg.eval_every and step % cfg.eval_every == 0
                    and step < cfg.max_steps):
                self._evaluate(step, log)
            if step % cfg.checkpoint_every == 0 or step == end:
                self._save_checkpoint(step)
        progress.close()
        if step < cfg.max_steps:
            return self.accelerator.unwrap_model(self.wrapped)
        final = self._evaluation_model()
        final.eval()
        if self.accelerator.is_main_process:
            if self.eval_fn is not None:
                if log is not None:
                    log.discard(step, "eval/")
                self._evaluate(step, log, model=final)
            if hasattr(final, "save_pretrained"):
                write_atomically(self.output_dir / "final", lambda tmp: final.save_pretrained(str(tmp)))
            if self.finalize is not None:
                self.finalize(final, str(self.output_dir))
        self.accelerator.wait_for_everyone()
        return final

    def _evaluate(self, step: int, log: MetricsLog | None, model: torch.nn.Module | None = None) -> None:
        model = model if model is not None else self._evaluation_model()
        was_training = model.training
        model.eval()
        with torch.no_grad():
            metrics = self.eval_fn(model)
        model.train(was_training)
        self.accelerator.print(f"step {step}: " + ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
        if log is not None:
            log.write(step, {f"eval/{key}": value for key, value in metrics.items()})
