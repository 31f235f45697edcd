"""Decode speed at real scale, side by side in one run: omniar's decode loop in fp32 and bf16,
eager and compiled, against Hugging Face `generate`; raster vs next-scale; parallel decoding.

Models (random weights unless shipped):

- ``gptb``: LlamaGen-GPT-B-shaped (12 layers, width 768, 12 heads, vocab 16,384, 256 image
  tokens on a 16 x 16 raster grid, 1,000 classes, CFG 4): images/s and passes per image for
  sequential and zipar; the cost of a k-token pass relative to a one-token pass (k = window + 1
  of jacobi 4/8/16); weight bytes per second of a one-token step at batch 1;
- ``hf``: `LlamaForCausalLM.generate` at the same shape (static cache, the CFG-doubled batch,
  256 new tokens after a one-token prompt): the peer of omniar sequential;
- ``emoji``: the shipped `emoji-t2i` (trained): images/s, passes per image and accepted tokens
  per pass for sequential, jacobi (windows 4/8/16) and zipar;
- ``var``: VAR-d16-shaped next-scale (16 layers, width 1024, AdaLN, 10 scales up to 16 x 16,
  vocab 4,096, CFG): 10 passes per image, against the GPT-B raster run;
- ``orders``: the shipped `emoji-t2i` (raster), `emoji-t2i-neighbor` and `emoji-t2i-next-scale`
  pipelines at batch 16 (32 images of one prompt per call, default presets, `torch_dtype`):
  images/s against the 3x-raster targets of their issues;
- ``bandwidth``: the device's streaming bandwidth in bf16 (a 256 MiB copy, counted as read +
  write, and a 256 MiB bf16 matrix-vector product, counted as read), the denominator of the
  "weights bytes per step / bandwidth" figure of the GPT-B one-token pass.

`--profile` adds a torch.profiler table of a GPT-B one-token pass (omniar) and of Hugging Face
`generate` (16 tokens), per step, by operator.

Random weights give no realistic Jacobi acceptance, so the GPT-B Jacobi speedup is *projected*:
accepted tokens per pass measured on emoji-t2i (same dtype, batch and window) divided by the
GPT-B relative pass cost of that window. Times are CPU seconds of this process (`time.process_time`,
robust on a shared machine with one thread) and wall seconds; each figure is the median of
`--repeats` runs after a warm-up run (which also compiles). With `--device cuda` the timed figure
is CUDA-event seconds between synchronized start and end (`torch.cuda.synchronize()` around every
timed run), and compiled steps run under CUDA graphs (`compile=True`, mode reduce-overhead).

    python benchmarks/decode_speed.py                      # default run (~8 min, 1 thread)
    python benchmarks/decode_speed.py --quick              # smoke run (~1 min), writes nothing
    python benchmarks/decode_speed.py --models emoji gptb --dtypes bfloat16 --batch-sizes 1
    python benchmarks/decode_speed.py --device cuda --output gpu_out/decode_speed_cuda
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from _report import environment, environment_line, load_average, write_report

from omniar.models.ar_model import AutoregressiveModel
from omniar.orders.next_scale import NextScaleOrder
from omniar.orders.raster import RasterOrder
from omniar.samplers.condition import Condition
from omniar.samplers.decode import DecodingState
from omniar.samplers.guidance import GuidanceSchedule
from omniar.samplers.processors import SamplingConfig
from omniar.samplers.registry import get_decoder

MODELS = ("emoji", "gptb", "hf", "var", "orders", "bandwidth")
ORDER_MODELS = ("emoji-t2i", "emoji-t2i-neighbor", "emoji-t2i-next-scale")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
GPTB = {"vocab_size": 16384, "hidden_size": 768, "num_layers": 12, "num_heads": 12, "rope_axes": 2,
        "condition": "class", "class_sizes": [1000]}
VAR_SCALES = (1, 2, 3, 4, 5, 6, 8, 10, 13, 16)
VAR = {"vocab_size": 4096, "hidden_size": 1024, "num_layers": 16, "num_heads": 16, "rope_axes": 2,
       "adaln": True, "condition": "class", "class_sizes": [1000]}
WINDOWS = (4, 8, 16)
DEFAULT_OUTPUT = Path(__file__).parent / "results" / "decode_speed_cpu"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--dtypes", nargs="+", choices=sorted(DTYPES), default=["float32", "bfloat16"])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--compile", choices=("none", "bfloat16", "all"), default="bfloat16",
                        help="which dtypes also run compiled (default bfloat16)")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs (default 3 emoji, 1 others)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--profile", action="store_true",
                        help="also profile a GPT-B one-token pass and HF generate (torch.profiler)")
    parser.add_argument("--note", default="", help="a sentence written under the command line")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: batch 1, bfloat16, 64 GPT-B tokens, no compile, no files")
    parser.add_argument("--output", type=Path, default=None,
                        help=f"write OUTPUT.json and OUTPUT.md (default {DEFAULT_OUTPUT})")
    args = parser.parse_args(argv)
    args.device = torch.device(args.device)
    if args.device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch.cuda.is_available() is False (no CUDA device or a CPU-only torch)")
    if args.quick:
        args.batch_sizes, args.dtypes, args.compile = [1], ["bfloat16"], "none"
    elif args.output is None:
        args.output = DEFAULT_OUTPUT
    return args


DEVICE = torch.device("cpu")  # set by main from --device


def synchronize() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)


def timed(run: Callable[[], Any], repeats: int) -> tuple[dict[str, float], Any]:
    """Median seconds of `repeats` runs after one warm-up, and the last run's result.

    `cpu_s` (process CPU time), `wall_s`, and `time_s`, the figure ratios use: CPU seconds on a
    CPU, CUDA-event seconds on a GPU (synchronized before and after each run)."""
    run()
    synchronize()
    cpu, wall, timed_s = [], [], []
    for _ in range(repeats):
        if DEVICE.type == "cuda":
            start_event, end_event = (torch.cuda.Event(enable_timing=True) for _ in range(2))
            synchronize()
            start_event.record()
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        result = run()
        if DEVICE.type == "cuda":
            end_event.record()
        synchronize()
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start_wall)
        if DEVICE.type == "cuda":
            timed_s.append(start_event.elapsed_time(end_event) / 1000)
    figure = statistics.median(timed_s) if timed_s else statistics.median(cpu)
    return {"cpu_s": statistics.median(cpu), "wall_s": statistics.median(wall), "time_s": figure}, result


def modes(args: argparse.Namespace, dtype: str) -> list[bool]:
    """Eager, and compiled where `--compile` asks for it."""
    return [False, True] if args.compile == "all" or args.compile == dtype else [False]


def random_model(config: dict[str, Any], dtype: torch.dtype, **extra: Any) -> AutoregressiveModel:
    torch.manual_seed(0)
    return AutoregressiveModel(**config, **extra).eval().to(device=DEVICE, dtype=dtype)


def decode_row(model, order, condition, decoding, options, dtype, batch, compile, repeats,
               guidance, context=None, name: str = "") -> dict[str, Any]:
    """One decode configuration: images/s, passes per image, accepted tokens per pass."""
    sampling = SamplingConfig(temperature=1.0, top_k=0)

    def run():
        generator = torch.Generator(device=DEVICE).manual_seed(0)
        return get_decoder(decoding)(model, order, condition, sampling, guidance, generator,
                                     context=context, compile=compile, **options)

    times, (_, stats) = timed(run, repeats)
    extra = stats.extra
    return {"model": name, "dtype": dtype, "batch": batch, "compiled": compile, "decoding": decoding,
            "window": options.get("window"), **times,
            "images_per_s": batch / times["time_s"], "passes_per_image": stats.forward_passes,
            "accepted_tokens_per_pass": extra.get("mean_accepted_tokens_per_pass",
                                                  stats.tokens_per_pass)}


def bench_emoji(args, rows: list[dict]) -> None:
    import omniar

    pipe = omniar.load("emoji-t2i", device=str(DEVICE))
    preset = pipe.config.sampling_presets.get("default", {})
    guidance = GuidanceSchedule(preset.get("guidance_scale", 1.0))
    order = pipe._order(None)[1]
    for dtype in args.dtypes:
        model = pipe.transformer.to(DTYPES[dtype])
        for batch in args.batch_sizes:
            condition = pipe._condition(["red apple"], batch)
            for compile in modes(args, dtype):
                configs = [("sequential", {})] + [("jacobi", {"window": w}) for w in WINDOWS]
                if not compile:  # zipar's pass width changes every pass: a graph per width
                    configs.append(("zipar", {}))
                for decoding, options in configs:
                    rows.append(decode_row(model, order, condition, decoding, options, dtype, batch,
                                           compile, args.repeats or 3, guidance, name="emoji-t2i"))
                    print(rows[-1], flush=True)


def pass_costs(model, batch: int, guided: bool, context_tokens: int) -> dict[int, float]:
    """CPU seconds of one pass of k tokens after `context_tokens` cached ones, per k."""
    order = RasterOrder((16, 16))
    condition = Condition(batch, class_labels=torch.zeros(batch, dtype=torch.long, device=DEVICE))
    state = DecodingState(model, order, condition, GuidanceSchedule(4.0 if guided else 1.0),
                          extra_slots=17)
    rows = state.cache.batch_size
    costs = {}
    with torch.no_grad():
        state.prefill()
        prefix = int(state.cache.lengths[0])
        fill = torch.zeros(rows, context_tokens, dtype=torch.long, device=DEVICE)
        positions = order.positions[:context_tokens].to(DEVICE).expand(rows, -1, -1)
        state.run({"tokens": fill, "position_ids": positions,
                   "ranks": torch.arange(1, context_tokens + 1, device=DEVICE).expand(rows, -1)})
        for k in (1, *(w + 1 for w in WINDOWS)):
            inputs = {"tokens": torch.zeros(rows, k, dtype=torch.long, device=DEVICE),
                      "position_ids": order.positions[context_tokens:context_tokens + k].to(DEVICE).expand(rows, -1, -1),
                      "ranks": torch.arange(context_tokens + 1, context_tokens + k + 1, device=DEVICE).expand(rows, -1)}

            def run(inputs=inputs):
                state.cache.rollback(prefix + context_tokens)
                state.run(inputs)

            costs[k] = timed(run, 5)[0]["time_s"]
    return costs


def bench_gptb(args, rows: list[dict], costs: list[dict]) -> None:
    side = 8 if args.quick else 16
    order = RasterOrder((side, side))
    guidance = GuidanceSchedule(4.0)
    for dtype in args.dtypes:
        model = random_model(GPTB, DTYPES[dtype])
        weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
        for batch in args.batch_sizes:
            condition = Condition(batch, class_labels=torch.arange(batch, device=DEVICE))
            cost = pass_costs(model, batch, True, 128 if not args.quick else 32)
            costs.append({"model": "gptb", "dtype": dtype, "batch": batch,
                          "one_token_cpu_s": cost[1], "weight_bytes": weight_bytes,
                          "relative": {k: cost[k] / cost[1] for k in cost},
                          "weight_gb_per_s": weight_bytes / cost[1] / 1e9})
            print(costs[-1], flush=True)
            for compile in modes(args, dtype):
                rows.append(decode_row(model, order, condition, "sequential", {}, dtype, batch,
                                       compile, args.repeats or 1, guidance, name="gptb"))
                print(rows[-1], flush=True)
            rows.append(decode_row(model, order, condition, "zipar", {}, dtype, batch, False,
                                   args.repeats or 1, guidance, name="gptb"))
            print(rows[-1], flush=True)


def hf_config(tokens: int):
    """A Llama config at the GPT-B shape (SwiGLU width as omniar's, no biases, untied head)."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=GPTB["vocab_size"], hidden_size=GPTB["hidden_size"],
        intermediate_size=32 * round(8 * GPTB["hidden_size"] / 3 / 32),
        num_hidden_layers=GPTB["num_layers"], num_attention_heads=GPTB["num_heads"],
        num_key_value_heads=GPTB["num_heads"], attention_bias=False, mlp_bias=False,
        tie_word_embeddings=False, rms_norm_eps=1e-6, max_position_embeddings=tokens + 8,
        bos_token_id=1, eos_token_id=None, pad_token_id=0,
    )


