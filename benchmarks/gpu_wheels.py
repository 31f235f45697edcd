"""Prepare the wheels `benchmarks/gpu_check.sh` installs on an accelerator without network.

Walks the requirements of `omniar[bench]` plus pytest in this environment, leaves out the torch
family (the accelerator image brings its CUDA build: torch, torchvision, torchaudio, triton,
nvidia-*), pins each to the version installed here, and downloads those wheels (no dependency
resolution, so pip never pulls a CPU torch) plus a wheel of omniar itself (with its embedded models):

    python benchmarks/gpu_wheels.py                          # -> wheels/ for this Python/platform
    python benchmarks/gpu_wheels.py --python-version 3.10    # for an image with another Python

It runs `pip download -d wheels --no-deps --only-binary=:all: -r wheels/requirements.txt` and
`pip wheel --no-deps -w wheels .`; the device tool carries the ignored folder with `carry: ["wheels"]`.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

SKIP = re.compile(r"^(torch|torchvision|torchaudio|triton|nvidia-.*|pytorch-triton.*)$")
ROOTS = ["omniar[bench]", "pytest"]


def closure(roots: list[str]) -> dict[str, str]:
    """Installed name -> version for `roots` and everything they require here (extras followed)."""
    from packaging.requirements import Requirement

    found: dict[str, str] = {}
    todo = [Requirement(root) for root in roots]
    seen: set[tuple[str, frozenset]] = set()
    while todo:
        requirement = todo.pop()
        key = re.sub(r"[-_.]+", "-", requirement.name).lower()
        if SKIP.match(key) or (key, frozenset(requirement.extras)) in seen:
            continue
        seen.add((key, frozenset(requirement.extras)))
        try:
            dist = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            continue
        found[key] = dist.version
        for text in dist.requires or []:
            child = Requirement(text)
            if child.marker is None or any(child.marker.evaluate({"extra": extra})
                                           for extra in requirement.extras or {""}):
                todo.append(child)
    return found

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", type=Path, default=Path("wheels"))
    parser.add_argument("--python-version", default=None, help="e.g. 3.10 (default: this Python)")
    parser.add_argument("--platform", default=None, help="e.g. manylinux2014_x86_64 (default: this one)")
    args = parser.parse_args()
    args.dest.mkdir(parents=True, exist_ok=True)
    pins = {name: version for name, version in closure(ROOTS).items() if name != "omniar"}
    requirements = args.dest / "requirements.txt"
    requirements.write_text("".join(f"{name}=={version}\n" for name, version in sorted(pins.items())))
    target = []
    if args.python_version:
        target += ["--python-version", args.python_version]
    if args.platform:
        target += ["--platform", args.platform]
    pip = [sys.executable, "-m", "pip"]
    subprocess.run([*pip, "download", "-d", str(args.dest), "--no-deps", "--only-binary=:all:", *target,
                    "-r", str(requirements)], check=True)
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(args.dest), "."], check=True)
    print(f"{len(pins)} dependency wheels + omniar in {args.dest}; carry it to the device as 'wheels'")


if __name__ == "__main__":
    main()
