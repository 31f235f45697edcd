"""Parallel decoding side by side on emoji-t2i: sequential, speculative Jacobi and ZipAR.

Every configuration decodes the same seeded prompts with the same generator seed, under two
sampling settings: the model's default preset (temperature 0.7, no top-k, no CFG) and the
setting of the issue's target (top-k 20, temperature 1.0, CFG 1.5); ``--settings`` adds
``greedy`` (temperature 0: jacobi is then the plain Jacobi fixed point). Configurations:
sequential; jacobi with windows 4, 8, 16 and both draft inits (random, left); zipar with windows
2, 4 (the default, half a row of the 8x8 token grid) and 6. Columns:

- forward passes per image at batch 1 (each sample's own passes) and per micro-batch of 16
  (jacobi: the slowest sample of the batch decides);
- mean accepted tokens per pass and sample (1 for sequential);
- wall seconds per image at batch 1 (the issue's target measure) and at batch 16, with the
  speedup over sequential decoding under the same sampling setting; CPU-time speedups in
  brackets (less sensitive to a shared machine). Configurations run round-robin within every
  repeat after a warm-up, and the median over repeats is reported;
- prompt fidelity top-1 / top-5 (`omniar.eval.image_eval.evaluate_image_model`, batch 16) on
  training captions by default (the model reproduces almost no held-out caption, so those
  carry no signal about the decoder);
- with ``--fid``, FID on emoji over the same images. Off by default: the first run builds the
  Inception features of all 3,583 real emoji (cached afterwards), which takes long on a CPU.

    OMP_NUM_THREADS=1 python benchmarks/parallel_decoding.py          # full; writes results/
    OMP_NUM_THREADS=1 python benchmarks/parallel_decoding.py --quick  # smoke run, prints only
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from _report import (  # benchmarks/_report.py: run these as scripts
    environment,
    environment_line,
    inception_features,
    load_average,
    write_report,
)

from omniar.eval.image_eval import PROMPT_CHOICES, evaluate_image_model
from omniar.loading import load
from omniar.training.recipes import DEFAULT_DATA_ROOT

DEFAULT_OUTPUT = Path(__file__).parent / "results" / "parallel_decoding"
SETTINGS: dict[str, dict[str, Any]] = {
    "preset": {},
    "topk_cfg": {"top_k": 20, "temperature": 1.0, "guidance_scale": 1.5},
    "greedy": {"preset": "greedy"},
}
DEFAULT_SETTINGS = ("preset", "topk_cfg")
SETTING_NOTES = {"preset": "the model's default preset", "topk_cfg": "the issue's target setting",
                 "greedy": "the model's greedy preset"}
BATCH = 16
# Issue #7's targets for jacobi under top-k + CFG at batch 1, and for zipar's default window.
TARGET_PASS_REDUCTION, TARGET_SPEEDUP, TARGET_FIDELITY_LOSS = 2.0, 1.5, 0.05
ZIPAR_DEFAULT_WINDOW = 4


@dataclass
class Config:
    """One decoder with its options, under one sampling setting."""

    setting: str
    decoding: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        details = " ".join(f"{key}={value}" for key, value in self.options.items())
        return f"{self.setting} {self.decoding} {details}".strip()


def decoders(quick: bool) -> list[tuple[str, dict[str, Any]]]:
    """(decoding, options) pairs: fewer windows in quick mode."""
    jacobi = [(4, "random"), (16, "random"), (16, "left")] if quick else [
        (window, init) for window in (4, 8, 16) for init in ("random", "left")]
    zipar = (2, 4) if quick else (2, 4, 6)
    return [("sequential", {}),
            *[("jacobi", {"window": w, "init": i}) for w, i in jacobi],
            *[("zipar", {"window": w}) for w in zipar]]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Sequential, speculative Jacobi and ZipAR decoding of emoji-t2i side by side: "
        "forward passes, wall time at batch 1 and 16, accepted tokens per pass, prompt fidelity.",
    )
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 8 prompts, fewer windows, one timed repeat, prints only "
                        "(unless --output is given)")
    parser.add_argument("--model", default="emoji-t2i", help="model name or folder")
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT,
                        help="shared data folder with noto-emoji/png32 (default ../shared/data)")
    parser.add_argument("--prompts", choices=PROMPT_CHOICES, default="train",
                        help="caption set(s) for prompt fidelity (default train)")
    parser.add_argument("--num-prompts", type=int, default=None,
                        help="prompts per caption set (default 48; --quick: 8)")
    parser.add_argument("--speed-images", type=int, default=None,
                        help="images per timed call at batch 1 (default 4; --quick: 2); batch 16 "
                        "times one micro-batch of 16")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed round-robin repeats (default 3; --quick: 1)")
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS),
                        default=list(DEFAULT_SETTINGS),
                        help="sampling settings to compare (default: preset topk_cfg; greedy: "
                        "temperature 0, where jacobi is the plain Jacobi fixed point)")
    parser.add_argument("--fid", action="store_true",
                        help="also FID on emoji (slow on a CPU the first time: it builds the "
                        "reference Inception features of all real emoji)")
    parser.add_argument("--seed", type=int, default=0, help="generation seed (default 0)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default cpu)")
    parser.add_argument("--output", type=Path, default=None,
                        help=f"write OUTPUT.json and OUTPUT.md (default {DEFAULT_OUTPUT}; "
                        "--quick writes nothing by default)")
    args = parser.parse_args(argv)
    args.num_prompts = args.num_prompts or (8 if args.quick else 48)
    args.speed_images = args.speed_images or (2 if args.quick else 4)
    args.repeats = args.repeats or (1 if args.quick else 3)
    if args.output is None and not args.quick:
        args.output = DEFAULT_OUTPUT
    if min(args.num_prompts, args.speed_images, args.repeats) < 1:
        parser.error("--num-prompts, --speed-images and --repeats must be >= 1")
    return args


def quality(pipe, config: Config, args: argparse.Namespace, inception) -> dict[str, Any]:
    """Prompt fidelity (and FID) of one configuration on the seeded prompts, batch 16."""
    result = evaluate_image_model(
        pipe, args.data_root, prompts=args.prompts, num_prompts=args.num_prompts, seed=args.seed,
        decoding=config.decoding, decoding_options=config.options or None, batch_size=BATCH,
        fid=args.fid, inception=inception, device=args.device, **SETTINGS[config.setting],
    )
    overall = result["overall"]
    keys = ("fidelity_top1", "fidelity_top5", "fid_on_emoji", "fid_on_emoji_floor",
            "forward_passes_per_image", "seconds", "num_images")
    return {"prompts": result["prompts"], "settings": result["settings"],
            **{key: overall[key] for key in keys if key in overall}}


def timed_call(pipe, config: Config, prompts: list[str], batch_size: int, seed: int) -> dict:
    """Wall and CPU seconds per image, forward passes per micro-batch (per image at batch 1)
    and mean accepted tokens per pass of one pipeline call."""
    generator = torch.Generator(device=pipe.device).manual_seed(seed)
    wall, cpu = time.perf_counter(), time.process_time()
    output = pipe(prompt=prompts, batch_size=batch_size, generator=generator, output_type="pt",
                  decoding=config.decoding, decoding_options=config.options or None,
                  **SETTINGS[config.setting])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    stats = output.stats
    return {"wall_per_image": wall / len(prompts), "cpu_per_image": cpu / len(prompts),
            "passes_per_batch": stats["forward_passes"] / -(-len(prompts) // batch_size),
            "tokens_per_image": stats["tokens_generated"] / stats["samples"],
            "tokens_per_pass": stats.get("mean_accepted_tokens_per_pass",
                                         stats["tokens_per_pass"])}


def speed(pipe, configs: list[Config], prompts: list[str], args: argparse.Namespace) -> dict:
    """Round-robin timing of every configuration at batch 1 and 16; medians over repeats."""
    batch_16 = (prompts * -(-BATCH // len(prompts)))[:BATCH]
    calls = {1: prompts[: args.speed_images], BATCH: batch_16}
    for decoding in dict.fromkeys(config.decoding for config in configs):
        first = next(config for config in configs if config.decoding == decoding)
        timed_call(pipe, first, prompts[:1], 1, args.seed)  # warm-up
    runs: dict[str, dict[int, list[dict]]] = {c.label: {1: [], BATCH: []} for c in configs}
    for repeat in range(args.repeats):
        for config in configs:
            for batch_size, batch_prompts in calls.items():
                run = timed_call(pipe, config, batch_prompts, batch_size, args.seed)
                runs[config.label][batch_size].append(run)
            b1 = runs[config.label][1][-1]
            print(f"  repeat {repeat + 1}/{args.repeats}  {config.label:<36} "
                  f"b1 {b1['wall_per_image']:.3f} s/img  {b1['passes_per_batch']:5.1f} passes",
                  file=sys.stderr, flush=True)
    return {label: {size: summarise(by_size[size]) for size in by_size}
            for label, by_size in runs.items()}


def summarise(runs: list[dict]) -> dict[str, Any]:
    """Medians of the timed runs; passes and tokens per pass are the same in every repeat."""
    return {"wall_per_image": statistics.median(r["wall_per_image"] for r in runs),
            "cpu_per_image": statistics.median(r["cpu_per_image"] for r in runs),
            "wall_runs": [round(r["wall_per_image"], 4) for r in runs],
            "passes_per_batch": runs[0]["passes_per_batch"],
            "tokens_per_image": runs[0]["tokens_per_image"],
            "tokens_per_pass": runs[0]["tokens_per_pass"]}


def add_speedups(rows: list[dict]) -> None:
    """Speedup over sequential decoding under the same sampling setting (wall and CPU)."""
    base = {row["setting"]: row for row in rows if row["decoding"] == "sequential"}
    for row in rows:
        reference = base[row["setting"]]
        for size in ("1", str(BATCH)):
            mine, theirs = row["speed"][size], reference["speed"][size]
            mine["speedup"] = theirs["wall_per_image"] / mine["wall_per_image"]
            mine["speedup_cpu"] = theirs["cpu_per_image"] / mine["cpu_per_image"]
            mine["pass_reduction"] = theirs["passes_per_batch"] / mine["passes_per_batch"]


def targets(rows: list[dict]) -> list[dict[str, Any]]:
    """Issue #7's targets: jacobi under top-k + CFG at batch 1; zipar's default window."""
    checks = []
    jacobi = [r for r in rows if r["setting"] == "topk_cfg" and r["decoding"] == "jacobi"]
    if jacobi:
        best = max(jacobi, key=lambda r: r["speed"]["1"]["pass_reduction"])
        reduction = best["speed"]["1"]["pass_reduction"]
        speedup = max(r["speed"]["1"]["speedup"] for r in jacobi)
        checks.append({
            "target": f"jacobi, topk_cfg, batch 1: >= {TARGET_PASS_REDUCTION:g}x fewer forward "
            f"passes and >= {TARGET_SPEEDUP:g}x wall-time speedup",
            "measured": f"best pass reduction {reduction:.2f}x ({best['label']}), best wall "
            f"speedup {speedup:.2f}x",
            "met": reduction >= TARGET_PASS_REDUCTION and speedup >= TARGET_SPEEDUP,
        })
    for setting in dict.fromkeys(r["setting"] for r in rows):
        mine = [r for r in rows if r["setting"] == setting]
        sequential = next(r for r in mine if r["decoding"] == "sequential")
        zipar = [r for r in mine if r["decoding"] == "zipar"
                 and r["options"]["window"] == ZIPAR_DEFAULT_WINDOW]
        if zipar:
            loss = sequential["quality"]["fidelity_top1"] - zipar[0]["quality"]["fidelity_top1"]
            checks.append({
                "target": f"zipar default window {ZIPAR_DEFAULT_WINDOW}, {setting}: loses <= "
                f"{100 * TARGET_FIDELITY_LOSS:g} points of top-1 prompt fidelity",
                "measured": f"{100 * loss:.1f} points lost",
                "met": loss <= TARGET_FIDELITY_LOSS,
            })
    return checks


