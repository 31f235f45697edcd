"""Task `audio_ar`: a digit- and speaker-conditional autoregressive model over audio codec codes.

The FSDD training takes (5-49) are encoded once with a trained `AudioCodecTokenizer` and cached
under the run directory (`omniar.data.codec_codes`); the model learns the first `num_codebooks`
levels under the MusicGen delay pattern (or the flattened one), each clip followed by its end
frame (`omniar.pipelines.audio_tokens`), with both labels dropped together for classifier-free
guidance. `finalize` writes an `AudioPipeline`.

Recipe keys (see recipes/fsdd_digits.yaml):

- `codec`: the saved codec folder, relative to the working directory (default
  `assets/fsdd-codec`).
- `num_codebooks` (default 4) and `pattern` ("delay", default, or "flatten").
- `data`: `path` (FSDD recordings, relative to the data root), `max_seconds` (longer clips are
  left out; default 1.0), `max_clips` (an evenly spaced subset, for quick checks), or `codes`:
  a code file written by `CodeSet.save` to train on instead (no codec encoding).
- `model`: `AutoregressiveModel` size arguments; vocabulary, codebooks, the class condition
  (digits, speakers) and 1D RoPE are set here.
- `condition_dropout`: probability of the null labels (default 0.1).
- `eval`: `classifier` (a saved `DigitClassifier`, default `assets/fsdd-digit-classifier`;
  skipped with a note when missing), `num_per_class` and `sampling` for the accuracy on
  generated digits reported every `trainer.eval_every` steps.
- `presets`: `candidates` (name -> sampling settings) and `num_per_class`: `finalize` measures
  each candidate's classifier accuracy (seed 1) and saves the best as "default" too.

`finalize` writes the pipeline to `<output_dir>/pipeline`, or to `--pipeline-dir` when given
(`omniar.training.outputs`); the shipped one was written with `--pipeline-dir assets/fsdd-digits`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from omniar.data.codec_codes import CodeDataset, CodeSet, load_or_encode_fsdd
from omniar.data.fsdd import DIGIT_WORDS
from omniar.eval.audio_generation import evaluate_generation
from omniar.eval.digit_classifier import DigitClassifier
from omniar.models.ar_model import AutoregressiveModel
from omniar.orders.delay_pattern import PATTERNS, DelayPatternOrder
from omniar.pipelines.audio import AudioPipeline
from omniar.pipelines.audio_tokens import AudioVocabulary, frame_with_end
from omniar.tokenizers.audio_codec import AudioCodecTokenizer
from omniar.training.ar_loss import autoregressive_loss
from omniar.training.config import TrainerConfig
from omniar.training.outputs import pipeline_folder
from omniar.training.recipe_schema import TaskRecipe
from omniar.training.setup import TrainingSetup

DEFAULT_CODEC = "assets/fsdd-codec"
DEFAULT_CLASSIFIER = "assets/fsdd-digit-classifier"
RECIPE = TaskRecipe(
    {
        "codec": str,
        "num_codebooks": int,
        "pattern": str,
        "data": {"path": str, "max_seconds": float, "max_clips": (int, None), "codes": (str, None)},
        "model": (dict, None),
        "condition_dropout": float,
        "eval": ({"classifier": (str, None), "num_per_class": int, "sampling": (dict, None)}, None),
        "presets": ({"num_per_class": int, "candidates": (dict, None)}, None),
    },
    writes_pipeline=True,
)


class CodePatternLoss:
    """Next-token loss on a batch of clips laid out with their end frame under a codebook pattern.

    Each batch is as long as its longest clip (orders are cached per length); `pad` targets
    (before a codebook starts, after a clip's end) are not scored: the pipeline fixes them.
    """

    def __init__(
        self, num_codebooks: int, flatten: bool, vocab: AudioVocabulary, drop_probability: float
    ):
        self.num_codebooks, self.flatten, self.vocab = num_codebooks, flatten, vocab
        self.drop_probability = drop_probability
        self.orders: dict[int, DelayPatternOrder] = {}

    def __call__(self, model: torch.nn.Module, batch: dict[str, torch.Tensor], step: int):
        framed = frame_with_end(batch["codes"], batch["lengths"], self.vocab)
        frames = framed.shape[2]
        if frames not in self.orders:
            self.orders[frames] = DelayPatternOrder(self.num_codebooks, frames, self.flatten)
        order = self.orders[frames]
        tokens = order.tokens_from_codes(framed, self.vocab.pad_token_id, self.vocab.size)
        return autoregressive_loss(
            model,
            order,
            tokens,
            {"class_labels": batch["class_labels"]},
            self.drop_probability,
            pad_token_id=self.vocab.pad_token_id,
        )


def load_codec(path: str | Path) -> AudioCodecTokenizer:
    if not (Path(path) / "config.json").is_file():
        raise ValueError(
            f"recipe codec: {str(path)!r} is not a saved codec folder; train one with "
            "`omniar train recipes/fsdd_codec.yaml` (it writes runs/fsdd_codec/final), "
            "copy it there, or point `codec:` at it"
        )
    return AudioCodecTokenizer.from_pretrained(str(path)).eval()


def load_classifier(path: str | Path | None) -> DigitClassifier | None:
    """The evaluation classifier, or None (with a note) when it has not been trained yet."""
    if path is None:
        return None
    if not (Path(path) / "config.json").is_file():
        print(
            f"audio_ar: no digit classifier at {path}; generated digits are not scored "
            "(train it with: omniar train recipes/fsdd_digit_classifier.yaml)"
        )
        return None
    return DigitClassifier.from_pretrained(str(path)).eval()


def load_codes(recipe: dict[str, Any], data_root: str | None, cache_dir: Path) -> CodeSet:
    data = recipe.get("data") or {}
    if data.get("codes"):
        return CodeSet.load(data["codes"])
    return load_or_encode_fsdd(
        recipe.get("codec", DEFAULT_CODEC),
        Path(data_root or ".") / data.get("path", "fsdd/recordings"),
        cache_dir,
        data.get("max_seconds", 1.0),
        data.get("max_clips"),
    )


def build(
    recipe: dict[str, Any], data_root: str | None, pipeline_dir: str | None = None
) -> TrainingSetup:
    config = TrainerConfig.from_dict(recipe["trainer"])
    pattern = recipe.get("pattern", "delay")
    if pattern not in PATTERNS:
        raise ValueError(f"recipe pattern must be one of {PATTERNS}, got {pattern!r}")
    codec = load_codec(recipe.get("codec", DEFAULT_CODEC))
    num_codebooks = int(recipe.get("num_codebooks", 4))
    code_set = load_codes(recipe, data_root, Path(config.output_dir) / "codes")
    dataset = CodeDataset(code_set, num_codebooks)
    vocab = AudioVocabulary(codec.codebook_size)
    order = DelayPatternOrder(num_codebooks, 1, pattern == "flatten")
    model = AutoregressiveModel(
        vocab_size=order.model_vocab_size(vocab.size),
        num_codebooks=order.streams,
        condition="class",
        class_sizes=[len(DIGIT_WORDS), len(code_set.speakers)],
        rope_axes=1,
        **(recipe.get("model") or {}),
    )
    loss_fn = CodePatternLoss(
        num_codebooks, pattern == "flatten", vocab, float(recipe.get("condition_dropout", 0.1))
    )
    eval_cfg = recipe.get("eval") or {}
    classifier = load_classifier(eval_cfg.get("classifier", DEFAULT_CLASSIFIER))
    presets = recipe.get("presets") or {}
    candidates = presets.get("candidates") or {"default": {}}
    max_duration = float(code_set.lengths.max()) / code_set.frame_rate

    def build_pipeline(trained: AutoregressiveModel) -> AudioPipeline:
        pipe = AudioPipeline(
            trained,
            codec,
            DIGIT_WORDS,
            code_set.speakers,
            num_codebooks,
            pattern,
            max_duration,
            sampling_presets=candidates,
        )
        pipe.set_progress_bar_config(disable=True)
        return pipe

    def eval_fn(trained: AutoregressiveModel) -> dict[str, float]:
        report, _ = evaluate_generation(
            build_pipeline(trained),
            classifier,
            int(eval_cfg.get("num_per_class", 5)),
            **(eval_cfg.get("sampling") or {}),
        )
        return {"digit_accuracy": report["accuracy"], "mean_duration_s": report["mean_duration_s"]}

    def finalize(trained: AutoregressiveModel, output_dir: str) -> None:
        pipe = build_pipeline(trained.eval())
        chosen = dict(candidates)
        if classifier is not None:
            results = {
                name: evaluate_generation(
                    pipe, classifier, int(presets.get("num_per_class", 20)), seed=1, preset=name
                )[0]
                for name in candidates
            }
            best = max(results, key=lambda name: results[name]["accuracy"])
            chosen["default"] = candidates[best]
            Path(output_dir, "preset_selection.json").write_text(
                json.dumps({"chosen": best, "results": results}, indent=2)
            )
        pipe.register_to_config(sampling_presets=chosen)
        pipe.save_pretrained(pipeline_folder(output_dir, pipeline_dir))

    return TrainingSetup(
        model,
        dataset,
        loss_fn,
        config,
        collate_fn=CodeDataset.collate,
        eval_fn=eval_fn if classifier is not None else None,
        finalize=finalize,
    )
