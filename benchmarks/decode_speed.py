"""Decode speed on CPU: omniar with KV cache, omniar without cache, transformers' Llama.

One ~20M-parameter decoder (hidden 512, 6 layers, 8 heads, SwiGLU 1376, vocab 1024, random
weights) generates `--seq-len` tokens per sample with top-k sampling, at each batch size, in three
ways, side by side in one run:

- ``omniar_cached``: `decode_sequential` on `RasterOrder(seq_len)` (static KV cache);
- ``omniar_uncached``: the same model, every step re-running the full forward pass over the prefix
  and all tokens so far (built from the order's teacher-forcing inputs);
- ``transformers``: `LlamaForCausalLM.generate` with identical dimensions (no biases, RoPE,
  untied embeddings, SDPA attention, default dynamic cache), from a one-token prompt, so both
  libraries run one prefill of one token and `seq_len - 1` one-token decode steps.

Tokens/s counts generated tokens (batch * seq_len) over the wall time of the whole call. Every
repeat runs the methods round-robin after a short warm-up, so a changing machine load hits them
alike; the median over repeats is reported. Results go to JSON and a markdown table.

    OMP_NUM_THREADS=1 python benchmarks/decode_speed.py            # full: seq 256, batch 1 and 16
    OMP_NUM_THREADS=1 python benchmarks/decode_speed.py --quick    # < 60 s smoke run
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import torch
from _report import (  # benchmarks/_report.py: run these as scripts
    environment,
    environment_line,
    load_average,
    write_report,
)

from omniar.models.ar_model import AutoregressiveModel
from omniar.orders.base import Order
from omniar.orders.raster import RasterOrder
from omniar.samplers.condition import Condition
from omniar.samplers.decode import decode_sequential
from omniar.samplers.processors import SamplingConfig, sample

METHODS = ("omniar_cached", "omniar_uncached", "transformers")
DIMENSIONS = {"hidden_size": 512, "num_layers": 6, "num_heads": 8, "intermediate_size": 1376,
              "vocab_size": 1024}
DEFAULT_OUTPUT = Path(__file__).parent / "results" / "decode_speed"
WARMUP_TOKENS = 8


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Decode tokens/s of omniar (with and without KV cache) against Hugging Face "
                    "transformers' LlamaForCausalLM.generate, same dimensions, CPU.",
    )
    parser.add_argument("--quick", action="store_true",
                        help="smoke run under 60 s: seq 64, one repeat, no uncached run above "
                             "batch 1, no files written unless --output is given")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads for every method (default: torch's, i.e. "
                             "OMP_NUM_THREADS or the core count)")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per method (default 3)")
    parser.add_argument("--seq-len", type=int, default=None, help="tokens per sample (default 256)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=None,
                        help="batch sizes to measure (default 1 16)")
    parser.add_argument("--uncached-max-batch", type=int, default=None,
                        help="run the uncached baseline only up to this batch size "
                             "(default: all; --quick: 1)")
    parser.add_argument("--uncached-repeats", type=int, default=1,
                        help="timed runs of the uncached baseline at batch sizes above 1, where it "
                             "is quadratic and slow (default 1; batch 1 uses --repeats)")
    parser.add_argument("--top-k", type=int, default=50, help="top-k of the sampling (default 50)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=None,
                        help=f"write OUTPUT.json and OUTPUT.md (default {DEFAULT_OUTPUT}; "
                             "--quick writes nothing by default)")
    args = parser.parse_args(argv)
    quick = args.quick
    args.repeats = args.repeats or (1 if quick else 3)
    args.seq_len = args.seq_len or (64 if quick else 256)
    args.batch_sizes = args.batch_sizes or [1, 16]
    if args.uncached_max_batch is None:
        args.uncached_max_batch = 1 if quick else max(args.batch_sizes)
    if args.output is None and not quick:
        args.output = DEFAULT_OUTPUT
    for name in ("repeats", "uncached_repeats", "seq_len", "top_k"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if min(args.batch_sizes) < 1:
        parser.error(f"--batch-sizes must all be >= 1, got {args.batch_sizes}")
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    return args


def build_omniar() -> AutoregressiveModel:
    """The unconditional omniar model (one learned start token as the prefix)."""
    return AutoregressiveModel(condition="none", rope_axes=1, **DIMENSIONS).eval()


def build_llama(seed: int):
    """`LlamaForCausalLM` with the same dimensions and random weights."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=DIMENSIONS["vocab_size"], hidden_size=DIMENSIONS["hidden_size"],
        intermediate_size=DIMENSIONS["intermediate_size"],
        num_hidden_layers=DIMENSIONS["num_layers"], num_attention_heads=DIMENSIONS["num_heads"],
        num_key_value_heads=DIMENSIONS["num_heads"], hidden_act="silu", attention_bias=False,
        mlp_bias=False, tie_word_embeddings=False, rms_norm_eps=1e-6, rope_theta=10000.0,
        max_position_embeddings=4096, bos_token_id=1, eos_token_id=2, pad_token_id=0,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config).float().eval()


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def decode_uncached(model: AutoregressiveModel, order: Order, condition: Condition,
                    sampling: SamplingConfig, generator: torch.Generator) -> torch.Tensor:
    """Sequential decoding without a cache: each step re-runs prefix + every token fed so far."""
    device = model.device
    tokens = torch.zeros(condition.batch_size, order.num_tokens, dtype=torch.long, device=device)
    prefix_kwargs = condition.model_kwargs(False, device)
    fed = 0
    for index, step in enumerate(order.steps):
        fed += len(step.inputs)
        inputs = {name: value[:, :fed] for name, value in order.teacher_forcing_inputs(tokens).items()}
        output = model(**inputs, **prefix_kwargs)
        logits = order.step_logits(output.logits, index, output)
        tokens[:, step.targets.to(device)] = sample(logits, sampling, generator)
    return tokens


