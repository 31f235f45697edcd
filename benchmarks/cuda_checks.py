"""CUDA checks of the decode engine (issue 29), run by `benchmarks/gpu_check.sh`; skipped without
CUDA. `pytest benchmarks/cuda_checks.py` (outside tests/: the CPU suite never needs them).

- a one-token step on CUDA compiles as one graph (no graph breaks);
- compiled decoding (torch.compile + CUDA graphs, reduce-overhead) gives the eager greedy tokens,
  in fp32 and bf16, and jacobi / zipar run compiled and eager on the device;
- the shipped emoji-t2i pipeline generates on CUDA in bf16 with compile=True.

`CUDA_CHECKS_DEVICE=cpu` runs the same checks on the CPU (a dry run of the checks themselves).
"""

from __future__ import annotations

import os

import pytest
import torch

from omniar.models.ar_model import AutoregressiveModel
from omniar.orders.raster import RasterOrder
from omniar.samplers.condition import Condition
from omniar.samplers.decode import decode_sequential
from omniar.samplers.guidance import GuidanceSchedule
from omniar.samplers.processors import SamplingConfig
from omniar.samplers.registry import get_decoder

CUDA = torch.device(os.environ.get("CUDA_CHECKS_DEVICE", "cuda"))
pytestmark = pytest.mark.skipif(CUDA.type == "cuda" and not torch.cuda.is_available(), reason="needs CUDA")


def small_model(dtype: torch.dtype = torch.float32) -> AutoregressiveModel:
    torch.manual_seed(0)
    return AutoregressiveModel(vocab_size=64, hidden_size=64, num_layers=2, num_heads=4, rope_axes=2,
                               qk_norm=True, condition="class", class_sizes=[3]).eval().to(CUDA, dtype)


def test_cuda_step_has_no_graph_breaks():
    model = small_model()
    cache = model.new_cache(2, 12, fixed_shape=True)
    with torch.no_grad():
        model(with_prefix=True, class_labels=torch.tensor([0, 1], device=CUDA), cache=cache)

        def step(tokens, position_ids, ranks):
            return model(tokens=tokens, position_ids=position_ids, ranks=ranks, cache=cache).logits

        cache.reserve(1)
        explained = torch._dynamo.explain(step)(
            torch.zeros(2, 1, dtype=torch.long, device=CUDA), torch.zeros(2, 1, 2, device=CUDA),
            torch.ones(2, 1, dtype=torch.long, device=CUDA))
    assert explained.graph_break_count == 0, explained.break_reasons


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_cuda_compiled_matches_eager(dtype):
    model = small_model(dtype)
    order = RasterOrder((4, 4))
    condition = Condition(2, class_labels=torch.tensor([0, 2], device=CUDA))
    greedy = SamplingConfig(temperature=0.0)
    with torch.no_grad():
        eager, _ = decode_sequential(model, order, condition, greedy)
        compiled, stats = decode_sequential(model, order, condition, greedy, compile=True)
        again, _ = decode_sequential(model, order, condition, greedy, compile=True)  # graph replay
    assert eager.device.type == CUDA.type
    assert torch.equal(eager, compiled) and torch.equal(compiled, again)
    assert stats.forward_passes == order.num_steps


@pytest.mark.parametrize("decoding,options,compile", [
    ("jacobi", {"window": 4}, False), ("jacobi", {"window": 4}, True), ("zipar", {}, False)])
def test_cuda_parallel_decoding(decoding, options, compile):
    model = small_model(torch.bfloat16)
    order = RasterOrder((4, 4))
    condition = Condition(2, class_labels=torch.tensor([0, 1], device=CUDA))
    generator = torch.Generator(device=CUDA).manual_seed(0)
    with torch.no_grad():
        tokens, stats = get_decoder(decoding)(model, order, condition, SamplingConfig(), GuidanceSchedule(2.0),
                                              generator, compile=compile, **options)
    assert tokens.shape == (2, 16) and int(tokens.min()) >= 0 and int(tokens.max()) < 64
    assert stats.forward_passes <= order.num_steps + 1


def test_cuda_pipeline_bf16_compiled():
    import omniar

    pipe = omniar.load("emoji-t2i", device=str(CUDA), torch_dtype=torch.bfloat16, compile=True)
    generator = torch.Generator(device=CUDA).manual_seed(0)
    images = pipe(prompt="red apple", num_images_per_prompt=2, generator=generator, output_type="pt").images
    assert images.shape[0] == 2 and torch.isfinite(images).all()