def bench_hf(args, rows: list[dict]) -> None:
    """`LlamaForCausalLM.generate` at the GPT-B shape, static cache, the CFG-doubled batch."""
    from transformers import LlamaForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    tokens = 64 if args.quick else 256
    config = hf_config(tokens)
    for dtype in args.dtypes:
        torch.manual_seed(0)
        model = LlamaForCausalLM(config).eval().to(device=DEVICE, dtype=DTYPES[dtype])
        for batch in args.batch_sizes:
            prompt = torch.ones(2 * batch, 1, dtype=torch.long, device=DEVICE)

            def run(model=model, prompt=prompt):
                with torch.no_grad():
                    return model.generate(prompt, max_new_tokens=tokens, min_new_tokens=tokens,
                                          do_sample=True, top_k=0, cache_implementation="static")

            times, _ = timed(run, args.repeats or 1)
            # transformers compiles a static-cache forward by itself on CUDA only (compile_config)
            rows.append({"model": "hf-llama", "dtype": dtype, "batch": batch, "compiled": DEVICE.type == "cuda",
                         "decoding": "sequential (generate, static cache)", "window": None, **times,
                         "images_per_s": batch / times["time_s"], "passes_per_image": tokens,
                         "accepted_tokens_per_pass": 1.0})
            print(rows[-1], flush=True)


