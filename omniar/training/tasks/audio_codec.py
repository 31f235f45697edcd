"""Training task ``audio_codec``: train an ``AudioCodecTokenizer`` on FSDD crops.

Recipe keys (see recipes/fsdd_codec.yaml):

- ``model``: ``AudioCodecTokenizer`` config; or ``init_from``: a trained codec folder to continue
  from in a further stage (see recipes/fsdd_codec_gan.yaml).
- ``data``: ``path`` (FSDD recordings, relative to the data root), ``segment_seconds`` (random
  crop length; shorter clips are zero-padded), ``gain_db`` (random gain range),
  ``exclude_speakers`` (speakers left out of training, e.g. recipes/fsdd_codec_loso.yaml).
- ``loss``: weights ``mel`` (multi-resolution mel), ``waveform_l1``, ``commitment``, and
  ``mel_dynamic_range_db`` (the log-mel floor below the target's peak).
- ``discriminator``: ``enabled``; ``start_step`` (adversarial losses switch on here);
  ``n_ffts``, ``channels``; weights ``adversarial`` and ``feature_matching``. The discriminator
  trains with the codec under the trainer's single optimiser (see ``adversarial_losses``).
- ``eval``: ``clips`` (test takes used by the periodic evaluation), ``num_quantizers``.

``final/`` holds only the codec (``AudioCodecTokenizer.from_pretrained(output_dir + "/final")``);
the discriminator lives in the training checkpoints so that a resumed run keeps it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from omniar.data.fsdd import FSDDDataset
from omniar.eval.audio_metrics import codec_quality
from omniar.tokenizers.audio_codec import AudioCodecTokenizer
from omniar.training.audio_losses import (
    MultiResolutionMelLoss,
    MultiScaleSTFTDiscriminator,
    adversarial_losses,
)
from omniar.training.config import TrainerConfig
from omniar.training.init_weights import check_saved_folder
from omniar.training.recipe_schema import TaskRecipe
from omniar.training.setup import TrainingSetup

_LOSS_DEFAULTS = {"mel": 1.0, "waveform_l1": 1.0, "commitment": 0.25, "mel_dynamic_range_db": 50.0}
_DISC_DEFAULTS = {
    "enabled": False,
    "start_step": 0,
    "n_ffts": [128, 256, 512],
    "channels": 16,
    "adversarial": 0.1,
    "feature_matching": 0.2,
}
RECIPE = TaskRecipe({
    "model": dict,
    "init_from": (str, None),
    "data": {"path": str, "segment_seconds": float, "gain_db": (list, None),
             "exclude_speakers": (list, None)},
    "loss": {key: float for key in _LOSS_DEFAULTS},
    "discriminator": {"enabled": bool, "start_step": int, "n_ffts": list, "channels": int,
                      "adversarial": float, "feature_matching": float},
    "eval": {"clips": int, "num_quantizers": list},
})


class CodecTrainingModule(nn.Module):
    """The codec, its losses and an optional discriminator as one module.

    ``forward`` returns the total loss and its parts, so one call goes through accelerate's
    wrapper (needed for multi-GPU gradient sync). ``save_pretrained`` saves the codec only.
    """

    def __init__(
        self,
        codec: AudioCodecTokenizer,
        loss_weights: dict[str, float],
        discriminator: MultiScaleSTFTDiscriminator | None = None,
        adversarial_weights: dict[str, float] | None = None,
        adversarial_start_step: int = 0,
        mel_dynamic_range_db: float = 50.0,
    ) -> None:
        super().__init__()
        self.codec = codec
        self.mel_loss = MultiResolutionMelLoss(
            codec.sample_rate, dynamic_range_db=mel_dynamic_range_db
        )
        self.discriminator = discriminator
        self.loss_weights = loss_weights
        self.adversarial_weights = adversarial_weights or {}
        self.adversarial_start_step = adversarial_start_step

    def forward(self, waveform: torch.Tensor, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        out = self.codec(waveform)
        parts = {
            "mel": self.mel_loss(out.audio, waveform),
            "waveform_l1": F.l1_loss(out.audio, waveform),
            "commitment": out.commitment_loss,
        }
        loss = sum(self.loss_weights[k] * v for k, v in parts.items())
        if self.discriminator is not None and step >= self.adversarial_start_step:
            adv = adversarial_losses(self.discriminator, waveform, out.audio)
            loss = loss + adv["discriminator"]
            for key in ("adversarial", "feature_matching"):
                term = adv["generator" if key == "adversarial" else key]
                loss = loss + self.adversarial_weights[key] * term
                parts[key] = term
            parts["discriminator"] = adv["discriminator"]
        return loss, {k: float(v.detach()) for k, v in parts.items()}

    def save_pretrained(self, save_directory: str, **kwargs: Any) -> None:
        """Save the codec (config.json + safetensors), not the discriminator."""
        self.codec.save_pretrained(save_directory, **kwargs)


def _loss_fn(model: nn.Module, batch: dict, step: int) -> tuple[torch.Tensor, dict[str, float]]:
    return model(batch["waveform"], step)


def _merge(defaults: dict[str, Any], given: dict[str, Any] | None, section: str) -> dict[str, Any]:
    given = dict(given or {})
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ValueError(
            f"unknown {section} setting(s) {unknown}; expected some of {sorted(defaults)}"
        )
    return {**defaults, **given}


def _initial_codec(recipe: dict) -> AudioCodecTokenizer:
    """A fresh codec from ``model``, or the trained one at ``init_from`` for a further stage
    (e.g. adversarial fine-tuning of a codec trained on reconstruction losses alone)."""
    init_from = recipe.get("init_from")
    if init_from is None:
        return AudioCodecTokenizer(**recipe.get("model", {}))
    if recipe.get("model"):
        raise ValueError("give either 'model' (a new codec) or 'init_from' (a trained codec "
                         "folder), not both: the folder's config.json fixes the architecture")
    check_saved_folder(init_from, "codec", hint="; train the first stage first")
    return AudioCodecTokenizer.from_pretrained(init_from)


def build(recipe: dict, data_root: str | None) -> TrainingSetup:
    """Build the codec training setup from a recipe (see the module docstring)."""
    codec = _initial_codec(recipe)
    data = dict(recipe.get("data", {}))
    path = Path(data_root or ".") / data.get("path", "fsdd/recordings")
    segment = round(float(data.get("segment_seconds", 0.5)) * codec.sample_rate)
    gain = data.get("gain_db")
    dataset = FSDDDataset(
        path,
        split="train",
        num_samples=segment,
        random_crop=True,
        gain_db=tuple(gain) if gain else None,
        sample_rate=codec.sample_rate,
        exclude_speakers=data.get("exclude_speakers"),
    )
    weights = _merge(_LOSS_DEFAULTS, recipe.get("loss"), "loss")
    dynamic_range = float(weights.pop("mel_dynamic_range_db"))
    disc_cfg = _merge(_DISC_DEFAULTS, recipe.get("discriminator"), "discriminator")
    discriminator = None
    if disc_cfg["enabled"]:
        discriminator = MultiScaleSTFTDiscriminator(disc_cfg["n_ffts"], disc_cfg["channels"])
    model = CodecTrainingModule(
        codec,
        weights,
        discriminator,
        {k: disc_cfg[k] for k in ("adversarial", "feature_matching")},
        int(disc_cfg["start_step"]),
        dynamic_range,
    )

    eval_cfg = dict(recipe.get("eval", {}))
    test = FSDDDataset(path, split="test", sample_rate=codec.sample_rate)
    step = max(1, len(test) // int(eval_cfg.get("clips", 40)))
    clips = [test.load(i) for i in range(0, len(test), step)]
    counts = eval_cfg.get("num_quantizers", [codec.num_quantizers])

    def eval_fn(trained: nn.Module) -> dict[str, float]:
        report = codec_quality(trained.codec, clips, counts)
        return {
            f"{k}_q{n}": row[k] for n, row in report.items() for k in ("mel_distance", "si_snr_db")
        }

    return TrainingSetup(
        model=model,
        train_dataset=dataset,
        loss_fn=_loss_fn,
        config=TrainerConfig.from_dict(recipe["trainer"]),
        eval_fn=eval_fn,
    )
