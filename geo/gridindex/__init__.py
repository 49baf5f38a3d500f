"""In-process point-in-grid index: which grid covers each point, for one point or millions.

A raster over the grids answers most points by one lookup: a cell that no boundary
touches carries the grid covering all of it (or outside). A cell that a boundary touches
keeps the grids whose bounding box reaches it, and its points are tested exactly: by GEOS
on prepared polygons (`shapely.intersects_xy`, whole arrays of (point, candidate) pairs),
or for COMPILED_FROM points or more by a numba kernel (`compiled`) that hands GEOS only
the points it cannot decide for certain. Both give the exact predicate's answer, so the
engine never changes a result; it only spares a fresh process (a batch command) numba's
start when GEOS is quicker. Grids tile a city with cells of similar size, so a uniform
raster beats a tree, and no Python runs per point.

Tie rule (identical on every backend): a grid covers its closed polygon, boundary
included; a point covered by several grids (on a shared edge or vertex) goes to the one
with the smallest grid code. A point covered by none is outside (-1), never guessed.
"""

from __future__ import annotations

import sys

import numpy as np
import shapely

OUTSIDE = -1
CELLS_PER_POLYGON = 1024  # the raster's size: cells at most per polygon indexed ...
MAX_CELLS = 1 << 22  # ... and never more than this (int32 labels: 16 MB)
# Points to test exactly from which the compiled kernel is used: in a process that has not
# started numba, where GEOS (0.7 µs a point) takes its start (0.55 s) for some 800,000 points;
# once it has, wherever the kernel is quicker than GEOS's per-call cost.
COMPILED_FROM = 750_000
COMPILED_WARM_FROM = 2_000
PAIRS_PER_PASS = 1 << 21  # (point, candidate) pairs tested at once: bounds a batch's memory
PIECE_CELLS = 2  # an edge is cut into pieces this many cells long, each marking its box
WIDEN = 1e-6  # of a cell: edge pieces' boxes widened against the rounding of their cuts