def bench_var(args, rows: list[dict]) -> None:
    from omniar.tokenizers.multiscale_vq import MultiScaleVQTokenizer

    scales = VAR_SCALES[:6] if args.quick else VAR_SCALES
    torch.manual_seed(0)
    tokenizer = MultiScaleVQTokenizer(scales=scales, latent_channels=32, quantizer="vq",
                                      codebook_size=VAR["vocab_size"],
                                      codebook_dim=32).eval().to(DEVICE)
    order = NextScaleOrder.for_tokenizer(tokenizer)
    for dtype in args.dtypes:
        model = random_model(VAR, DTYPES[dtype], input_dim=order.feature_dim(tokenizer))
        for batch in args.batch_sizes:
            condition = Condition(batch, class_labels=torch.arange(batch, device=DEVICE))
            rows.append(decode_row(model, order, condition, "sequential", {}, dtype, batch, False,
                                   args.repeats or 1, GuidanceSchedule(4.0), context=tokenizer,
                                   name="var-d16"))
            print(rows[-1], flush=True)


def bench_orders(args, rows: list[dict]) -> None:
    """The shipped raster, neighbor and next-scale emoji pipelines at batch 16 (32 images a call)."""
    import omniar

    for dtype in args.dtypes:
        for name in ORDER_MODELS:
            pipe = omniar.load(name, device=str(DEVICE), torch_dtype=DTYPES[dtype])
            pipe.set_progress_bar_config(disable=True)
            images = 16 if args.quick else 32

            def run(pipe=pipe, images=images):
                generator = torch.Generator(device=DEVICE).manual_seed(0)
                return pipe(prompt="grinning face", num_images_per_prompt=images, batch_size=16,
                            generator=generator, output_type="pt")

            times, _ = timed(run, args.repeats or 3)
            order = getattr(pipe.config, "order", None) or name.removeprefix("emoji-t2i").strip("-") or "raster"
            rows.append({"model": name, "dtype": dtype, "batch": 16, "compiled": False,
                         "decoding": f"sequential ({order}, whole pipeline)", "window": None, **times,
                         "images_per_s": images / times["time_s"], "passes_per_image": None,
                         "accepted_tokens_per_pass": None})
            print(rows[-1], flush=True)


