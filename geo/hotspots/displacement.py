"""Displacement: a hotspot that cools while a new one appears nearby, about the same time.

Hotspots here are DBSCAN clusters found in each time slice (eps in metres, the minimum size
chosen from that slice's background unless given), followed from slice to slice: a cluster
continues one of the previous two slices when their centres are within `link_m`. A *track*
that ends at least `min_slices` before the end after lasting `min_slices` has cooled; one that
starts at least `min_slices` after the beginning and lasts `min_slices` has appeared. An
appeared track that starts within `max_lag_slices` of a cooled one's end, farther than
`link_m` but within `max_distance_m`, is displacement from the nearest such cooled track:
the vendors cleared from one street turning up on another.

Clusters rather than Gi* bins: a grid or hexagon's neighbourhood spans hundreds of metres to
kilometres, so a move to the next street stays inside one neighbourhood and never cools it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from geo.hotspots import budget
from geo.hotspots.clusters import auto_min_reports, dbscan
from geo.hotspots.reports import Reports
from geo.i18n import _


@dataclass(frozen=True)
class Track:
    """One hotspot followed through the slices."""

    first: int  # first and last slice with the cluster
    last: int
    slices: int  # slices in which it was found
    x: float  # report-weighted centre, EPSG:4551
    y: float
    reports: int
    members: np.ndarray  # report indices

    @property
    def length(self) -> int:
        return self.last - self.first + 1


@dataclass(frozen=True)
class Move:
    source: Track
    target: Track
    distance_m: float


def slice_clusters(reports: Reports, edges: np.ndarray, eps_m: float,
                   min_reports: int | None = None, area_m2: float | None = None):
    """Per slice, its clusters: (slice, centre x, centre y, member report indices)."""
    slot = np.searchsorted(edges, reports.reported, side="right") - 1
    found = []
    for k in range(len(edges) - 1):
        budget.on_time(_("the clusters of each slice"))
        idx = np.flatnonzero(slot == k)
        if idx.size == 0:
            continue
        part = reports.take(idx)
        m = min_reports or auto_min_reports(part.x, part.y, eps_m, area_m2)
        labels = dbscan(part, eps_m, m)
        for lab in range(labels.max() + 1):
            members = idx[labels == lab]
            found.append((k, float(reports.x[members].mean()), float(reports.y[members].mean()),
                          members))
    return found


def tracks(found: list, link_m: float, max_gap: int = 1) -> list[Track]:
    """Clusters linked across slices (a gap of up to `max_gap` empty slices) into tracks."""
    n = len(found)
    if n == 0:
        return []
    slc = np.array([f[0] for f in found])
    xy = np.array([[f[1], f[2]] for f in found])
    rows, cols = [], []
    for i in range(n):
        later = np.flatnonzero((slc > slc[i]) & (slc <= slc[i] + 1 + max_gap))
        near = later[np.hypot(*(xy[later] - xy[i]).T) <= link_m]
        rows.extend([i] * len(near))
        cols.extend(near.tolist())
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    _count, label = connected_components(graph, directed=False)
    out = []
    for lab in np.unique(label):
        parts = np.flatnonzero(label == lab)
        members = np.concatenate([found[p][3] for p in parts])
        weights = np.array([len(found[p][3]) for p in parts], float)
        out.append(Track(int(slc[parts].min()), int(slc[parts].max()), len(np.unique(slc[parts])),
                         float(np.average(xy[parts, 0], weights=weights)),
                         float(np.average(xy[parts, 1], weights=weights)),
                         int(members.size), members))
    return out


def displacements(reports: Reports, edges: np.ndarray, eps_m: float = 50.0,
                  max_distance_m: float = 3000.0, min_slices: int = 2, max_lag_slices: int = 1,
                  min_reports: int | None = None, area_m2: float | None = None,
                  link_m: float | None = None) -> tuple[list[Move], list[Track], list[Track]]:
    """Moves from cooled to appeared hotspots, and the cooled and appeared tracks."""
    link_m = link_m or max(3 * eps_m, 150.0)
    all_tracks = tracks(slice_clusters(reports, edges, eps_m, min_reports, area_m2), link_m)
    last_slice = len(edges) - 2
    cooled = [t for t in all_tracks
              if t.slices >= min_slices and t.last <= last_slice - min_slices]
    appeared = [t for t in all_tracks
                if t.slices >= min_slices and t.first >= min_slices]
    moves = []
    for target in appeared:
        best = None
        for source in cooled:
            if abs(target.first - (source.last + 1)) > max_lag_slices:
                continue
            d = float(np.hypot(target.x - source.x, target.y - source.y))
            if link_m < d <= max_distance_m and (best is None or d < best.distance_m):
                best = Move(source, target, d)
        if best is not None:
            moves.append(best)
    return moves, cooled, appeared
