"""The offline basemap: what orients a person on a map with no tile server (the default on a
government intranet), drawn from our own data. Roads with their names (the stored network),
water (rivers, lakes) and the names of districts, streets and communities at a point inside
each. Every answer is bounded, and coarser the further out the view is: a zoomed-out map
shows only the roads that structure the city, so the live map never waits for its basemap."""

from __future__ import annotations

import math
import threading
import weakref
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from geo.casework.read import Box
from geo.crs import geoms_from_metric, geoms_to_metric
from geo.roads.network import RoadNetwork
from geo.simplify import simplified
from geo.store import Store
from geo.ttlcache import TTLCache

# Road classes by importance: 0 the city's skeleton, 4 its lanes.
ROAD_RANK = {"expressway": 0, "bridge": 0, "arterial": 1, "secondary": 2, "local": 3,
             "service": 4}
# The least important rank a view shows, by the simplification it asks for (about a metre
# per pixel of its zoom, as the map pages ask): (tolerance up to, rank). Zoomed out to a whole
# district (≥ 16 m/pixel) only expressways, bridges and arterials are drawn.
DETAIL = ((2.0, 4), (4.0, 3), (8.0, 2), (np.inf, 1))
MAX_ROADS = 2500  # features in one answer: the most important (then longest) are kept
MAX_WATER = 100
MAX_LABELS = 600
LABEL_LEVELS = ("districts", "streets", "communities")
LABEL_TOLERANCE_M = 5.0  # how close to the best label point is close enough

# Tolerances are powers of two (as the map pages ask, one per zoom level) from FINEST_M to
# COARSEST_M; below FINEST_M nothing is simplified. A network's roads are kept simplified at
# KEPT_TOLERANCES of them at most, those asked for last: each copy is a city's worth of lines.
FINEST_M, COARSEST_M = 2.0 ** -3, 2.0 ** 9
KEPT_TOLERANCES = 6

# Water and area names change rarely (a planner's publication, a new import): a minute.
_KEPT: TTLCache[tuple] = TTLCache(ttl_s=60.0, max_weight=16, per_owner=True)
# Simplified roads, per network (their _Roads) and tolerance.
SIMPLIFIED: TTLCache[np.ndarray] = TTLCache(ttl_s=3600.0, max_weight=KEPT_TOLERANCES,
                                            per_owner=True)


@dataclass(frozen=True)
class Page:
    """Features of one basemap layer in a box: ids, WGS84 geometries and properties, with
    how many matched before the bound."""

    ids: list
    geoms: np.ndarray
    props: list[dict]
    matched: int

    @property
    def truncated(self) -> bool:
        return self.matched > len(self.ids)


def tolerance_of(simplify_m: float) -> float:
    """The tolerance a view's `simplify_m` is served at: the nearest power of two (in ratio)
    within FINEST_M..COARSEST_M, or 0 (none) below the finest; so that every answer, and
    every copy of simplified roads kept, is one of a few."""
    if simplify_m < FINEST_M / math.sqrt(2):
        return 0.0
    return min(COARSEST_M, max(FINEST_M, 2.0 ** round(math.log2(simplify_m))))


def max_rank(simplify_m: float) -> int:
    """The least important road rank drawn at this tolerance."""
    return next(rank for upto, rank in DETAIL if simplify_m <= upto)


class _Roads:
    """A network's roads as the basemap draws them: the edges of one name and class merged
    into as few lines as they make (a name along a street, not one per junction), with their
    bounding boxes indexed, and simplified once per tolerance asked for (SIMPLIFIED)."""

    def __init__(self, net: RoadNetwork):
        names = pd.Series(net.names, dtype=object).fillna("")
        classes = pd.Series(net.classes, dtype=object)
        groups = pd.DataFrame({"name": names, "class": classes}).groupby(
            ["name", "class"], sort=True).indices
        lines, self.names, self.classes = [], [], []
        for (name, cls), rows in groups.items():
            merged = shapely.get_parts(shapely.line_merge(shapely.multilinestrings(
                net.lines[rows])))
            lines.extend(merged)
            self.names.extend([name] * len(merged))
            self.classes.extend([cls] * len(merged))
        metric = np.array(lines, dtype=object)
        self.rank = np.array([ROAD_RANK.get(c, 4) for c in self.classes])
        self.length_m = shapely.length(metric)
        self.geoms = geoms_from_metric(metric)
        self.tree = shapely.STRtree(self.geoms)
        self._lock = threading.Lock()

    def simplified(self, tolerance_m: float, rows: np.ndarray) -> np.ndarray:
        """The lines of `rows` at a tolerance (one of `tolerance_of`'s); each tolerance's
        lines are simplified once, those of the ranks it draws only."""
        if tolerance_m <= 0:
            return self.geoms[rows]
        with self._lock:
            done = SIMPLIFIED.get_or_make(self, tolerance_m,
                                          lambda: np.full(len(self.geoms), None, object))
            todo = rows[pd.isna(done[rows])]
            if len(todo):
                done[todo] = simplified(self.geoms[todo], tolerance_m)
            return done[rows]


