"""Density-based clusters of reports: DBSCAN in EPSG:4551 with `eps` in metres.

Reports repeat at the same spots (a school gate is reported every afternoon), so DBSCAN runs
on the distinct positions snapped to a lattice of eps/4, each weighted by its reports
(scikit-learn's sample_weight). A dense spot then costs one sample instead of thousands of
mutual neighbours; positions move by at most eps/4·√2/2 ≈ 0.18·eps.

With `min_reports` left to None it is chosen from the background: the number of reports an
eps-disc holds with probability below one in a million if the reports were spread evenly
over the area they cover (Poisson), so that ordinary density does not form clusters."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import shapely
from scipy.ndimage import binary_dilation
from scipy.signal import fftconvolve
from scipy.stats import poisson
from sklearn.cluster import DBSCAN

from geo.hotspots.parts import detached, split
from geo.hotspots.reports import Reports

SNAP_FRACTION = 0.25
MIN_REPORTS_FLOOR = 5
BACKGROUND_TAIL = 1e-6
# Beyond this many lattice cells the neighbour counts are not worth their memory (the FFT of
# 16 million cells needs about 0.4 GB): DBSCAN then takes every distinct position.
MAX_LATTICE_CELLS = 16_000_000


@dataclass(frozen=True)
class Cluster:
    label: int
    members: np.ndarray  # report indices
    outline: shapely.Polygon  # EPSG:4551
    x: float
    y: float


def auto_min_reports(x: np.ndarray, y: np.ndarray, eps_m: float,
                     area_m2: float | None = None) -> int:
    """Reports in an eps-disc that an even spread over `area_m2` (default: the reports'
    convex hull) would exceed with probability BACKGROUND_TAIL, plus one."""
    if len(x) < 3:
        return MIN_REPORTS_FLOOR
    if area_m2 is None:
        area_m2 = shapely.MultiPoint(np.column_stack([x, y])).convex_hull.area
    expected = len(x) * np.pi * eps_m**2 / max(area_m2, np.pi * eps_m**2)
    return max(MIN_REPORTS_FLOOR, int(poisson.isf(BACKGROUND_TAIL, expected)) + 1)


def part_gap(eps_m: float) -> float:
    """How far apart (metres) parts are clustered apart: past the reach of the lattice."""
    return detached((np.ceil(1 / SNAP_FRACTION) + 1) * eps_m * SNAP_FRACTION)


def _disc(reach: int) -> np.ndarray:
    offsets = np.arange(-reach, reach + 1)
    return (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= reach * reach).astype(np.float32)


def _may_cluster(cx, cy, weight, reach: int, min_reports: int, gap: float) -> np.ndarray:
    """Cells that DBSCAN would put in a cluster or on its border. On the snapped lattice a
    cell's eps-neighbours are exactly the cells at most `reach` cells away, so a convolution
    with that disc gives each cell's weighted neighbour count: the cores are the cells where
    it reaches min_reports, the borders the cells within reach of a core. Leaving every other
    cell out changes no label and spares DBSCAN the neighbours of the whole background.
    Parts of the city `gap` cells apart (more than `reach`) share no neighbours: each is
    convolved on a lattice of its own (geo.hotspots.parts)."""
    part = split(cx.astype(float), cy.astype(float), gap)
    if part.max() == 0:
        return _may_cluster_in(cx, cy, weight, reach, min_reports)
    out = np.zeros(len(cx), bool)
    for k in range(int(part.max()) + 1):
        mine = np.flatnonzero(part == k)
        out[mine] = _may_cluster_in(cx[mine], cy[mine], weight[mine], reach, min_reports)
    return out


def _may_cluster_in(cx, cy, weight, reach: int, min_reports: int) -> np.ndarray:
    """_may_cluster on one lattice over all the cells."""
    x0, y0 = cx.min(), cy.min()
    shape = (int(cx.max() - x0) + 1 + 2 * reach, int(cy.max() - y0) + 1 + 2 * reach)
    if shape[0] * shape[1] > MAX_LATTICE_CELLS:  # keep every cell
        return np.ones(len(cx), bool)
    ix, iy = cx - x0 + reach, cy - y0 + reach
    grid = np.zeros(shape, np.float32)
    grid[ix, iy] = weight
    disc = _disc(reach)
    neighbours = fftconvolve(grid, disc, mode="same")
    core = neighbours >= min_reports - 0.5  # float rounding of integer counts
    near = binary_dilation(core, structure=disc.astype(bool)) if core.any() else core
    return near[ix, iy]


def dbscan(reports: Reports, eps_m: float, min_reports: int) -> np.ndarray:
    """Each report's cluster label (0, 1, ... by size, largest first), -1 for noise."""
    n = len(reports)
    if n == 0:
        return np.zeros(0, int)
    cell = eps_m * SNAP_FRACTION
    kx = np.floor(reports.x / cell).astype(np.int64)
    ky = np.floor(reports.y / cell).astype(np.int64)
    keys, inverse, weight = np.unique(kx * 2**32 + ky, return_inverse=True, return_counts=True)
    cx, cy = keys >> 32, keys & (2**32 - 1)
    reach = int(np.ceil(1 / SNAP_FRACTION))
    maybe = _may_cluster(cx, cy, weight, reach, min_reports, part_gap(eps_m) / cell)
    labels_by_cell = np.full(len(keys), -1)
    if maybe.any():
        centres = np.column_stack([cx[maybe], cy[maybe]]).astype(float) * cell + cell / 2
        labels_by_cell[maybe] = DBSCAN(eps=eps_m, min_samples=min_reports).fit(
            centres, sample_weight=weight[maybe]).labels_
    labels = labels_by_cell[inverse.ravel()]
    # Renumber by size so that label 0 is the largest cluster.
    found = labels[labels >= 0]
    if found.size == 0:
        return labels
    sizes = np.bincount(found)
    rank = np.empty(len(sizes), int)
    rank[np.argsort(-sizes, kind="stable")] = np.arange(len(sizes))
    return np.where(labels >= 0, rank[np.maximum(labels, 0)], -1)


def outlines(reports: Reports, labels: np.ndarray, eps_m: float) -> list[Cluster]:
    """Each cluster's outline: the concave hull of its distinct positions, widened by half
    of eps (the reach of its edge reports)."""
    out = []
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(labels.max() + 2)) if labels.size else []
    for label in range(len(bounds) - 1):
        members = order[bounds[label]:bounds[label + 1]]
        if members.size == 0:
            continue
        pts = np.unique(np.round(np.column_stack([reports.x[members], reports.y[members]])),
                        axis=0)
        hull = shapely.concave_hull(shapely.MultiPoint(pts), ratio=0.3)
        out.append(Cluster(label, members, hull.buffer(eps_m / 2, quad_segs=4),
                           float(reports.x[members].mean()), float(reports.y[members].mean())))
    return out


def describe(reports: Reports, cluster: Cluster) -> dict:
    """Count, first and last report, dominant category and its share."""
    m = cluster.members
    cats = Counter(reports.category[m].tolist())
    top, top_n = cats.most_common(1)[0]
    return {"reports": int(m.size), "first_reported": float(reports.reported[m].min()),
            "last_reported": float(reports.reported[m].max()),
            "dominant_category": top, "dominant_share": round(top_n / m.size, 3),
            "categories": dict(cats.most_common()),
            "area_m2": round(cluster.outline.area, 1)}
