"""A built wheel carries the embedded models: installed into a fresh virtual environment (outside
the checkout, without the editable install), `omniar generate image` and `omniar.load` work.

The fresh environment reuses the installed dependencies through a .pth file that lists this
environment's site-packages folders. Python does not process .pth files inside folders added
that way, so the editable install's finder (a .pth hook) is not active there: `omniar` can only
come from the wheel, which the test asserts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "*.pyc", ".pytest_cache",
    ".ruff_cache", "runs",
)


def run(command: list, cwd: Path, env: dict | None = None) -> str:
    result = subprocess.run([str(part) for part in command], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def site_folders() -> list[str]:
    """The site-packages folders this interpreter imports the dependencies from."""
    return [entry for entry in sys.path
            if Path(entry).name in ("site-packages", "dist-packages") and Path(entry).is_dir()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the checkout (so no stale build/ folder can leak into it)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(REPO, source, ignore=NOT_SOURCE)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", work / "dist", source], cwd=work)
    (built,) = (work / "dist").glob("omniar-*.whl")
    return built


@pytest.fixture(scope="module")
def fresh_env(wheel, tmp_path_factory) -> tuple[Path, dict]:
    """(bin folder, environment variables) of a fresh venv with the wheel installed."""
    work = tmp_path_factory.mktemp("venv")
    venv = work / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=work)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / ("python.exe" if os.name == "nt" else "python")
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
         "-q", wheel], cwd=work)
    purelib = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=work)
    Path(purelib.strip(), "omniar_test_dependencies.pth").write_text("\n".join(site_folders()) + "\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    # One intra-op thread: on a busy machine more threads stall each other (30x slower decoding).
    env.update(PYTHONNOUSERSITE="1", HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1",
               PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}")
    return bin_dir, env


def test_wheel_holds_every_model_file(wheel):
    shipped = {path.relative_to(REPO / "assets").as_posix() for path in (REPO / "assets").rglob("*")
               if path.is_file() and "__pycache__" not in path.parts}
    with zipfile.ZipFile(wheel) as archive:
        names = {name.removeprefix("omniar_models/") for name in archive.namelist()
                 if name.startswith("omniar_models/")}
    assert "emoji-t2i/transformer/diffusion_pytorch_model.safetensors" in shipped
    assert shipped - names == set()
    assert not any(name.endswith(".pyc") for name in names)


def test_installed_wheel_generates_without_the_checkout(fresh_env, tmp_path):
    bin_dir, env = fresh_env
    python = bin_dir / ("python.exe" if os.name == "nt" else "python")
    report = run([python, "-c", (
        "import omniar, omniar_models\n"
        "from omniar.assets import embedded_models\n"
        "pipe = omniar.load('emoji-t2i')\n"
        "print(omniar.__file__); print(omniar_models.__file__)\n"
        "print(type(pipe).__name__, len(embedded_models()))\n"
    )], cwd=tmp_path, env=env).splitlines()
    venv = bin_dir.parent.resolve()
    assert Path(report[-3]).resolve().is_relative_to(venv), report
    assert Path(report[-2]).resolve().is_relative_to(venv), report
    assert report[-1].startswith("ImagePipeline ") and int(report[-1].split()[1]) >= 1

    run([bin_dir / "omniar", "generate", "image", "red apple", "--out", "x.png"], cwd=tmp_path, env=env)
    with Image.open(tmp_path / "x.png") as image:
        assert image.size[0] > 0 and image.size[1] > 0
