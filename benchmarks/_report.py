"""What every benchmark script records beside its figures, and how it writes them.

The machine these run on is often shared, so each report carries the load average before and
after the run, the thread count and the library versions that produced its figures.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

import torch


def load_average() -> str:
    """`uptime`'s load averages (1, 5, 15 min): the machine may be shared."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo where it exists (Linux), else the architecture."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def environment(load_before: str, device: str | None = None) -> dict[str, Any]:
    """Versions, threads, CPU and load: call at the end of the run (it reads the load after)."""
    return {
        "torch": torch.__version__, "python": platform.python_version(),
        "threads": torch.get_num_threads(), "cpus": os.cpu_count(), "processor": cpu_name(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "device": device or "cpu",
        "load_before": load_before, "load_after": load_average(),
    }


def environment_line(env: dict[str, Any]) -> str:
    """`environment()` as the sentence under a results table."""
    return (f"torch {env['torch']}, {env['threads']} thread(s), {env['cpus']} CPU(s) "
            f"({env['processor']}), device {env['device']}; load average before: "
            f"{env['load_before']}, after: {env['load_after']} (shared machine: wall times are "
            "noisy).")


def inception_features(fid: bool, device: str | None):
    """The Inception feature extractor when FID is asked for, else None (it is slow to load)."""
    if not fid:
        return None
    from omniar.eval.image_fid import InceptionFeatures

    return InceptionFeatures(device=device)


def write_report(output: Path | None, report: dict[str, Any], table: str, quick: bool = False) -> None:
    """`output`.json and `output`.md, or a note that a quick run writes nothing."""
    if output is None:
        if quick:
            print("QUICK MODE: no result files written (pass --output PREFIX to write them)")
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    output.with_suffix(".md").write_text(table)
    print(f"wrote {output.with_suffix('.json')} and {output.with_suffix('.md')}")
