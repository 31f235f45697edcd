"""The train / val / test splits of the graph benchmarks (SPECTRE planar, SBM, tree, community-small).

Planar, SBM and tree come as one file per split, ``{family}_{split}.jsonl``. Community-small
comes as one file of 100 graphs (``community_small.jsonl``, as SPECTRE ships it) that each
paper splits itself; ``split_indices`` cuts it the way DiGress and SPECTRE do: 20% test, 80% of
the rest train and the remainder validation (64 / 16 / 20 graphs), over a fixed random
permutation. The permutation is torch's ``randperm`` with seed 0, so the split is the same on
every machine; which graphs land in the test split may differ from a paper's own run, since
that depends on its file order and generator.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import networkx as nx

# torch and the graph readers are imported where they are used, so that the family names here
# can be imported by torch-free modules (omniar.eval.graph_metrics) without loading torch.

SPLITS = ("train", "val", "test")
BENCHMARK_FAMILIES = ("planar", "tree", "sbm", "community")
WHOLE_SET_FILES = {"community": "community_small.jsonl"}
SPLIT_SEED = 0


def split_indices(num_graphs: int, seed: int = SPLIT_SEED) -> dict[str, list[int]]:
    """Indices of the train / val / test parts of a data set of ``num_graphs`` graphs."""
    import torch

    if num_graphs < 3:
        raise ValueError(f"need at least 3 graphs to split into train/val/test, got {num_graphs}")
    num_test = round(num_graphs * 0.2)
    num_train = round((num_graphs - num_test) * 0.8)
    order = torch.randperm(num_graphs, generator=torch.Generator().manual_seed(seed)).tolist()
    return {
        "train": order[:num_train],
        "val": order[num_train : num_graphs - num_test],
        "test": order[num_graphs - num_test :],
    }


def _find(root: Path, name: str) -> Path | None:
    for folder in (root / "graphs", root):
        if (folder / name).is_file():
            return folder / name
    return None


def _locate(data_root: str | Path, family: str, split: str) -> tuple[Path, bool]:
    """The file holding ``split`` and whether it is a whole set that must be cut."""
    _check(family, split)
    root = Path(data_root)
    path = _find(root, f"{family}_{split}.jsonl")
    if path is not None:
        return path, False
    whole = WHOLE_SET_FILES.get(family)
    path = _find(root, whole) if whole else None
    if path is not None:
        return path, True
    expected = f"{family}_{split}.jsonl" + (f" or {whole}" if whole else "")
    raise ValueError(f"data root {root}: no {expected} in {root / 'graphs'} or {root}")


def benchmark_source(data_root: str | Path, family: str, split: str) -> str:
    """Where a split comes from, for reports: a file, or ``file[split]`` for a cut whole set."""
    path, cut = _locate(data_root, family, split)
    return f"{path}[{split}]" if cut else str(path)


def load_benchmark_split(data_root: str | Path, family: str, split: str) -> list[nx.Graph]:
    """The graphs of one split of a benchmark family, read from ``data_root`` (or its ``graphs/``)."""
    from omniar.data.graph_files import load_graphs

    path, cut = _locate(data_root, family, split)
    graphs = load_graphs(path)
    return [graphs[i] for i in split_indices(len(graphs))[split]] if cut else graphs


def _check(family: str, split: str) -> None:
    if family not in BENCHMARK_FAMILIES:
        raise ValueError(f"family must be one of {BENCHMARK_FAMILIES}, got {family!r}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