def markdown(report: dict) -> str:
    meta = report["meta"]
    lines = [
        "# Parallel decoding on emoji-t2i" + (" - QUICK MODE" if meta["quick"] else ""),
        "",
        (f"Model {meta['model']}, {meta['tokens_per_image']:.0f} tokens per image. Same "
         f"{meta['num_prompts']} {meta['prompts']} caption(s) and seed {meta['seed']} for every "
         "row. Settings: "
         + "; ".join(f"`{name}` = {SETTING_NOTES[name]} ({used})"
                     for name, used in meta["sampling"].items())
         + ". Passes b1: forward "
         "passes per image at batch 1; passes b16: per micro-batch of 16 (jacobi: the slowest "
         "sample). tok/pass: mean accepted tokens per pass and sample. s/img: median wall "
         f"seconds per image over {meta['repeats']} round-robin repeat(s) ({meta['speed_images']} "
         "images at batch 1, 16 at batch 16); speedup over sequential under the same setting, "
         "CPU-time speedup in brackets. Fidelity: prompt fidelity top-1 / top-5 at batch 16."),
        "",
        environment_line(meta) + f" Total {meta['total_seconds']:.0f} s.",
        "",
        ("| setting | decoding | window | init | passes b1 | tok/pass | s/img b1 | speedup b1 "
         "| passes b16 | s/img b16 | speedup b16 | top-1 | top-5 | FID |"),
        "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in report["rows"]:
        b1, b16, q = row["speed"]["1"], row["speed"][str(BATCH)], row["quality"]
        fid = q.get("fid_on_emoji")
        lines.append(
            f"| {row['setting']} | {row['decoding']} | {row['options'].get('window', '-')} "
            f"| {row['options'].get('init', '-')} | {b1['passes_per_batch']:.1f} "
            f"| {b1['tokens_per_pass']:.2f} | {b1['wall_per_image']:.3f} "
            f"| {b1['speedup']:.2f}x ({b1['speedup_cpu']:.2f}x) | {b16['passes_per_batch']:.0f} "
            f"| {b16['wall_per_image']:.3f} | {b16['speedup']:.2f}x ({b16['speedup_cpu']:.2f}x) "
            f"| {100 * q['fidelity_top1']:.1f}% | {100 * q['fidelity_top5']:.1f}% "
            f"| {'-' if fid is None else f'{fid:.1f}'} |")
    lines += ["", "Targets of issue #7:", ""]
    lines += [f"- {c['target']}: {c['measured']}: {'met' if c['met'] else 'NOT met'}."
              for c in report["targets"]]
    lines += ["", f"Command: `{meta['command']}`", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    start, load_before = time.perf_counter(), load_average()
    pipe = load(args.model, device=args.device)
    pipe.set_progress_bar_config(disable=True)
    inception = inception_features(args.fid, args.device)
    configs = [Config(setting, decoding, options) for setting in args.settings
               for decoding, options in decoders(args.quick)]
    rows = []
    for config in configs:
        print(f"[{config.label}] quality ...", file=sys.stderr, flush=True)
        rows.append({"label": config.label, "setting": config.setting,
                     "decoding": config.decoding, "options": config.options,
                     "quality": quality(pipe, config, args, inception)})
    prompts = [p for chosen in rows[0]["quality"].pop("prompts").values() for p in chosen]
    for row in rows[1:]:
        row["quality"].pop("prompts")
    print(f"speed ({args.repeats} round-robin repeat(s)) ...", file=sys.stderr, flush=True)
    timings = speed(pipe, configs, prompts, args)
    for row in rows:
        row["speed"] = {str(size): figures for size, figures in timings[row["label"]].items()}
        used = row["quality"].pop("settings")
        row["sampling"] = {key: used[key] for key in ("temperature", "top_k", "guidance_scale")}
    add_speedups(rows)
    report = {
        "meta": {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join(["python benchmarks/parallel_decoding.py",
                                 *(sys.argv[1:] if argv is None else argv)]),
            "quick": args.quick, "model": args.model, "prompts": args.prompts,
            "num_prompts": args.num_prompts, "speed_images": args.speed_images,
            "repeats": args.repeats, "seed": args.seed, "fid": args.fid,
            "sampling": {s: next(r["sampling"] for r in rows if r["setting"] == s)
                         for s in args.settings},
            **environment(load_before, args.device),
            "tokens_per_image": rows[0]["speed"]["1"]["tokens_per_image"],
            "total_seconds": time.perf_counter() - start,
        },
        "rows": rows,
        "targets": targets(rows),
    }
    table = markdown(report)
    print(table)
    write_report(args.output, report, table, args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