def bench_bandwidth(rows: list[dict]) -> dict[str, float]:
    """Streaming bandwidth in bf16: a 256 MiB copy (read + write) and a 256 MiB bf16 GEMV (read)."""
    elements = 128 * 2**20  # 256 MiB of bf16
    source = torch.ones(elements, dtype=torch.bfloat16, device=DEVICE)
    target = torch.empty_like(source)
    matrix = source.view(16384, -1)
    vector = torch.ones(matrix.shape[1], dtype=torch.bfloat16, device=DEVICE)
    copy = timed(lambda: target.copy_(source), 7)[0]["time_s"]
    gemv = timed(lambda: torch.mv(matrix, vector), 7)[0]["time_s"]
    result = {"copy_gb_per_s": 2 * source.nbytes / copy / 1e9, "gemv_gb_per_s": source.nbytes / gemv / 1e9}
    result["stream_gb_per_s"] = max(result.values())
    print(result, flush=True)
    return result


def profile_table(run: Callable[[], Any], steps: int, label: str, top: int = 12) -> list[str]:
    """torch.profiler of `run` (after a warm-up): the `top` operators by self time, per step."""
    from torch.profiler import ProfilerActivity, profile

    run()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if DEVICE.type == "cuda" else [])
    start = time.process_time()
    with profile(activities=activities) as prof:
        run()
    total_cpu = (time.process_time() - start) / steps
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    profiled = sum(e.self_cpu_time_total for e in events) / 1000 / steps
    lines = [f"**{label}**: {total_cpu * 1000:.1f} CPU ms per step under the profiler, "
             f"{profiled:.1f} ms of it in operators.", "",
             "| operator | calls per step | self CPU ms per step | share |", "|---|---:|---:|---:|"]
    for event in events[:top]:
        ms = event.self_cpu_time_total / 1000 / steps
        lines.append(f"| `{event.key}` | {event.count / steps:.0f} | {ms:.2f} | {ms / profiled:.0%} |")
    return lines + [""]


