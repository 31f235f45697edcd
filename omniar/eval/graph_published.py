"""Published graph-generation figures on the SPECTRE benchmarks, and the comparison table.

Every number below is the squared MMD (``graph_kernels.compute_mmd``, test split as reference)
or the V.U.N. fraction as printed in the cited paper. ``None`` means we do not have a figure we
are sure of: no number is filled in from memory of a different table or estimated.

Provenance: the planar and SBM rows of GraphRNN, GRAN, SPECTRE and DiGress are DiGress's
Table 2 (Vignac et al., "DiGress: Discrete Denoising diffusion for graph generation", ICLR
2023), which reports degree, clustering and orbit MMD and V.U.N. but no spectral MMD. They were
transcribed from the paper without being re-checked against its text in this repository's
build environment (the reference search available there did not surface the table), hence
``checked=False``: check them against the PDF before quoting them, then set ``checked=True``.
Tree figures (introduced by Bergmeister et al., ICLR 2024, "Efficient and Scalable Graph
Generation through Iterative Local Expansion") and G2PT's figures (Chen et al., 2025, "Graph
Generative Pre-trained Transformer") are left as ``None`` for the same reason.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DIGRESS_TABLE_2 = "Vignac et al., DiGress, ICLR 2023, Table 2"
BERGMEISTER_2024 = "Bergmeister et al., Iterative Local Expansion, ICLR 2024"
G2PT_2025 = "Chen et al., G2PT, 2025"
FAMILIES = ("planar", "tree", "sbm")
COLUMNS = (
    ("degree", "Deg. ↓"),
    ("clustering", "Clus. ↓"),
    ("orbit", "Orbit ↓"),
    ("spectral", "Spec. ↓"),
    ("vun", "V.U.N. ↑"),
)


@dataclass(frozen=True)
class PublishedResult:
    """One model's published figures on one benchmark family (``None``: not known to us)."""

    model: str
    family: str
    degree: float | None
    clustering: float | None
    orbit: float | None
    spectral: float | None
    vun: float | None
    source: str
    checked: bool = False


def _unknown(model: str, family: str, source: str) -> PublishedResult:
    return PublishedResult(model, family, None, None, None, None, None, source)


PUBLISHED_RESULTS: tuple[PublishedResult, ...] = (
    PublishedResult("GraphRNN", "planar", 0.0049, 0.2779, 1.2543, None, 0.00, DIGRESS_TABLE_2),
    PublishedResult("GRAN", "planar", 0.0007, 0.0426, 0.0009, None, 0.00, DIGRESS_TABLE_2),
    PublishedResult("SPECTRE", "planar", 0.0005, 0.0785, 0.0012, None, 0.25, DIGRESS_TABLE_2),
    PublishedResult("DiGress", "planar", 0.0007, 0.0780, 0.0079, None, 0.75, DIGRESS_TABLE_2),
    _unknown("G2PT", "planar", G2PT_2025),
    PublishedResult("GraphRNN", "sbm", 0.0055, 0.0584, 0.0785, None, 0.05, DIGRESS_TABLE_2),
    PublishedResult("GRAN", "sbm", 0.0113, 0.0553, 0.0540, None, 0.25, DIGRESS_TABLE_2),
    PublishedResult("SPECTRE", "sbm", 0.0015, 0.0521, 0.0412, None, 0.53, DIGRESS_TABLE_2),
    PublishedResult("DiGress", "sbm", 0.0013, 0.0498, 0.0433, None, 0.74, DIGRESS_TABLE_2),
    _unknown("G2PT", "sbm", G2PT_2025),
    _unknown("GraphRNN", "tree", BERGMEISTER_2024),
    _unknown("GRAN", "tree", BERGMEISTER_2024),
    _unknown("SPECTRE", "tree", BERGMEISTER_2024),
    _unknown("DiGress", "tree", BERGMEISTER_2024),
    _unknown("G2PT", "tree", G2PT_2025),
)


def published_results(family: str) -> list[PublishedResult]:
    """The published rows for ``family`` (``"planar"``, ``"tree"`` or ``"sbm"``)."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    return [row for row in PUBLISHED_RESULTS if row.family == family]


def _cell(key: str, value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if key == "vun":
        return f"{100.0 * float(value):.1f}%"
    value = float(value)
    return f"{value:.4f}" if value == 0.0 or value >= 1e-4 else f"{value:.1e}"


def markdown_table(ours: Mapping[str, object], family: str, model_name: str = "omniar") -> str:
    """A markdown table with our row (from ``evaluate_graphs``) under the published ones."""
    header = "| Model | " + " | ".join(title for _, title in COLUMNS) + " | Source |"
    lines = [header, "|" + "---|" * (len(COLUMNS) + 2)]
    unchecked = False
    for row in published_results(family):
        has_figures = any(getattr(row, key) is not None for key, _ in COLUMNS)
        mark = " *" if has_figures and not row.checked else ""
        unchecked |= bool(mark)
        cells = " | ".join(_cell(key, getattr(row, key)) for key, _ in COLUMNS)
        lines.append(f"| {row.model} | {cells} | {row.source}{mark} |")
    cells = " | ".join(_cell(key, ours.get(key)) for key, _ in COLUMNS)
    lines.append(f"| **{model_name}** | {cells} | this run |")
    lines.append("")
    lines.append(
        f"Published rows: {family} test split; MMD is squared MMD with the GRAN/DiGress "
        "Gaussian-TV kernels; n/a: no figure we are sure of."
    )
    if unchecked:
        lines.append("* transcribed from the paper but not re-checked against it; verify first.")
    if ours.get("validity_method"):
        lines.append(f"Our validity: {ours['validity_method']}.")
    return "\n".join(lines) + "\n"


def write_report(
    results: Mapping[str, object],
    json_path: str | Path,
    markdown_path: str | Path | None = None,
    model_name: str = "omniar",
) -> None:
    """Write ``evaluate_graphs`` results as JSON (NaN as null) and, optionally, the table."""
    clean = {
        key: None if isinstance(value, float) and math.isnan(value) else value
        for key, value in results.items()
    }
    Path(json_path).write_text(json.dumps(clean, indent=2) + "\n", encoding="utf-8")
    if markdown_path is not None:
        family = results.get("family")
        if family not in FAMILIES:
            raise ValueError(
                f"results['family'] must be one of {FAMILIES} for the table, got {family!r}"
            )
        Path(markdown_path).write_text(
            markdown_table(results, str(family), model_name), encoding="utf-8"
        )
