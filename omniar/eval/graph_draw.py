"""PNG drawings of graphs: a grid of small node-link diagrams (networkx + matplotlib).

Used by `omniar generate graph --png` and for model cards. matplotlib runs on its
non-interactive Agg backend, so no display is needed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import networkx as nx

LAYOUTS: dict[str, Callable[..., dict]] = {
    "spring": lambda graph, seed: nx.spring_layout(graph, seed=seed),
    "kamada_kawai": lambda graph, seed: nx.kamada_kawai_layout(graph),
    "circular": lambda graph, seed: nx.circular_layout(graph),
    "spectral": lambda graph, seed: nx.spectral_layout(graph),
}


def graph_layout(graph: nx.Graph, layout: str = "auto", seed: int = 0) -> dict:
    """Node positions. `"auto"`: a planar embedding drawn with spring layout started from it
    when the graph is planar (fewer crossings), Kamada-Kawai for trees, spring otherwise."""
    if layout not in LAYOUTS and layout != "auto":
        raise ValueError(f"layout must be 'auto' or one of {sorted(LAYOUTS)}, got {layout!r}")
    if graph.number_of_nodes() == 0:
        return {}
    if layout != "auto":
        return LAYOUTS[layout](graph, seed)
    if nx.is_tree(graph):
        return nx.kamada_kawai_layout(graph)
    if nx.check_planarity(graph)[0]:
        return nx.spring_layout(graph, pos=nx.planar_layout(graph), seed=seed, iterations=30)
    return nx.spring_layout(graph, seed=seed)


def draw_graphs(
    graphs: Sequence[nx.Graph],
    path: str | Path,
    columns: int | None = None,
    titles: Sequence[str] | None = None,
    layout: str = "auto",
    cell_size: float = 2.2,
    seed: int = 0,
) -> Path:
    """Draw `graphs` in a grid and write a PNG to `path`; returns the path.

    Args:
        graphs: networkx graphs (node attribute ``"type"``, when present, colours the nodes).
        path: output file, should end in ``.png``.
        columns: grid width (default: about the square root of the count, at most 8).
        titles: one caption per graph (default: node and edge counts).
        layout: ``"auto"`` or one of ``LAYOUTS``.
        cell_size: inches per grid cell.
        seed: layout seed (same seed, same picture).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not graphs:
        raise ValueError("graphs must hold at least one graph to draw")
    if titles is not None and len(titles) != len(graphs):
        raise ValueError(f"titles has {len(titles)} entries for {len(graphs)} graphs")
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"path must end in .png, got {str(path)!r}")
    count = len(graphs)
    columns = columns or min(8, max(1, round(count**0.5 + 0.49)))
    if columns < 1:
        raise ValueError(f"columns must be >= 1, got {columns}")
    rows = -(-count // columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(cell_size * columns, cell_size * rows), squeeze=False
    )
    for i, axis in enumerate(axes.flat):
        axis.set_axis_off()
        if i >= count:
            continue
        graph = graphs[i]
        colours = [data.get("type", 0) for _, data in graph.nodes(data=True)]
        nx.draw_networkx(
            graph, pos=graph_layout(graph, layout, seed), ax=axis, with_labels=False,
            node_size=12, width=0.6, node_color=colours, cmap="tab10", vmin=0, vmax=9,
            edge_color="#555555",
        )
        title = titles[i] if titles is not None else (
            f"n={graph.number_of_nodes()} m={graph.number_of_edges()}"
        )
        axis.set_title(title, fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=100)
    plt.close(figure)
    return path