class GridIndex:
    """Locate points in a set of non-overlapping (multi)polygons keyed by code.

    The polygons are prepared for GEOS in place (the caller's objects gain an index, no
    other change).

    Raster labels: >= 0 the grid covering the whole cell, OUTSIDE, or for the m-th cell a
    boundary touches -2 - m, whose candidates are `_candidates[_lo[m]:_hi[m]]`."""

    def __init__(self, codes, geoms):
        codes = np.asarray(codes, dtype=object)
        geoms = np.asarray(geoms, dtype=object)
        if codes.shape != geoms.shape:
            raise ValueError("codes and geometries differ in length")
        self.codes = codes
        self.size = len(codes)
        self._geoms = geoms
        shapely.prepare(geoms)
        self._by_rank = np.argsort(codes.astype(str), kind="stable").astype(np.int64)
        self._rank = np.empty(self.size, dtype=np.int64)
        self._rank[self._by_rank] = np.arange(self.size)
        self._bounds = shapely.bounds(geoms) if self.size else np.zeros((0, 4))
        self._edges = _ring_edges(geoms)
        self._build_raster()

    # --- building ------------------------------------------------------------------------
    def _build_raster(self) -> None:
        """Cells touched by an edge are mixed; every other cell lies in one face of the
        polygons' arrangement, as does each run of such cells along a row, so one test of the
        run's first cell centre labels the run."""
        if self.size == 0:
            self._origin = self._top = (0.0, 0.0)
            self._step, self._shape = (1.0, 1.0), (1, 1)
            self._label = np.full(1, OUTSIDE, dtype=np.int32)
            self._lo = self._hi = self._candidates = np.zeros(0, dtype=np.int64)
            return
        b = self._bounds
        minx, miny, maxx, maxy = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
        cells = min(CELLS_PER_POLYGON * self.size, MAX_CELLS)
        step = max(float(np.sqrt((maxx - minx) * (maxy - miny) / cells)),
                   (max(maxx - minx, maxy - miny) or 1.0) / cells, 1e-12)
        self._origin, self._top, self._step = (float(minx), float(miny)), (float(maxx),
                                                                             float(maxy)), (step, step)
        self._shape = (int((maxy - miny) // step) + 1, int((maxx - minx) // step) + 1)
        rows, cols = self._shape

        mixed = np.zeros(rows * cols, dtype=bool)
        mixed[self._touched_cells()] = True
        pure = ~mixed
        run_start = pure & ~np.r_[False, pure[:-1]]
        run_start[::cols] = pure[::cols]  # a run never continues onto the next row
        first = np.flatnonzero(run_start)
        mixed_cells = np.flatnonzero(mixed)

        # Candidates (the polygons whose box reaches the cell) of the cells tested.
        tested = mixed.copy()
        tested[first] = True
        cell, polygon = self._cells_of_boxes()
        keep = tested[cell]
        cell, polygon = cell[keep], polygon[keep]
        order = np.argsort(cell, kind="stable")
        cell, self._candidates = cell[order], polygon[order]

        lo, hi = np.searchsorted(cell, first), np.searchsorted(cell, first, side="right")
        centre_x = minx + (first % cols + 0.5) * step
        centre_y = miny + (first // cols + 0.5) * step
        run_label = np.full(len(first), OUTSIDE, dtype=np.int64)
        self._exact(centre_x, centre_y, np.arange(len(first)), lo, hi - lo, run_label)

        run_end = pure & ~np.r_[pure[1:], False]
        run_end[cols - 1::cols] = pure[cols - 1::cols]
        label = np.empty(rows * cols, dtype=np.int32)
        label[pure] = np.repeat(run_label, np.flatnonzero(run_end) - first + 1)
        label[mixed_cells] = -2 - np.arange(len(mixed_cells))
        self._label = label
        self._lo = np.searchsorted(cell, mixed_cells)
        self._hi = np.searchsorted(cell, mixed_cells, side="right")

    def _touched_cells(self) -> np.ndarray:
        """Cells (flat indexes, with repeats) that some ring's edge may touch: edges cut into
        pieces of PIECE_CELLS cells (shorter pieces mark fewer cells wrongly, and cost more
        to cut), each marking the cells of its widened box, so that a cell is marked wrongly
        at worst, never left unmarked."""
        _, x1, y1, x2, y2 = self._edges
        sx, sy = self._step
        dx, dy = x2 - x1, y2 - y1
        along = np.maximum(np.abs(dx) / sx, np.abs(dy) / sy)  # cells along the longer axis
        pieces = np.maximum(np.ceil(along / PIECE_CELLS), 1).astype(np.int64)
        edge = np.repeat(np.arange(len(x1)), pieces)
        n = np.repeat(pieces.astype(np.float64), pieces)
        t0 = _within(pieces) / n
        t1 = t0 + 1.0 / n
        lo, hi = np.empty((len(edge), 2)), np.empty((len(edge), 2))
        for axis, start, d, widen in ((0, x1, dx, sx * WIDEN), (1, y1, dy, sy * WIDEN)):
            s, d = start[edge], d[edge]
            a, b = s + d * t0, s + d * t1
            lo[:, axis] = np.minimum(a, b) - widen
            hi[:, axis] = np.maximum(a, b) + widen
        return self._cells_of(lo, hi)[0]

    def _cells_of_boxes(self) -> tuple[np.ndarray, np.ndarray]:
        """(cell, polygon) for every cell each polygon's bounding box reaches: by the same
        arithmetic as for points, so a polygon is listed in every cell of each point it
        covers."""
        return self._cells_of(self._bounds[:, :2], self._bounds[:, 2:])

    def _cells_of(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The cells of each box (lo, hi corners), flat, and the box each came from."""
        c0, r0 = self._cell_xy(lo[:, 0], lo[:, 1])
        c1, r1 = self._cell_xy(hi[:, 0], hi[:, 1])
        span = c1 - c0 + 1
        per_box = span * (r1 - r0 + 1)
        k, span = _within(per_box), np.repeat(span, per_box)
        cell = (np.repeat(r0, per_box) + k // span) * self._shape[1] + np.repeat(c0, per_box) + (
            k % span)
        return cell, np.repeat(np.arange(len(lo)), per_box)

    def _cell_xy(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Raster column and row of each coordinate, clipped to the raster (truncation is the
        floor for every coordinate the clip keeps)."""
        rows, cols = self._shape
        c = ((x - self._origin[0]) / self._step[0]).astype(np.int64)
        r = ((y - self._origin[1]) / self._step[1]).astype(np.int64)
        return np.clip(c, 0, cols - 1, out=c), np.clip(r, 0, rows - 1, out=r)

    # --- locating ------------------------------------------------------------------------
    def locate(self, lon, lat) -> np.ndarray:
        """Index of the grid covering each point (by the tie rule), or -1 when outside all."""
        px = np.atleast_1d(np.asarray(lon, dtype=np.float64))
        py = np.atleast_1d(np.asarray(lat, dtype=np.float64))
        out = np.full(px.shape, OUTSIDE, dtype=np.int64)
        if self.size == 0 or len(px) == 0:
            return out
        # Outside the grids' box the clipped raster would offer cells: such points stay out.
        (minx, miny), (maxx, maxy) = self._origin, self._top
        inside = np.flatnonzero((px >= minx) & (px <= maxx) & (py >= miny) & (py <= maxy))
        c, r = self._cell_xy(px[inside], py[inside])
        label = self._label[r * self._shape[1] + c]
        out[inside] = np.maximum(label, OUTSIDE)
        tested = label < OUTSIDE
        m = -2 - label[tested].astype(np.int64)
        self._exact(px, py, inside[tested], self._lo[m], self._hi[m] - self._lo[m], out)
        return out

    def _exact(self, px, py, points, start, count, out) -> None:
        """out[points] = the grid covering each point by the tie rule among its candidates
        `_candidates[start:start + count]`, tested on the polygons."""
        if len(points) >= (COMPILED_WARM_FROM if _compiled_started() else COMPILED_FROM):
            from geo.gridindex import compiled

            found = compiled.covering(px, py, points, start, count, self._candidates,
                                      self._bounds, self._rank, *self._edges)
            sure = found != compiled.UNSURE
            out[points[sure]] = found[sure]
            points, start, count = points[~sure], start[~sure], count[~sure]
        if len(points) == 0:
            return
        # GEOS in passes of whole points, each of at most PAIRS_PER_PASS pairs.
        ends = np.cumsum(count)
        cuts = np.searchsorted(ends, np.arange(PAIRS_PER_PASS, ends[-1], PAIRS_PER_PASS),
                               side="right")
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(points)], strict=True):
            self._exact_pass(px, py, points[lo:hi], start[lo:hi], count[lo:hi], out)

    def _exact_pass(self, px, py, points, start, count, out) -> None:
        which = np.repeat(np.arange(len(points)), count)
        grid = self._candidates[np.repeat(start, count) + _within(count)]
        x, y, box = px[points[which]], py[points[which]], self._bounds[grid]
        near = (x >= box[:, 0]) & (x <= box[:, 2]) & (y >= box[:, 1]) & (y <= box[:, 3])
        which, grid = which[near], grid[near]
        hit = shapely.intersects_xy(self._geoms[grid], x[near], y[near])
        best = np.full(len(points), self.size, dtype=np.int64)
        np.minimum.at(best, which[hit], self._rank[grid[hit]])
        found = best < self.size
        out[points[found]] = self._by_rank[best[found]]

    def locate_codes(self, lon, lat) -> np.ndarray:
        """Grid code covering each point, or None when outside all."""
        idx = self.locate(lon, lat)
        out = np.full(idx.shape, None, dtype=object)
        hit = idx >= 0
        out[hit] = self.codes[idx[hit]]
        return out


def start_compiled() -> None:
    """Start numba and load the compiled kernel now, for a process that lives long (a
    server, a worker of a cluster): every batch of COMPILED_WARM_FROM exact tests or more then
    uses it. A batch command does not call this: it pays numba's start only for a batch that
    saves more than that."""
    from geo.gridindex import compiled

    index = GridIndex(["start"], [shapely.box(0.0, 0.0, 1.0, 1.0)])
    compiled.covering(np.array([0.5]), np.array([0.5]), np.array([0]), np.array([0]),
                      np.array([1]), np.array([0]), index._bounds, index._rank, *index._edges)


def _compiled_started() -> bool:
    """Whether this process has run the compiled kernel (numba started, the kernel loaded)."""
    compiled = sys.modules.get("geo.gridindex.compiled")
    return compiled is not None and bool(compiled.covering.signatures)


def _within(counts: np.ndarray) -> np.ndarray:
    """0..count-1 for each count, concatenated: the position of each element in its run."""
    counts = np.asarray(counts, dtype=np.int64)
    return np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)


def _ring_edges(geoms) -> tuple[np.ndarray, ...]:
    """(edge_start, x1, y1, x2, y2): every ring's edges grouped by owning polygon, polygon
    g's edges at edge_start[g]:edge_start[g + 1]."""
    parts, part_owner = shapely.get_parts(geoms, return_index=True)  # multipolygons → polygons
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
    same_ring = coord_ring[:-1] == coord_ring[1:]
    # get_parts and get_rings keep input order, so edges come out grouped by owning polygon.
    owner = part_owner[ring_part][coord_ring[:-1][same_ring]]
    counts = np.bincount(owner, minlength=len(geoms))
    return (np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            *(np.ascontiguousarray(a[same_ring]) for a in (
                coords[:-1, 0], coords[:-1, 1], coords[1:, 0], coords[1:, 1])))
