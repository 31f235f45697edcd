"""Which quantised vertices the next vertex of a face may be, token by token (z, then y, then x).

A generated vertex is three coordinate tokens. `VertexRule` holds the constraints on one vertex
(a lower bound in the canonical (z, y, x) order, a set of excluded vertices, and a line it must
not lie on, which would make the face degenerate) and turns them into an allowed-level mask
for each of its three tokens. Each mask only allows a level from which the vertex can still be
completed: the z mask checks the plane of the bound's z exactly (every other plane above it
has far more free points than the few the rule excludes), and the y and x masks are exact.
Planes are built from the constraints directly (a bound, a few points, a line's crossing),
not by testing every point, because the grammar asks for them at nearly every step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def vertex_key(levels: int, vertex: tuple[int, int, int]) -> int:
    """Key of a (z, y, x) vertex; keys compare like the vertices in (z, y, x) order."""
    z, y, x = vertex
    return (z * levels + y) * levels + x


def key_vertex(levels: int, key: int) -> tuple[int, int, int]:
    """Inverse of :func:`vertex_key`."""
    return key // (levels * levels), (key // levels) % levels, key % levels


@dataclass
class VertexRule:
    """Constraints on one vertex.

    Attributes:
        levels: quantisation levels per axis.
        lower: the vertex key must be above this key (``strict``) or not below it; None: free.
        excluded: vertex keys it may not be.
        line: two (z, y, x) points it must not be collinear with (a zero-area face).
    """

    levels: int
    lower: int | None = None
    strict: bool = False
    excluded: set[int] = field(default_factory=set)
    line: tuple[np.ndarray, np.ndarray] | None = None
    _planes: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    def raise_bound(self, key: int, strict: bool) -> None:
        """Tighten the lower bound to ``key`` when that is the tighter one."""
        if self.lower is None or (key, strict) > (self.lower, self.strict):
            self.lower, self.strict = key, strict
            self._planes.clear()

    def _line_in_plane(self, z: int, grid: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """(L, L) bool over (y, x): the points of the plane at ``z`` on the forbidden line."""
        on_line = np.zeros((self.levels, self.levels), dtype=bool)
        a, b = self.line
        d = b - a
        if d[0] == 0:
            if a[0] == z:
                y, x = grid
                on_line = (y - a[1]) * d[2] - (x - a[2]) * d[1] == 0
            return on_line
        offset = z - a[0]
        if (offset * d[1]) % d[0] == 0 and (offset * d[2]) % d[0] == 0:
            y, x = a[1] + offset * d[1] // d[0], a[2] + offset * d[2] // d[0]
            if 0 <= y < self.levels and 0 <= x < self.levels:
                on_line[y, x] = True
        return on_line

    def plane(self, z: int) -> np.ndarray:
        """(L, L) bool over (y, x): which vertices (z, y, x) the rule accepts (cached per z)."""
        if z in self._planes:
            return self._planes[z]
        levels = self.levels
        grid = np.meshgrid(np.arange(levels), np.arange(levels), indexing="ij")
        ok = np.ones((levels, levels), dtype=bool)
        if self.lower is not None:
            bound_z, bound_y, bound_x = key_vertex(levels, self.lower)
            if z < bound_z:
                ok[:] = False
            elif z == bound_z:
                keys = grid[0] * levels + grid[1]
                bound = bound_y * levels + bound_x
                ok &= keys > bound if self.strict else keys >= bound
        for key in self.excluded:
            excluded_z, y, x = key_vertex(levels, key)
            if excluded_z == z:
                ok[y, x] = False
        if self.line is not None:
            ok &= ~self._line_in_plane(z, grid)
        self._planes[z] = ok
        return ok

    def accepts(self, vertex: tuple[int, int, int]) -> bool:
        """Whether the rule accepts the (z, y, x) vertex."""
        z, y, x = vertex
        return bool(self.plane(z)[y, x])

    def allowed(self, prefix: list[int]) -> np.ndarray:
        """(L,) bool: allowed levels of the next token after the vertex's tokens ``prefix``."""
        if len(prefix) == 2:
            return self.plane(prefix[0])[prefix[1]]
        if len(prefix) == 1:
            return self.plane(prefix[0]).any(axis=1)
        levels = np.arange(self.levels)
        if self.lower is None:
            return np.ones(self.levels, dtype=bool)
        bound_z = key_vertex(self.levels, self.lower)[0]
        mask = levels > bound_z
        mask[bound_z] = self.plane(bound_z).any()
        return mask
