"""Detached parts of a study area, each analysed on a lattice of its own.

A prefecture-level city is not one blob: Jilin City's county-level cities lie tens of
kilometres from its urban districts (舒兰市 about 70 km). One lattice over their bounding box
would be almost all empty land between them, and its cells would grow or be refused with it.
Reports are grouped instead into parts no nearer to one another than the reach of a lattice's
work (a kernel's margin, DBSCAN's eps), and every part gets a lattice over itself alone. For
DBSCAN's neighbour counts the parts are exactly independent; a kernel density is a sum over
reports, so the parts' surfaces add up to the whole city's.

Parts are the 8-connected components of the occupied square blocks of side `gap`: two points
nearer than `gap` fall in touching blocks, so they share a part (scipy.ndimage.label). The
gap is at least MIN_GAP_M (`detached`): parts are the city's detached pieces, not every
scattered report."""

from __future__ import annotations

import numpy as np
import shapely
from scipy.ndimage import label

MAX_BLOCKS = 4_000_000  # blocks grow past `gap` before the occupancy lattice outgrows this
# Parts nearer than this are one: a lattice per scattered handful of reports would cost more
# in its per-lattice work than the empty cells it spares.
MIN_GAP_M = 2_000.0


def detached(reach_m: float) -> float:
    """The gap between parts for an analysis whose lattice work reaches `reach_m`."""
    return max(reach_m, MIN_GAP_M)


def split(x: np.ndarray, y: np.ndarray, gap: float) -> np.ndarray:
    """Each point's part (0, 1, ... in order of the part's first point): points nearer than
    `gap` share a part, and so may points up to two blocks apart."""
    n = len(x)
    if n == 0:
        return np.zeros(0, np.int64)
    x0, y0 = float(np.min(x)), float(np.min(y))
    width, height = float(np.max(x)) - x0, float(np.max(y)) - y0
    block = max(gap, float(np.sqrt(width * height / MAX_BLOCKS)), 1e-9)
    col = np.floor((x - x0) / block).astype(np.int64)
    row = np.floor((y - y0) / block).astype(np.int64)
    occupied = np.zeros((int(row.max()) + 1, int(col.max()) + 1), bool)
    occupied[row, col] = True
    components, _count = label(occupied, structure=np.ones((3, 3), bool))
    raw = components[row, col] - 1
    # Number the parts in order of their first point, whatever the scan order of the blocks.
    _u, first = np.unique(raw, return_index=True)
    rank = np.empty(len(first), np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[raw]


def boxes(outline_m, gap: float) -> list[tuple[float, float, float, float]]:
    """Bounding boxes (minx, miny, maxx, maxy, metres) of an outline's parts, the polygons
    whose boxes come within `gap` of one another grouped as one; what `split` makes of the
    outline's points lies inside them."""
    polygons = shapely.get_parts(outline_m)
    polygons = polygons[~shapely.is_empty(polygons)]
    if not len(polygons):
        return []
    grown = shapely.buffer(shapely.box(*shapely.bounds(polygons).T), gap / 2, join_style="mitre")
    groups = shapely.get_parts(shapely.union_all(grown))
    member = shapely.STRtree(groups).query(shapely.point_on_surface(polygons),
                                           predicate="within")
    out = []
    for g in range(len(groups)):
        bounds = shapely.bounds(polygons[member[0][member[1] == g]])
        out.append((float(bounds[:, 0].min()), float(bounds[:, 1].min()),
                    float(bounds[:, 2].max()), float(bounds[:, 3].max())))
    return out