def bench_profile(args) -> list[str]:
    """Where a GPT-B bf16 batch-1 image goes, per step: omniar sequential against HF generate,
    both the whole 256-token decode (mean context 128 tokens), after a warm-up run."""
    tokens = 64 if args.quick else 256
    side = 8 if args.quick else 16
    model = random_model(GPTB, torch.bfloat16)
    order = RasterOrder((side, side))
    condition = Condition(1, class_labels=torch.zeros(1, dtype=torch.long, device=DEVICE))
    sampling = SamplingConfig(temperature=1.0, top_k=0)

    def omniar_image():
        generator = torch.Generator(device=DEVICE).manual_seed(0)
        get_decoder("sequential")(model, order, condition, sampling, GuidanceSchedule(4.0), generator)

    lines = profile_table(omniar_image, tokens, f"omniar sequential, GPT-B shape, {tokens} tokens "
                          "(bf16, batch 1 = 2 CFG rows, eager)")
    if "hf" in args.models:
        from transformers import LlamaForCausalLM

        hf = LlamaForCausalLM(hf_config(tokens)).eval().to(device=DEVICE, dtype=torch.bfloat16)
        prompt = torch.ones(2, 1, dtype=torch.long, device=DEVICE)

        def hf_image():
            hf.generate(prompt, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=True, top_k=0,
                        cache_implementation="static")

        lines += profile_table(hf_image, tokens, f"Hugging Face generate, GPT-B shape, {tokens} tokens "
                               "(bf16, 2 rows, static cache)")
    return lines

def find(rows: list[dict], **match: Any) -> dict | None:
    """The first row whose fields equal `match`."""
    return next((row for row in rows if all(row.get(k) == v for k, v in match.items())), None)