def omniar_runner(model, uncached: bool, batch: int, seq_len: int, top_k: int,
                  seed: int) -> Callable[[], torch.Tensor]:
    order = RasterOrder(seq_len)
    _ = (order.steps, order.plan, order.positions)  # build the order's cached schedule up front
    condition = Condition(batch)
    sampling = SamplingConfig(temperature=1.0, top_k=top_k)

    def run() -> torch.Tensor:
        generator = torch.Generator().manual_seed(seed)
        if uncached:
            return decode_uncached(model, order, condition, sampling, generator)
        return decode_sequential(model, order, condition, sampling, generator=generator)[0]

    return run


def transformers_runner(model, batch: int, seq_len: int, top_k: int,
                        seed: int) -> Callable[[], torch.Tensor]:
    bos = torch.full((batch, 1), model.config.bos_token_id, dtype=torch.long)

    def run() -> torch.Tensor:
        torch.manual_seed(seed)
        out = model.generate(
            input_ids=bos, attention_mask=torch.ones_like(bos), do_sample=True, top_k=top_k,
            top_p=1.0, temperature=1.0, max_new_tokens=seq_len, min_new_tokens=seq_len,
            use_cache=True, pad_token_id=model.config.pad_token_id,
        )
        return out[:, 1:]

    return run


def summarise(wall: list[float], cpu: list[float], tokens: int) -> dict:
    median, median_cpu = statistics.median(wall), statistics.median(cpu)
    return {"seconds": [round(x, 4) for x in wall], "cpu_seconds": [round(x, 4) for x in cpu],
            "median_seconds": round(median, 4), "median_cpu_seconds": round(median_cpu, 4),
            "tokens": tokens, "median_tokens_per_s": round(tokens / median, 2),
            "median_tokens_per_cpu_s": round(tokens / median_cpu, 2)}