_ROADS: weakref.WeakKeyDictionary[RoadNetwork, _Roads] = weakref.WeakKeyDictionary()
_ROADS_LOCK = threading.Lock()


def _roads_of(net: RoadNetwork) -> _Roads:
    with _ROADS_LOCK:  # a city's merge takes a moment: once per network
        hit = _ROADS.get(net)
        if hit is None:
            hit = _ROADS[net] = _Roads(net)
        return hit


def _clipped(geoms: np.ndarray, box: Box) -> tuple[np.ndarray, np.ndarray]:
    """The geometries cut to the box, and which of them keep something inside it."""
    cut = shapely.clip_by_rect(geoms, *box)
    keep = ~shapely.is_empty(cut)
    return cut, keep


def roads_in_box(store: Store, box: Box, simplify_m: float, limit: int = MAX_ROADS) -> Page:
    """The roads meeting `box` that a view simplified to `simplify_m` (see `tolerance_of`)
    shows (coarser classes only when zoomed out), cut to the box: at most `limit`, the most
    important and longest first. Properties: name ('' for unnamed roads) and class."""
    net = store.road_network()
    if net is None:
        return Page([], np.array([], dtype=object), [], 0)
    roads, tolerance = _roads_of(net), tolerance_of(simplify_m)
    rows = roads.tree.query(shapely.box(*box), predicate="intersects")
    rows = rows[roads.rank[rows] <= max_rank(tolerance)]
    rows = rows[np.lexsort((-roads.length_m[rows], roads.rank[rows]))]
    # Counted once cut: a line simplified off the box, or only touching it, is not a match.
    geoms, keep = _clipped(roads.simplified(tolerance, rows), box)
    rows, geoms = rows[keep], geoms[keep]
    matched = len(rows)
    rows, geoms = rows[:limit], geoms[:limit]
    props = [{"name": roads.names[r], "class": roads.classes[r]} for r in rows]
    return Page(rows.tolist(), geoms, props, matched)


def water_in_box(store: Store, box: Box, simplify_m: float) -> Page:
    """The water meeting `box`, simplified (see `tolerance_of`) and cut to it (name, kind):
    at most MAX_WATER, by stored id."""
    frame = _KEPT.get_or_make(store, ("water",), store.water)
    geoms = frame.geometry.values
    rows = np.flatnonzero(shapely.intersects(geoms, shapely.box(*box)))
    cut, keep = _clipped(simplified(geoms[rows], tolerance_of(simplify_m)), box)
    rows, cut = rows[keep], cut[keep]
    matched = len(rows)
    rows, cut = rows[:MAX_WATER], cut[:MAX_WATER]
    # Where its name goes in this view: the middle of the widest water inside the box.
    circles = shapely.maximum_inscribed_circle(geoms_to_metric(cut), LABEL_TOLERANCE_M)
    at = geoms_from_metric(shapely.get_point(circles, 0))
    props = [{"name": frame.name.iloc[r], "kind": frame.kind.iloc[r],
              "label_at": [round(float(shapely.get_x(p)), 6), round(float(shapely.get_y(p)), 6)]}
             for r, p in zip(rows, at, strict=True)]
    return Page([int(i) for i in frame.id.iloc[rows]], cut, props, matched)


def _label_points(store: Store, level: str) -> tuple[list, np.ndarray, list[dict]]:
    """Each area's label point (the centre of the largest circle inside it, which unlike the
    centroid is always inside) and that circle's width: room for the name."""
    frame = store.read_layer(level)
    metric = geoms_to_metric(frame.geometry.values)
    circles = shapely.maximum_inscribed_circle(metric, LABEL_TOLERANCE_M)
    centres = shapely.get_point(circles, 0)
    width_m = 2 * shapely.length(circles)
    props = [{"name": n, "level": level, "width_m": round(float(w), 1)}
             for n, w in zip(frame.name, width_m, strict=True)]
    return list(frame.code), geoms_from_metric(centres), props


def labels_in_box(store: Store, box: Box | None, level: str) -> Page:
    """The names of one level's areas (districts, streets or communities) at points inside
    them, those in `box`; at most MAX_LABELS, the roomiest first."""
    if level not in LABEL_LEVELS:
        raise ValueError(f"unknown label level {level!r}")
    codes, points, props = _KEPT.get_or_make(store, ("labels", level),
                                             lambda: _label_points(store, level))
    rows = np.arange(len(codes))
    if box is not None:
        rows = rows[shapely.contains_xy(shapely.box(*box), shapely.get_x(points[rows]),
                                        shapely.get_y(points[rows]))]
    matched = len(rows)
    rows = rows[np.argsort([-props[r]["width_m"] for r in rows], kind="stable")][:MAX_LABELS]
    return Page([codes[r] for r in rows], points[rows], [props[r] for r in rows], matched)
