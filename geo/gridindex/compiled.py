"""The exact test compiled with numba, for batches large enough to pay for its start (about
half a second in a fresh process, see `GridIndex`): an even-odd crossing test over each
candidate's rings in which every decision is certain, or left UNSURE for GEOS to settle.

Certain: each orientation sign is trusted only beyond Shewchuk's error bound for
`orient2d` ((3 + 16e)e of the terms' magnitudes, e = 2^-53), so the answers are those of
an exact predicate, GEOS's. A point on an edge, or closer to one than the bound, is
UNSURE: the boundary (and the tie rule on it) is always GEOS's call."""

from __future__ import annotations

import numba
import numpy as np

UNSURE = -3
_ERRBOUND = (3.0 + 16.0 * 2.0**-53) * 2.0**-53


@numba.njit(cache=True, nogil=True)
def _covers(px, py, e_start, e_end, x1, y1, x2, y2):
    """0 outside, 1 inside the rings whose edges are e_start..e_end, 2 unsure."""
    inside = False
    for e in range(e_start, e_end):
        ax, ay, bx, by = x1[e], y1[e], x2[e], y2[e]
        straddles = (ay > py) != (by > py)
        near = min(ax, bx) <= px <= max(ax, bx) and min(ay, by) <= py <= max(ay, by)
        if not (straddles or near):
            continue
        left = (bx - ax) * (py - ay)
        right = (by - ay) * (px - ax)
        det = left - right
        if abs(det) <= _ERRBOUND * (abs(left) + abs(right)):
            return 2
        if straddles and (det > 0.0) == (by > ay):
            inside = not inside
    return 1 if inside else 0


@numba.njit(cache=True, parallel=True)
def covering(px, py, points, start, count, candidates, bounds, rank, edge_start,
             x1, y1, x2, y2):
    """For each of `points`, the candidate (of candidates[start:start + count]) covering it
    with the lowest rank, -1 for none, or UNSURE."""
    out = np.full(len(points), -1, dtype=np.int64)
    for i in numba.prange(len(points)):
        x, y = px[points[i]], py[points[i]]
        best = -1
        best_rank = np.iinfo(np.int64).max
        for k in range(start[i], start[i] + count[i]):
            g = candidates[k]
            if rank[g] >= best_rank:
                continue
            if x < bounds[g, 0] or x > bounds[g, 2] or y < bounds[g, 1] or y > bounds[g, 3]:
                continue
            covered = _covers(x, y, edge_start[g], edge_start[g + 1], x1, y1, x2, y2)
            if covered == 2:
                best = UNSURE
                break
            if covered == 1:
                best = g
                best_rank = rank[g]
        out[i] = best
    return out
