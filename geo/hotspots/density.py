"""Kernel density of reports in reports per km², with a Gaussian kernel of bandwidth (its
standard deviation) in metres, computed in EPSG:4551.

Binned: reports are counted on a lattice of `cell_m` and the counts smoothed with a Gaussian
filter, which costs O(cells) whatever the number of reports. Compared with the exact sum over
reports, the error is that of moving each report to its cell's centre (at most cell·√2/2);
the tests bound it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from geo.crs import from_metric
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

    def peaks(self, share: float = 0.05, limit: int = 5000) -> tuple[np.ndarray, ...]:
        """lon, lat and density of the densest cells holding at least `share` of the maximum
        (at most `limit`), for heat maps and the GeoJSON layer."""
        flat = self.values.ravel()
        if flat.size == 0 or flat.max() <= 0:
            return np.zeros(0), np.zeros(0), np.zeros(0)
        keep = np.flatnonzero(flat >= share * flat.max())
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