def derived(rows: list[dict], costs: list[dict], bandwidth: dict | None = None) -> list[str]:
    """Side-by-side ratios: speedups over sequential, omniar vs HF, VAR vs GPT-B, projections,
    the batch-16 order targets, and weights bytes per step against the streaming bandwidth."""
    lines = ["| comparison | dtype | batch | ratio |", "|---|---|---:|---:|"]

    def add(label: str, dtype: str, batch: int, fast: dict | None, slow: dict | None) -> None:
        if fast and slow:
            lines.append(f"| {label} | {dtype} | {batch} | {slow['time_s'] / fast['time_s']:.2f}x |")

    keys = sorted({(row["dtype"], row["batch"]) for row in rows})
    for dtype, batch in keys:
        common = {"dtype": dtype, "batch": batch}
        seq = find(rows, model="emoji-t2i", decoding="sequential", compiled=False, **common)
        for window in WINDOWS:
            add(f"emoji-t2i jacobi w{window} vs sequential (eager)", dtype, batch,
                find(rows, model="emoji-t2i", decoding="jacobi", window=window, compiled=False, **common), seq)
        add("emoji-t2i zipar vs sequential (eager)", dtype, batch,
            find(rows, model="emoji-t2i", decoding="zipar", compiled=False, **common), seq)
        add("emoji-t2i sequential compiled vs eager", dtype, batch,
            find(rows, model="emoji-t2i", decoding="sequential", compiled=True, **common), seq)
        gptb = find(rows, model="gptb", decoding="sequential", compiled=False, **common)
        hf = find(rows, model="hf-llama", **common)
        add("GPT-B omniar sequential (eager) vs HF generate", dtype, batch, gptb, hf)
        add("GPT-B omniar sequential (compiled) vs HF generate", dtype, batch,
            find(rows, model="gptb", decoding="sequential", compiled=True, **common), hf)
        add("GPT-B zipar vs sequential (eager)", dtype, batch,
            find(rows, model="gptb", decoding="zipar", **common), gptb)
        add("VAR-d16 next-scale vs GPT-B raster, per image", dtype, batch,
            find(rows, model="var-d16", **common), gptb)
        raster16 = find(rows, model="emoji-t2i", decoding="sequential (raster, whole pipeline)", **common)
        for name in ORDER_MODELS[1:]:
            add(f"{name} vs emoji-t2i raster, whole pipeline (target 3x)", dtype, batch,
                next((r for r in rows if r["model"] == name and "whole pipeline" in r["decoding"]
                      and r["dtype"] == dtype and r["batch"] == batch), None), raster16)
        if dtype == "bfloat16":
            add("GPT-B sequential bf16 vs fp32 (eager)", dtype, batch, gptb,
                find(rows, model="gptb", decoding="sequential", compiled=False, dtype="float32", batch=batch))
    for cost in costs:
        if not bandwidth:
            break
        for compiled in (False, True):
            row = find(rows, model="gptb", decoding="sequential", compiled=compiled,
                       dtype=cost["dtype"], batch=cost["batch"])
            if row:
                per_step = row["time_s"] / row["passes_per_image"]
                rate = cost["weight_bytes"] / per_step / 1e9
                lines.append(f"| GPT-B sequential ({'compiled' if compiled else 'eager'}) weights bytes per "
                             f"step / streaming bandwidth: {rate:.1f} / {bandwidth['stream_gb_per_s']:.1f} "
                             f"GB/s (target 60%) | {cost['dtype']} | {cost['batch']} "
                             f"| {rate / bandwidth['stream_gb_per_s']:.0%} |")
    for cost in costs:
        for window in WINDOWS:
            jacobi = find(rows, model="emoji-t2i", decoding="jacobi", window=window, compiled=False,
                          dtype=cost["dtype"], batch=cost["batch"])
            if jacobi:
                projected = jacobi["accepted_tokens_per_pass"] / cost["relative"][window + 1]
                lines.append(f"| GPT-B jacobi w{window} vs sequential, **projected** (emoji-t2i "
                             f"acceptance {jacobi['accepted_tokens_per_pass']:.2f} / pass cost "
                             f"{cost['relative'][window + 1]:.2f}) | {cost['dtype']} | {cost['batch']} "
                             f"| {projected:.2f}x |")
    return lines