def timed(run: Callable[[], torch.Tensor]) -> tuple[torch.Tensor, float, float]:
    """Output, wall seconds and CPU seconds of this process (all threads) for one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = run()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def benchmark(args: argparse.Namespace, omniar_model, llama_model) -> dict[int, dict[str, dict]]:
    """Median timings per batch size and method; methods alternate within every repeat."""
    results: dict[int, dict[str, dict]] = {}
    for batch in args.batch_sizes:
        methods = [m for m in METHODS if m != "omniar_uncached" or batch <= args.uncached_max_batch]
        runners, warmups = {}, {}
        for method in methods:
            for length, table in ((args.seq_len, runners), (min(WARMUP_TOKENS, args.seq_len), warmups)):
                if method == "transformers":
                    table[method] = transformers_runner(llama_model, batch, length, args.top_k, args.seed)
                else:
                    table[method] = omniar_runner(omniar_model, method == "omniar_uncached", batch,
                                                  length, args.top_k, args.seed)
        for method in methods:
            warmups[method]()
        wall: dict[str, list[float]] = {m: [] for m in methods}
        cpu: dict[str, list[float]] = {m: [] for m in methods}
        for repeat in range(args.repeats):
            for method in methods:
                if method == "omniar_uncached" and batch > 1 and repeat >= args.uncached_repeats:
                    continue
                tokens, wall_s, cpu_s = timed(runners[method])
                wall[method].append(wall_s)
                cpu[method].append(cpu_s)
                if tuple(tokens.shape) != (batch, args.seq_len):
                    raise RuntimeError(f"{method} produced {tuple(tokens.shape)} tokens, "
                                       f"expected {(batch, args.seq_len)}")
                print(f"  batch {batch:>3}  repeat {repeat + 1}/{args.repeats}  {method:<16} "
                      f"{wall_s:8.3f} s  {batch * args.seq_len / wall_s:9.1f} tok/s  "
                      f"(CPU {cpu_s:8.3f} s)", flush=True)
        results[batch] = {m: summarise(wall[m], cpu[m], batch * args.seq_len) for m in methods}
        results[batch]["ratios"] = ratios(results[batch])
    return results


def ratios(by_method: dict[str, dict]) -> dict[str, float]:
    """Speed ratios from wall time and, less sensitive to a loaded machine, from CPU time."""
    out = {}
    for suffix, key in (("", "median_tokens_per_s"), ("_cpu", "median_tokens_per_cpu_s")):
        speed = {m: r[key] for m, r in by_method.items() if m in METHODS}
        out["omniar_cached_over_transformers" + suffix] = round(
            speed["omniar_cached"] / speed["transformers"], 3)
        if "omniar_uncached" in speed:
            out["omniar_cached_over_uncached" + suffix] = round(
                speed["omniar_cached"] / speed["omniar_uncached"], 3)
    return out


def markdown(report: dict) -> str:
    env = report["environment"]
    lines = [
        "# Decode speed (CPU)" + (" - QUICK MODE" if report["quick"] else ""),
        "",
        (f"Model: hidden {DIMENSIONS['hidden_size']}, {DIMENSIONS['num_layers']} layers, "
        f"{DIMENSIONS['num_heads']} heads, SwiGLU {DIMENSIONS['intermediate_size']}, vocab "
        f"{DIMENSIONS['vocab_size']}; parameters: omniar {report['parameters']['omniar']:,}, "
        f"transformers {report['parameters']['transformers']:,}. Random weights, float32, top-k "
        f"{report['top_k']} sampling, sequence {report['seq_len']}, median of "
        f"{report['repeats']} run(s) per method after a warm-up (uncached baseline above "
        f"batch 1: {report['uncached_repeats']} run(s), it is quadratic in the length)."),
        "",
        f"transformers {env['transformers']}; " + environment_line(env),
        "",
        "| batch | method | median tokens/s | median s | runs (s) | tokens per CPU-s | runs (CPU s) |",
        "|---:|---|---:|---:|---|---:|---|",
    ]
    for batch, by_method in report["results"].items():
        for method in METHODS:
            if method in by_method:
                r = by_method[method]
                runs = ", ".join(f"{x:.2f}" for x in r["seconds"])
                cpu_runs = ", ".join(f"{x:.2f}" for x in r["cpu_seconds"])
                lines.append(f"| {batch} | {method} | {r['median_tokens_per_s']:.1f} | "
                             f"{r['median_seconds']:.3f} | {runs} | "
                             f"{r['median_tokens_per_cpu_s']:.1f} | {cpu_runs} |")
    lines += ["", "Ratios of median tokens/s (wall time; CPU time in brackets):", "",
              "| batch | omniar cached / transformers | omniar cached / uncached |",
              "|---:|---:|---:|"]
    for batch, by_method in report["results"].items():
        rat = by_method["ratios"]
        uncached = "-"
        if "omniar_cached_over_uncached" in rat:
            uncached = (f"{rat['omniar_cached_over_uncached']:.2f}x "
                        f"({rat['omniar_cached_over_uncached_cpu']:.2f}x)")
        lines.append(f"| {batch} | {rat['omniar_cached_over_transformers']:.2f}x "
                     f"({rat['omniar_cached_over_transformers_cpu']:.2f}x) | {uncached} |")
    lines += ["", f"Command: `{report['command']}`", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    import transformers

    transformers.logging.set_verbosity_error()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.quick:
        print("QUICK MODE: seq", args.seq_len, "| repeats", args.repeats,
              "| uncached baseline only up to batch", args.uncached_max_batch)
    torch.manual_seed(args.seed)
    omniar_model = build_omniar()
    llama_model = build_llama(args.seed)
    params = {"omniar": count_parameters(omniar_model), "transformers": count_parameters(llama_model)}
    print(f"parameters: omniar {params['omniar']:,}  transformers {params['transformers']:,}")
    print(f"torch.get_num_threads() = {torch.get_num_threads()}")
    load_before = load_average()
    print(f"load average: {load_before}")
    start = time.perf_counter()
    with torch.inference_mode():
        results = benchmark(args, omniar_model, llama_model)
    report = {
        "quick": args.quick, "seq_len": args.seq_len, "batch_sizes": args.batch_sizes,
        "repeats": args.repeats, "uncached_repeats": args.uncached_repeats, "top_k": args.top_k, "dimensions": DIMENSIONS,
        "parameters": params, "total_seconds": round(time.perf_counter() - start, 1),
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python " + " ".join(["benchmarks/decode_speed.py", *(argv or sys.argv[1:])]),
        "environment": {**environment(load_before), "transformers": transformers.__version__},
        "results": {str(b): r for b, r in results.items()},
    }
    print()
    print(markdown(report))
    write_report(args.output, report, markdown(report), args.quick)
    return report


if __name__ == "__main__":
    main()
