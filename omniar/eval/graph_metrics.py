"""Graph generation metrics following the GRAN / SPECTRE / DiGress evaluation code.

Distribution metrics (squared MMD, see ``graph_kernels.compute_mmd``), with the descriptors,
kernels and bandwidths of DiGress's ``spectre_utils.py`` (itself from GRAN):

============  ==========================================================  ===========  =====
metric        descriptor per graph                                        kernel       sigma
============  ==========================================================  ===========  =====
degree        ``nx.degree_histogram`` (normalised to a pmf)               Gaussian TV  1.0
clustering    histogram of ``nx.clustering``, 100 bins on [0, 1] (pmf)    Gaussian TV  0.1
orbit         mean 4-node orbit counts per node (15 values, not a pmf)    Gaussian TV  30.0
spectral      normalised-Laplacian eigenvalues, 200 bins on [-1e-5, 2]    Gaussian TV  1.0
============  ==========================================================  ===========  =====

Empty generated graphs are left out of the MMDs (as in DiGress) and counted in
``num_empty``. Orbits are counted in numpy (``graph_orbits``) rather than with ORCA.

Validity per family (``VALIDITY``): planar = connected and planar; tree = ``nx.is_tree``;
sbm = the SPECTRE/DiGress block-model Wald test, with blocks recovered by networkx's Louvain
community detection instead of graph-tool's ``minimize_blockmodel_dl`` + MCMC refinement
(graph-tool is not pip-installable). The SBM check is therefore an approximation of the
published one: it accepts 64 of the 72 real graphs of the shared SBM val + test splits (the
rejections are Wald-test failures of real graphs, which graph-tool blocks would share, and a
few 19-node blocks).

Uniqueness, novelty and V.U.N. follow DiGress's ``eval_fraction_unique_non_isomorphic_valid``:
a generated graph is unique when not isomorphic to an earlier generated graph, novel when not
isomorphic to any training graph; V.U.N. is the fraction of all generated graphs that are
unique, novel and valid. Isomorphism is decided by ``nx.is_isomorphic`` after
``nx.faster_could_be_isomorphic``, only within buckets of equal Weisfeiler-Lehman hash
(isomorphic graphs always share a hash, so the result is exact, just faster). Node and edge
types are ignored: these are structural metrics.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import networkx as nx
import numpy as np
from scipy.linalg import eigvalsh
from scipy.stats import chi2

from omniar.data.graph_benchmarks import BENCHMARK_FAMILIES
from omniar.eval.graph_kernels import compute_mmd
from omniar.eval.graph_orbits import orbit_counts

DEGREE_SIGMA = 1.0
CLUSTERING_SIGMA = 0.1
CLUSTERING_BINS = 100
ORBIT_SIGMA = 30.0
SPECTRAL_SIGMA = 1.0
SPECTRAL_BINS = 200
SPECTRAL_RANGE = (-1e-5, 2.0)
MMD_METRICS = ("degree", "clustering", "orbit", "spectral")
SBM_VALIDITY_METHOD = "approximate: Louvain communities + SPECTRE/DiGress Wald test"
SBM_LOUVAIN_RESOLUTION = 0.5


# ---------------------------------------------------------------- descriptors


def degree_descriptor(graph: nx.Graph) -> np.ndarray:
    return np.asarray(nx.degree_histogram(graph), dtype=np.float64)


def clustering_descriptor(graph: nx.Graph, bins: int = CLUSTERING_BINS) -> np.ndarray:
    values = list(nx.clustering(graph).values())
    hist, _ = np.histogram(values, bins=bins, range=(0.0, 1.0), density=False)
    return hist.astype(np.float64)


def orbit_descriptor(graph: nx.Graph) -> np.ndarray:
    return orbit_counts(graph).sum(0) / max(graph.number_of_nodes(), 1)


def spectral_descriptor(graph: nx.Graph) -> np.ndarray:
    laplacian = nx.normalized_laplacian_matrix(graph).toarray()
    eigenvalues = eigvalsh(laplacian)
    pmf, _ = np.histogram(eigenvalues, bins=SPECTRAL_BINS, range=SPECTRAL_RANGE, density=False)
    return pmf / pmf.sum()


_MMD_SETTINGS: dict[str, tuple[Callable[[nx.Graph], np.ndarray], float, bool]] = {
    "degree": (degree_descriptor, DEGREE_SIGMA, True),
    "clustering": (clustering_descriptor, CLUSTERING_SIGMA, True),
    "orbit": (orbit_descriptor, ORBIT_SIGMA, False),
    "spectral": (spectral_descriptor, SPECTRAL_SIGMA, True),
}


def graph_mmd(metric: str, generated: Sequence[nx.Graph], reference: Sequence[nx.Graph]) -> float:
    """Squared MMD of one descriptor (``MMD_METRICS``) between generated and reference sets."""
    if metric not in _MMD_SETTINGS:
        raise ValueError(f"metric must be one of {MMD_METRICS}, got {metric!r}")
    describe, sigma, is_hist = _MMD_SETTINGS[metric]
    reference_desc = [describe(g) for g in reference]
    generated_desc = [describe(g) for g in generated if g.number_of_nodes() > 0]
    return compute_mmd(reference_desc, generated_desc, "gaussian_tv", sigma, is_hist)


def degree_mmd(generated: Sequence[nx.Graph], reference: Sequence[nx.Graph]) -> float:
    return graph_mmd("degree", generated, reference)


def clustering_mmd(generated: Sequence[nx.Graph], reference: Sequence[nx.Graph]) -> float:
    return graph_mmd("clustering", generated, reference)


def orbit_mmd(generated: Sequence[nx.Graph], reference: Sequence[nx.Graph]) -> float:
    return graph_mmd("orbit", generated, reference)


def spectral_mmd(generated: Sequence[nx.Graph], reference: Sequence[nx.Graph]) -> float:
    return graph_mmd("spectral", generated, reference)


# ---------------------------------------------------------------- validity


def is_planar_graph(graph: nx.Graph) -> bool:
    """Connected and planar (SPECTRE's planar validity)."""
    if graph.number_of_nodes() == 0:
        return False
    return nx.is_connected(graph) and nx.check_planarity(graph)[0]


def is_tree_graph(graph: nx.Graph) -> bool:
    """A tree (connected, acyclic); the empty graph is not one."""
    return graph.number_of_nodes() > 0 and nx.is_tree(graph)


def sbm_p_value(
    graph: nx.Graph,
    p_intra: float = 0.3,
    p_inter: float = 0.005,
    seed: int = 0,
    resolution: float = SBM_LOUVAIN_RESOLUTION,
) -> tuple[float, np.ndarray]:
    """Mean Wald-test p-value of the recovered block densities, and the block sizes.

    Blocks come from Louvain communities (deterministic for a given ``seed``). The modularity
    resolution is 0.5 rather than networkx's 1.0: at 1.0 Louvain splits about one real block in
    ten of the SBM training graphs into pieces below 20 nodes; anywhere in 0.3-0.7 it recovers
    all blocks of the first 60 training graphs with sizes in 20-40. For each block
    pair the estimated edge density p_hat is compared with the model's p by
    W = (p_hat - p)^2 / (p_hat (1 - p_hat) + 1e-6) and p-value 1 - chi2_1.cdf(W), averaged
    over the full block matrix, as in SPECTRE/DiGress ``is_sbm_graph``.
    """
    if graph.number_of_edges() == 0:
        return 0.0, np.zeros(0, dtype=np.int64)
    communities = nx.community.louvain_communities(graph, resolution=resolution, seed=seed)
    block = {node: b for b, members in enumerate(communities) for node in members}
    sizes = np.array([len(members) for members in communities], dtype=np.float64)
    edges = np.zeros((len(sizes), len(sizes)))
    for u, v in graph.edges:
        edges[block[u], block[v]] += 1
        if block[u] != block[v]:
            edges[block[v], block[u]] += 1
    pairs = np.outer(sizes, sizes)
    np.fill_diagonal(pairs, sizes * (sizes - 1) / 2.0)
    density = edges / (pairs + 1e-6)
    expected = np.full_like(density, p_inter)
    np.fill_diagonal(expected, p_intra)
    wald = (density - expected) ** 2 / (density * (1 - density) + 1e-6)
    return float((1.0 - chi2.cdf(np.abs(wald), 1)).mean()), sizes.astype(np.int64)


def is_sbm_graph(
    graph: nx.Graph, p_intra: float = 0.3, p_inter: float = 0.005, seed: int = 0
) -> bool:
    """The SPECTRE/DiGress strict SBM check (2-5 blocks of 20-40 nodes, mean p-value > 0.9).

    Approximate: blocks are recovered with Louvain rather than graph-tool (module docstring).
    """
    p_value, sizes = sbm_p_value(graph, p_intra, p_inter, seed=seed)
    if not 2 <= len(sizes) <= 5 or (sizes < 20).any() or (sizes > 40).any():
        return False
    return p_value > 0.9


VALIDITY: dict[str, Callable[[nx.Graph], bool]] = {
    "planar": is_planar_graph,
    "tree": is_tree_graph,
    "sbm": is_sbm_graph,
}


# ---------------------------------------------------------------- uniqueness / novelty


class IsomorphismIndex:
    """A set of graphs that answers "is this graph isomorphic to one of yours?"."""

    def __init__(self, graphs: Sequence[nx.Graph] = ()) -> None:
        self._buckets: dict[str, list[nx.Graph]] = {}
        for graph in graphs:
            self.add(graph)

    @staticmethod
    def _key(graph: nx.Graph) -> str:
        with warnings.catch_warnings():
            # networkx >= 3.5 warns that attribute-free hashes changed; we only compare
            # hashes computed by the same networkx, so the change does not matter here.
            warnings.simplefilter("ignore", UserWarning)
            return nx.weisfeiler_lehman_graph_hash(graph, iterations=3)

    def add(self, graph: nx.Graph) -> None:
        self._buckets.setdefault(self._key(graph), []).append(graph)

    def contains(self, graph: nx.Graph) -> bool:
        for other in self._buckets.get(self._key(graph), ()):
            if nx.faster_could_be_isomorphic(graph, other) and nx.is_isomorphic(graph, other):
                return True
        return False


def uniqueness_novelty(
    generated: Sequence[nx.Graph],
    train: Sequence[nx.Graph],
    validity: Callable[[nx.Graph], bool] | None = None,
) -> dict[str, float | None]:
    """Fractions of generated graphs that are unique, novel, unique & novel, and V.U.N.

    Returns ``uniqueness``, ``novelty`` (not isomorphic to a training graph, over all generated
    graphs), ``unique_novel``, ``validity`` and ``vun`` (``None`` without a validity function).
    """
    total = len(generated)
    if total == 0:
        return {k: None for k in ("uniqueness", "novelty", "unique_novel", "validity", "vun")}
    training = IsomorphismIndex(train)
    seen = IsomorphismIndex()
    unique = novel = unique_novel = valid = vun = 0
    for graph in generated:
        is_novel = not training.contains(graph)
        is_unique = not seen.contains(graph)
        is_valid = validity(graph) if validity is not None else False
        if is_unique:
            seen.add(graph)
        unique += is_unique
        novel += is_novel
        unique_novel += is_unique and is_novel
        valid += is_valid
        vun += is_unique and is_novel and is_valid
    return {
        "uniqueness": unique / total,
        "novelty": novel / total,
        "unique_novel": unique_novel / total,
        "validity": valid / total if validity is not None else None,
        "vun": vun / total if validity is not None else None,
    }


def evaluate_graphs(
    generated: Sequence[nx.Graph],
    reference: Sequence[nx.Graph],
    train: Sequence[nx.Graph],
    family: str | None = None,
    metrics: Sequence[str] = MMD_METRICS,
) -> dict[str, float | int | str | None]:
    """All metrics of one generated set, as in the DiGress/SPECTRE tables.

    Args:
        generated: the generated graphs.
        reference: graphs the MMDs compare against (the benchmark's test split).
        train: training graphs, for novelty.
        family: the benchmark family (``BENCHMARK_FAMILIES``). Validity and V.U.N. are
            measured for the families in ``VALIDITY``; for ``"community"`` (no validity test in
            the literature) and ``None`` they are reported as ``None``.
        metrics: which MMDs to compute (subset of ``MMD_METRICS``).

    Returns a flat dict: the MMDs (NaN when no non-empty graph was generated),
    ``validity``, ``uniqueness``, ``novelty``, ``unique_novel``, ``vun``, ``num_generated``,
    ``num_empty``, ``family`` and, for SBM, ``validity_method``.
    """
    if family is not None and family not in BENCHMARK_FAMILIES:
        raise ValueError(f"family must be one of {BENCHMARK_FAMILIES} or None, got {family!r}")
    if not reference:
        raise ValueError("reference must hold at least one graph")
    results: dict[str, float | int | str | None] = {
        "family": family,
        "num_generated": len(generated),
        "num_empty": sum(1 for g in generated if g.number_of_nodes() == 0),
    }
    for metric in metrics:
        results[metric] = graph_mmd(metric, generated, reference)
    results.update(uniqueness_novelty(generated, train, VALIDITY.get(family)))
    if family == "sbm":
        results["validity_method"] = SBM_VALIDITY_METHOD
    return results