def markdown(rows: list[dict], costs: list[dict], env: dict, command: str,
             bandwidth: dict | None = None, profile: list[str] | None = None, note: str = "") -> str:
    table = ["| model | dtype | batch | compiled | decoding | window | CPU s | wall s | images/s (CPU) "
             "| passes/image | accepted tokens/pass |", "|---|---|---:|---|---|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        table.append(
            f"| {row['model']} | {row['dtype']} | {row['batch']} | {'yes' if row['compiled'] else 'no'} "
            f"| {row['decoding']} | {row['window'] or ''} | {row['cpu_s']:.2f} | {row['wall_s']:.2f} "
            f"| {row['images_per_s']:.3f} | {row['passes_per_image'] or ''} "
            f"| {'' if row['accepted_tokens_per_pass'] is None else format(row['accepted_tokens_per_pass'], '.2f')} |")
    stream = bandwidth["stream_gb_per_s"] if bandwidth else None
    cost_table = ["| dtype | batch (x2 rows, CFG) | one-token pass, ms | weights GB/s at one token "
                  "| of streaming bandwidth | k=5 | k=9 | k=17 |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for cost in costs:
        rel = cost["relative"]
        share = f"{cost['weight_gb_per_s'] / stream:.0%}" if stream else ""
        cost_table.append(f"| {cost['dtype']} | {cost['batch']} | {1000 * cost['one_token_cpu_s']:.1f} "
                          f"| {cost['weight_gb_per_s']:.1f} | {share} | {rel[5]:.2f} | {rel[9]:.2f} | {rel[17]:.2f} |")
    bandwidth_line = (f"Streaming bandwidth in bf16, measured in this run: copy {bandwidth['copy_gb_per_s']:.1f} "
                      f"GB/s (read + write), matrix-vector product {bandwidth['gemv_gb_per_s']:.1f} GB/s (read); "
                      f"the higher, {stream:.1f} GB/s, is the denominator." if bandwidth else "")
    timing = ("Times are CUDA-event seconds (synchronized)." if env["device"].startswith("cuda")
              else "Times are CPU seconds of the process (`time.process_time`).")
    return "\n".join([
        "# Decode speed (CPU)", "",
        "Generated by `benchmarks/decode_speed.py` (see its docstring for the models and method). "
        f"{timing} Images/s use those times; passes per image count micro-batch forward passes "
        "(the prefix pass included).", "",
        environment_line(env), "", f"Command: `{command}`", "", *([note, ""] if note else []),
        *([bandwidth_line, ""] if bandwidth else []),
        "## Runs", "", *table, "",
        *(["## GPT-B: cost of a k-token pass relative to a one-token pass (128 tokens cached)", "",
           *cost_table, ""] if costs else []),
        "## Side by side", "", *derived(rows, costs, bandwidth), "",
        *(["## Profile", "", *profile] if profile else []),
    ])


def main(argv: list[str] | None = None) -> None:
    global DEVICE
    args = parse_args(argv)
    DEVICE = args.device
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    load_before = load_average()
    rows: list[dict] = []
    costs: list[dict] = []
    bandwidth, profile = None, None
    with torch.no_grad():
        if "bandwidth" in args.models or "gptb" in args.models:
            bandwidth = bench_bandwidth(rows)
        if "emoji" in args.models:
            bench_emoji(args, rows)
        if "gptb" in args.models:
            bench_gptb(args, rows, costs)
        if "hf" in args.models:
            bench_hf(args, rows)
        if "var" in args.models:
            bench_var(args, rows)
        if "orders" in args.models:
            bench_orders(args, rows)
        if args.profile:
            profile = bench_profile(args)
    env = environment(load_before, str(DEVICE))
    command = "python benchmarks/decode_speed.py " + " ".join(sys.argv[1:] if argv is None else argv)
    text = markdown(rows, costs, env, command.strip(), bandwidth, profile, args.note)
    print(text)
    report = {"rows": rows, "pass_costs": costs, "bandwidth": bandwidth, "profile": profile,
              "environment": env}
    write_report(args.output, report, text, quick=args.quick)


if __name__ == "__main__":
    main()
