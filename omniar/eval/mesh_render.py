"""PNG previews of meshes with matplotlib's mplot3d (software rendering, no OpenGL needed).

trimesh's own scene renderer needs pyglet and an OpenGL context, which headless machines and
CI lack, so previews use matplotlib (an optional dependency: ``pip install matplotlib``).
Faces are flat-shaded by their normal against a fixed light; z is up.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import trimesh

_LIGHT = np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8])


def _pyplot():
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError("PNG mesh previews need matplotlib: pip install matplotlib") from exc
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _draw(ax, mesh: trimesh.Trimesh, title: str | None, elev: float, azim: float) -> None:
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    ax.set_axis_off()
    ax.view_init(elev=elev, azim=azim)
    if title:
        ax.set_title(title, fontsize=9)
    if len(mesh.faces) == 0:
        ax.text2D(0.5, 0.5, "(no faces)", ha="center", transform=ax.transAxes)
        return
    shade = 0.35 + 0.65 * np.clip(mesh.face_normals @ _LIGHT, 0, 1)
    colors = np.column_stack([0.35 * shade, 0.55 * shade, 0.85 * shade, np.ones_like(shade)])
    ax.add_collection3d(Poly3DCollection(mesh.triangles, facecolors=colors,
                                         edgecolors=(0, 0, 0, 0.25), linewidths=0.3))
    low, high = mesh.bounds
    center, half = (low + high) / 2, max(float((high - low).max()) / 2, 1e-9)
    ax.set_xlim(center[0] - half, center[0] + half)
    ax.set_ylim(center[1] - half, center[1] + half)
    ax.set_zlim(center[2] - half, center[2] + half)
    ax.set_box_aspect((1, 1, 1))


def render_meshes(
    meshes: Sequence[trimesh.Trimesh],
    path: str | Path | None = None,
    titles: Sequence[str] | None = None,
    columns: int = 4,
    tile_size: int = 256,
    elev: float = 25.0,
    azim: float = -60.0,
) -> bytes:
    """Render ``meshes`` side by side into one PNG; write it to ``path`` if given.

    Returns the PNG bytes. ``titles`` (one per mesh) label the tiles.
    """
    if len(meshes) == 0:
        raise ValueError("meshes: need at least one mesh to render")
    if titles is not None and len(titles) != len(meshes):
        raise ValueError(f"titles: expected {len(meshes)} titles, got {len(titles)}")
    plt = _pyplot()
    columns = max(1, min(columns, len(meshes)))
    rows = -(-len(meshes) // columns)
    dpi = 100
    figure = plt.figure(figsize=(columns * tile_size / dpi, rows * tile_size / dpi), dpi=dpi)
    try:
        for index, mesh in enumerate(meshes):
            ax = figure.add_subplot(rows, columns, index + 1, projection="3d")
            _draw(ax, mesh, titles[index] if titles else None, elev, azim)
        figure.subplots_adjust(0, 0, 1, 0.95 if titles else 1, 0, 0.05)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=dpi)
    finally:
        plt.close(figure)
    data = buffer.getvalue()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(data)
    return data


def render_mesh(mesh: trimesh.Trimesh, path: str | Path | None = None, **kwargs) -> bytes:
    """Render one mesh to PNG bytes (written to ``path`` if given); see :func:`render_meshes`."""
    return render_meshes([mesh], path, **kwargs)
