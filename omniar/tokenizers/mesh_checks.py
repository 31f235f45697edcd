"""Validity checks on one triangle mesh: faces present, no degenerate faces, consistent
winding, watertight.

They sit beside the mesh tokenizer (not with the metrics in `omniar.eval.mesh_metrics`, which
re-exports them) because the mesh pipeline checks every decoded sample with them.
"""

from __future__ import annotations

import numpy as np
import trimesh


def mesh_validity(mesh: trimesh.Trimesh, expect_watertight: bool = True) -> dict[str, bool]:
    """Checks on one mesh: faces present, no degenerate faces, consistent winding, watertight.

    ``valid`` requires all of them, watertightness only when ``expect_watertight``.
    """
    has_faces = len(mesh.faces) > 0
    faces = np.asarray(mesh.faces)
    repeated = has_faces and bool(
        ((faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2]) | (faces[:, 0] == faces[:, 2]))
        .any()
    )
    areas = mesh.area_faces if has_faces else np.zeros(0)
    nondegenerate = has_faces and not repeated and bool((areas > 1e-12).all())
    winding = has_faces and bool(mesh.is_winding_consistent)
    watertight = has_faces and bool(mesh.is_watertight)
    valid = nondegenerate and winding and (watertight or not expect_watertight)
    return {"has_faces": has_faces, "nondegenerate": nondegenerate,
            "winding_consistent": winding, "watertight": watertight, "valid": valid}
