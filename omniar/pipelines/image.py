"""`ImagePipeline`: text- or class-conditional image generation in any order the model knows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from omniar.errors import OmniarError
from omniar.models.ar_model import AutoregressiveModel
from omniar.models.text_encoders import encode_prompts
from omniar.orders.base import Order
from omniar.orders.next_scale import split_scales
from omniar.pipelines.base import AutoregressivePipeline, GenerationOutput
from omniar.pipelines.image_orders import build_image_order
from omniar.pipelines.image_output import check_output_type, convert_images
from omniar.pipelines.input_checks import MAX_SAMPLES_PER_CALL, check_prompts
from omniar.pipelines.labels import label_ids
from omniar.samplers.condition import Condition


@dataclass
class ImagePipelineOutput(GenerationOutput):
    """`images` as PIL list, numpy array, tensor or token grids (per `output_type`)."""

    images: Any = None
    stats: dict[str, Any] = field(default_factory=dict)


class ImagePipeline(AutoregressivePipeline):
    """Image tokenizer + shared transformer (+ text encoder for prompts).

    Components: `transformer` (AutoregressiveModel), `tokenizer` (ImageVQTokenizer or
    MultiScaleVQTokenizer), optional `text_encoder` (our CaptionEncoder or a Hugging Face text
    model) and `text_tokenizer` (for Hugging Face encoders). Config: `image_size`, `orders`
    (what the transformer was trained for; the first is the default), `class_names` for
    class-conditional models, and `sampling_presets`.
    """

    _optional_components = ["text_encoder", "text_tokenizer"]
    model_cpu_offload_seq = "text_encoder->transformer->tokenizer"

    def __init__(
        self,
        transformer: AutoregressiveModel,
        tokenizer: Any,
        text_encoder: Any = None,
        text_tokenizer: Any = None,
        image_size: int = 32,
        orders: list[str] | None = None,
        class_names: list[str] | None = None,
        sampling_presets: dict[str, dict] | None = None,
    ):
        super().__init__()
        self.register_modules(
            transformer=transformer, tokenizer=tokenizer, text_encoder=text_encoder, text_tokenizer=text_tokenizer
        )
        self.register_to_config(
            image_size=image_size, orders=list(orders or ["raster"]), class_names=list(class_names or []),
            sampling_presets=dict(sampling_presets or {}),
        )

    @property
    def is_text_conditional(self) -> bool:
        return self.transformer.config.condition == "text"

    def _condition_values(self, prompt: Any, class_labels: Any) -> list[str] | list[int]:
        """The prompts (text-conditional models) or class ids (class-conditional) of a call."""
        if self.is_text_conditional:
            if class_labels is not None:
                raise OmniarError(f"class_labels={class_labels!r} is not valid: this model is "
                                  "text-conditional; pass prompt (a string or list of strings)")
            return check_prompts(prompt)
        if prompt is not None or class_labels is None:
            raise OmniarError(f"prompt={prompt!r} is not valid: this model is class-conditional; pass "
                              f"class_labels (ids or names from {self.config.class_names})")
        return label_ids(class_labels, self.config.class_names or [], "class label",
                         self.transformer.config.class_sizes[0])

    def _condition(self, values: list[str] | list[int], num_images_per_prompt: int) -> Condition:
        if self.is_text_conditional:
            with torch.no_grad():
                states, mask = encode_prompts(self.text_encoder, self.text_tokenizer, values)
                states, mask = self.transformer.pad_text(states, mask)
            states = states.repeat_interleave(num_images_per_prompt, 0)
            mask = mask.repeat_interleave(num_images_per_prompt, 0)
            return Condition(states.shape[0], text_states=states, text_mask=mask)
        tensor = torch.tensor(values, dtype=torch.long).repeat_interleave(num_images_per_prompt)
        return Condition(tensor.shape[0], class_labels=tensor)

    def _order(self, order: str | None) -> tuple[str, Order]:
        name = order or self.config.orders[0]
        return name, build_image_order(name, self.tokenizer, self.config.image_size, self.config.orders)

    def check_inputs(
        self,
        prompt: str | list[str] | None = None,
        class_labels: int | str | list | None = None,
        num_images_per_prompt: int = 1,
        order: str | None = None,
        decoding: str = "sequential",
        decoding_options: dict[str, Any] | None = None,
        guidance_scale: float | None = None,
        guidance_schedule: str | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        min_p: float | None = None,
        generator: torch.Generator | list[torch.Generator] | None = None,
        output_type: str = "pil",
        batch_size: int = 16,
        preset: str | None = None,
        **ignored: Any,
    ) -> None:
        """Check the arguments of `__call__` (same names) without generating anything.

        Called at the top of `__call__` and by `omniar generate image` before any work; raises
        an OmniarError naming the first bad argument and what it accepts.
        """
        check_output_type(output_type)
        values = self._condition_values(prompt, class_labels)
        self.check_count("num_images_per_prompt", num_images_per_prompt,
                         max(1, MAX_SAMPLES_PER_CALL // len(values)))
        self._order(order)
        self.check_sampling_inputs(
            len(values) * num_images_per_prompt, generator, decoding, decoding_options, batch_size,
            preset, temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p,
            guidance_scale=guidance_scale, guidance_schedule=guidance_schedule,
        )

    def decode_tokens(self, tokens: torch.Tensor, order: str) -> torch.Tensor:
        """Generated tokens (B, N) in an order's layout to images in [-1, 1]."""
        shape = self.tokenizer.token_shape(self.config.image_size)
        if isinstance(shape, list):  # multi-scale tokenizer: the scales' maps, concatenated
            return self.tokenizer.decode(split_scales(tokens, [side for side, _ in shape]))
        return self.tokenizer.decode(tokens.view(tokens.shape[0], *shape))

    @torch.no_grad()
    def __call__(
        self,
        prompt: str | list[str] | None = None,
        class_labels: int | str | list | None = None,
        num_images_per_prompt: int = 1,
        order: str | None = None,
        decoding: str = "sequential",
        decoding_options: dict[str, Any] | None = None,
        guidance_scale: float | None = None,
        guidance_schedule: str | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        min_p: float | None = None,
        generator: torch.Generator | list[torch.Generator] | None = None,
        output_type: str = "pil",
        callback_on_step_end: Callable | None = None,
        batch_size: int = 16,
        preset: str | None = None,
    ) -> ImagePipelineOutput:
        """Generate `num_images_per_prompt` images for each prompt (or class label).

        Sampling settings left as None come from the preset (`preset`, else "default"), so the
        figures in the model card are reproduced by a plain call. `top_k=0` means no top-k.
        """
        self.check_inputs(
            prompt, class_labels, num_images_per_prompt, order, decoding, decoding_options,
            guidance_scale, guidance_schedule, temperature, top_k, top_p, min_p, generator,
            output_type, batch_size, preset,
        )
        order_name, image_order = self._order(order)
        sampling, guidance, settings = self.resolve_sampling(
            preset, temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p,
            guidance_scale=guidance_scale, guidance_schedule=guidance_schedule,
        )
        condition = self._condition(self._condition_values(prompt, class_labels), num_images_per_prompt)
        tokens, stats = self.generate_tokens(
            self.transformer, image_order, condition, sampling, guidance, generator=generator,
            decoding=decoding, decoding_options=decoding_options, batch_size=batch_size,
            callback_on_step_end=callback_on_step_end, context=self.tokenizer,
        )
        report = {**stats.as_dict(), "order": order_name, "decoding": decoding, **settings}
        micro_batch = 1 if isinstance(generator, (list, tuple)) else batch_size
        report["forward_passes_per_image"] = stats.forward_passes / -(-condition.batch_size // micro_batch)
        if output_type == "tokens":
            return ImagePipelineOutput(images=tokens, stats=report)
        images = self.decode_tokens(tokens, order_name)
        return ImagePipelineOutput(images=convert_images(images, output_type), stats=report)

