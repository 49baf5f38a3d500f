"""The routable graph of a road layer, in EPSG:4551 metres, and where points meet it.

Roads meet where their end points meet (geo.roads.noding): a road layer is noded, as
OpenStreetMap ways split at junctions and routing data are. Each road is one edge with
a travel time forwards (its length over its speed) and backwards (the same, or none when it
is one-way). Shortest times come from scipy's Dijkstra (`scipy.sparse.csgraph`) on the
*reversed* graph, from the issue outwards, so one search gives every team's time to it.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from functools import cached_property

import geopandas as gpd
import numpy as np
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from geo.crs import METRIC_EPSG
from geo.roads.noding import node_ids

_MIN_TIME_S = 1e-6  # scipy's sparse graphs drop zero weights: a zero-length road keeps a cost


@dataclass(frozen=True)
class Snap:
    """Where points meet the network: the nearest road (edge), how far along it (0..1, in
    the road's direction) and how far the point is from it, in metres."""

    edge: np.ndarray
    fraction: np.ndarray
    offset_m: np.ndarray


class RoadNetwork:
    """A road layer (geo.roads.frame) as a graph. Immutable: a new layer makes a new one."""

    def __init__(self, roads: gpd.GeoDataFrame):
        metric = roads.to_crs(METRIC_EPSG)
        self.lines = metric.geometry.values  # one LineString per edge, metres
        self.names = roads["name"].to_numpy(dtype=object)
        self.classes = roads["class"].to_numpy(dtype=object)
        self.oneway = roads["oneway"].to_numpy(dtype=bool)
        self.speed_kmh = roads["speed_kmh"].to_numpy(dtype=float)
        first = shapely.get_point(self.lines, 0)
        last = shapely.get_point(self.lines, -1)
        self.source, self.target, self.nodes = node_ids(
            shapely.get_x(first), shapely.get_y(first), shapely.get_x(last), shapely.get_y(last))
        self.length_m = shapely.length(self.lines)
        speed_ms = self.speed_kmh / 3.6
        self.forward_s = np.maximum(self.length_m / speed_ms, _MIN_TIME_S)
        self.backward_s = np.where(self.oneway, np.inf, self.forward_s)
        self.tree = shapely.STRtree(self.lines)

    def __len__(self) -> int:
        return len(self.lines)

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    @cached_property
    def _arcs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Directed arcs (from, to, seconds, edge), the quickest of parallel roads only."""
        two_way = ~self.oneway
        frm = np.concatenate([self.source, self.target[two_way]])
        to = np.concatenate([self.target, self.source[two_way]])
        sec = np.concatenate([self.forward_s, self.backward_s[two_way]])
        edge = np.concatenate([np.arange(len(self)), np.flatnonzero(two_way)])
        keep = frm != to  # a loop is never on a shortest path
        frm, to, sec, edge = frm[keep], to[keep], sec[keep], edge[keep]
        order = np.lexsort((edge, sec, to, frm))
        frm, to, sec, edge = frm[order], to[order], sec[order], edge[order]
        first = np.ones(len(frm), bool)
        first[1:] = (frm[1:] != frm[:-1]) | (to[1:] != to[:-1])
        return frm[first], to[first], sec[first], edge[first]

    @cached_property
    def reversed_graph(self) -> csr_matrix:
        """Arc b→a for every road a→b: searched from an issue, it gives times *to* the issue."""
        frm, to, sec, _ = self._arcs
        n = self.n_nodes
        return csr_matrix((sec, (to, frm)), shape=(n, n))

    @cached_property
    def arc_edge(self) -> dict[tuple[int, int], int]:
        """The road that the quickest arc from one junction to the next runs on."""
        frm, to, _, edge = self._arcs
        return dict(zip(zip(frm.tolist(), to.tolist(), strict=True), edge.tolist(), strict=True))

    @cached_property
    def component(self) -> np.ndarray:
        """Per junction, its weakly connected part: junctions in different parts are never
        reachable from each other."""
        return connected_components(self.reversed_graph, directed=True, connection="weak")[1]

    def snap_teams(self, teams) -> Snap:
        """`snap` of a team table's positions, kept with the table (a cached snapshot asks
        again on every ranking) for as long as both live."""
        kept = teams.__dict__.setdefault("_snaps", weakref.WeakKeyDictionary())
        hit = kept.get(self)
        if hit is None:
            hit = kept[self] = self.snap(teams.x, teams.y)
        return hit

    def snap(self, x, y) -> Snap:
        """The nearest road point of each point (x, y in EPSG:4551); ties go to the lower edge."""
        points = shapely.points(np.asarray(x, float), np.asarray(y, float))
        pairs, dist = self.tree.query_nearest(points, return_distance=True, all_matches=True)
        # all_matches gives every road at the same distance: keep the lowest edge number.
        order = np.lexsort((pairs[1], pairs[0]))
        pairs, dist = pairs[:, order], dist[order]
        first = np.ones(pairs.shape[1], bool)
        first[1:] = pairs[0, 1:] != pairs[0, :-1]
        edge = pairs[1, first]
        lines = self.lines[edge]
        fraction = shapely.line_locate_point(lines, points, normalized=True)
        return Snap(edge, fraction, dist[first])
