"""Kernel density of reports in reports per km², with a Gaussian kernel of bandwidth (its
standard deviation) in metres, computed in EPSG:4551.

Binned: reports are counted on a lattice of `cell_m` and the counts smoothed with a Gaussian
filter, which costs O(cells) whatever the number of reports. Compared with the exact sum over
reports, the error is that of moving each report to its cell's centre (at most cell·√2/2);
the tests bound it. A city in detached parts is smoothed on a lattice per part
(geo.hotspots.parts: `part_lattices`, `surfaces`), whose surfaces add up to the city's."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from geo.crs import from_metric
from geo.hotspots.parts import detached, split
from geo.i18n import _

MAX_CELLS = 4_000_000
TRUNCATE = 4.0  # the kernel is cut at four bandwidths


@dataclass(frozen=True)
class Surface:
    """Density per km² on a lattice: values[row, col] is the cell whose lower-left corner is
    (x0 + col·cell, y0 + row·cell) in EPSG:4551."""

    x0: float
    y0: float
    cell: float
    values: np.ndarray

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        rows, cols = np.indices(self.values.shape)
        return self.x0 + (cols.ravel() + 0.5) * self.cell, self.y0 + (rows.ravel() + 0.5) * self.cell

    def at(self, x, y) -> np.ndarray:
        """The density at metric points (nearest cell; 0 outside the lattice)."""
        col = np.floor((np.asarray(x) - self.x0) / self.cell).astype(int)
        row = np.floor((np.asarray(y) - self.y0) / self.cell).astype(int)
        ok = (row >= 0) & (row < self.values.shape[0]) & (col >= 0) & (col < self.values.shape[1])
        out = np.zeros(np.shape(x))
        out[ok] = self.values[row[ok], col[ok]]
        return out

    def peaks(self, share: float = 0.05, limit: int = 5000, top: float | None = None
              ) -> tuple[np.ndarray, ...]:
        """lon, lat and density of the densest cells holding at least `share` of the maximum
        (`top`, default this surface's own; at most `limit`), for heat maps and the GeoJSON
        layer."""
        flat = self.values.ravel()
        top = (float(flat.max()) if flat.size else 0.0) if top is None else top
        if flat.size == 0 or top <= 0:
            return np.zeros(0), np.zeros(0), np.zeros(0)
        keep = np.flatnonzero(flat >= share * top)
        keep = keep[np.argsort(-flat[keep], kind="stable")[:limit]]
        x, y = self.centres()
        lon, lat = from_metric(x[keep], y[keep])
        return lon, lat, flat[keep]


def frame(x: np.ndarray, y: np.ndarray, bandwidth_m: float, cell_m: float,
          margin: float = 3.0) -> tuple[float, float, int, int, float]:
    """A lattice covering the points plus `margin` bandwidths: x0, y0, rows, cols, cell. The
    cell grows when the lattice would exceed MAX_CELLS."""
    x0, y0 = x.min() - margin * bandwidth_m, y.min() - margin * bandwidth_m
    width, height = x.max() + margin * bandwidth_m - x0, y.max() + margin * bandwidth_m - y0
    cell = max(cell_m, float(np.sqrt(width * height / MAX_CELLS)))
    return x0, y0, int(np.ceil(height / cell)) or 1, int(np.ceil(width / cell)) or 1, cell


def kde(x: np.ndarray, y: np.ndarray, bandwidth_m: float, cell_m: float | None = None,
        lattice: tuple | None = None) -> Surface:
    """The density surface of points (EPSG:4551). `lattice` (from `frame`) fixes the cells,
    so that several surfaces (time slices) share them."""
    if bandwidth_m <= 0:
        raise ValueError(_("bandwidth must be positive"))
    cell_m = cell_m or bandwidth_m / 4
    if lattice is None:
        if len(x) == 0:
            return Surface(0.0, 0.0, cell_m, np.zeros((0, 0)))
        lattice = frame(x, y, bandwidth_m, cell_m)
    x0, y0, rows, cols, cell = lattice
    counts = np.histogram2d(y, x, bins=(rows, cols),
                            range=((y0, y0 + rows * cell), (x0, x0 + cols * cell)))[0]
    smooth = gaussian_filter(counts, sigma=bandwidth_m / cell, mode="constant", truncate=TRUNCATE)
    return Surface(x0, y0, cell, smooth / (cell * cell) * 1e6)


@dataclass(frozen=True)
class Lattices:
    """A lattice per detached part of a set of points, all of one cell: `part` is each
    point's part, `frames` each part's lattice (`frame`'s form)."""

    part: np.ndarray
    frames: tuple[tuple[float, float, int, int, float], ...]

    @property
    def cell(self) -> float:
        return self.frames[0][4] if self.frames else 0.0

    @property
    def cells(self) -> int:
        return sum(rows * cols for _x0, _y0, rows, cols, _cell in self.frames)


def part_gap(bandwidth_m: float, cell_m: float, margin: float = 3.0) -> float:
    """How far apart parts are smoothed apart: past where one part's kernels (cut at TRUNCATE
    bandwidths) would reach the other's lattice (its margin), so that no kernel is cut short."""
    return detached((margin + TRUNCATE) * bandwidth_m + cell_m)


def part_lattices(x: np.ndarray, y: np.ndarray, bandwidth_m: float, cell_m: float,
             margin: float = 3.0) -> Lattices:
    """`frame` per detached part of the points; the cell grows when all the parts' lattices
    together would exceed MAX_CELLS."""
    if len(x) == 0:
        return Lattices(np.zeros(0, np.int64), ())
    part = split(x, y, part_gap(bandwidth_m, cell_m, margin))
    pad = margin * bandwidth_m
    n = int(part.max()) + 1
    lo_x, lo_y = np.full(n, np.inf), np.full(n, np.inf)
    hi_x, hi_y = np.full(n, -np.inf), np.full(n, -np.inf)
    np.minimum.at(lo_x, part, x)
    np.minimum.at(lo_y, part, y)
    np.maximum.at(hi_x, part, x)
    np.maximum.at(hi_y, part, y)
    lo_x, lo_y, hi_x, hi_y = lo_x - pad, lo_y - pad, hi_x + pad, hi_y + pad
    cell = max(cell_m, float(np.sqrt(np.sum((hi_x - lo_x) * (hi_y - lo_y)) / MAX_CELLS)))
    frames = tuple((float(lo_x[k]), float(lo_y[k]), int(np.ceil((hi_y[k] - lo_y[k]) / cell)) or 1,
                    int(np.ceil((hi_x[k] - lo_x[k]) / cell)) or 1, cell) for k in range(n))
    return Lattices(part, frames)


@dataclass(frozen=True)
class Surfaces:
    """The density of a city in detached parts: a surface per part, which add up."""

    parts: tuple[Surface, ...]
    cell: float

    def max(self) -> float:
        return max((float(s.values.max()) for s in self.parts if s.values.size), default=0.0)

    def at(self, x, y) -> np.ndarray:
        return sum((s.at(x, y) for s in self.parts), np.zeros(np.shape(x)))

    def peaks(self, share: float = 0.05, limit: int = 5000) -> tuple[np.ndarray, ...]:
        """Surface.peaks over all the parts, of the largest maximum."""
        top = self.max()
        found = [s.peaks(share, limit, top) for s in self.parts]
        if not found:
            return np.zeros(0), np.zeros(0), np.zeros(0)
        lon, lat, value = (np.concatenate(column) for column in zip(*found, strict=True))
        keep = np.argsort(-value, kind="stable")[:limit]
        return lon[keep], lat[keep], value[keep]


def surfaces(x: np.ndarray, y: np.ndarray, bandwidth_m: float, cell_m: float | None = None,
             lattices: Lattices | None = None, part: np.ndarray | None = None) -> Surfaces:
    """The density surfaces of points (EPSG:4551), a lattice per detached part. Given
    `lattices` (of a superset of the points, so that time slices share their cells), `part`
    is each point's part in it."""
    if lattices is None:
        lattices = part_lattices(x, y, bandwidth_m, cell_m or bandwidth_m / 4)
        part = lattices.part
    return Surfaces(tuple(kde(x[part == k], y[part == k], bandwidth_m, lattice=f)
                          for k, f in enumerate(lattices.frames)), lattices.cell)
