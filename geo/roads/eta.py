"""Rank teams by their travel time to an issue along the road network: exact, not a re-rank
of a straight-line shortlist.

One Dijkstra search on the reversed graph, from the road point nearest the issue, gives every
junction's time to the issue. It is bounded (scipy's `limit`): a team whose time is at most
the bound is known exactly, and every team not found is slower than the bound, so the search
stops as soon as k teams that may be recommended are found within it, and widens fourfold
otherwise. A team's time is its walk to the nearest road point, along its road to either end
(forwards only on a one-way road), the junctions' time, and the walk from the road to the
issue. A team (or the issue) off the network, or with no route, is timed by straight-line
distance instead, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.sparse.csgraph import dijkstra
from shapely.ops import substring

from geo.crs import from_metric
from geo.i18n import _
from geo.roads.classes import (
    FALLBACK_DETOUR,
    FALLBACK_SPEED_MS,
    OFF_NETWORK_SPEED_MS,
    SNAP_MAX_M,
)
from geo.roads.network import RoadNetwork

ROUTE_TOLERANCE_M = 1.0  # a route's line is simplified to this
FIRST_BOUND_S = 180.0  # the first search's bound; widened x4 until k teams are within it
_WIDEN = 4.0
# Typical city speed for the first bound: the k-th team by straight line at this speed.
_FIRST_BOUND_SPEED_MS = 25.0 / 3.6


def _share(fraction, seconds):
    """`fraction` of a road's time one way; np.inf where that way is closed (0 x inf is not
    a time)."""
    return np.where(np.isfinite(seconds), np.multiply(fraction, seconds, where=np.isfinite(
        seconds), out=np.zeros(np.broadcast(fraction, seconds).shape)), np.inf)


def straight_line_eta(distance_m) -> np.ndarray:
    """The fallback: straight-line metres times the detour factor, at the fallback speed."""
    return np.asarray(distance_m, float) * FALLBACK_DETOUR / FALLBACK_SPEED_MS


# How a team leaves its road: straight along it to the issue (the issue's own road), or
# forwards to its last junction, or backwards to its first (a loop's two ends are one
# junction, so the junction alone would not say which way).
ALONG, FORWARD, BACKWARD = range(3)

# Why a team is timed by straight line instead of along the roads (0: it is not).
ROUTED, ISSUE_OFF, TEAM_OFF, APART, NO_ROUTE = range(5)


def why_straight(code: int, team_offset_m: float, issue_offset_m: float) -> str:
    """The reason behind a straight-line time, in words."""
    if code == ISSUE_OFF:
        return _("the issue is {offset} m from the nearest road (more than {limit} m)").format(
            offset=f"{issue_offset_m:,.0f}", limit=f"{SNAP_MAX_M:,.0f}")
    if code == TEAM_OFF:
        return _("the team is {offset} m from the nearest road (more than {limit} m)").format(
            offset=f"{team_offset_m:,.0f}", limit=f"{SNAP_MAX_M:,.0f}")
    if code == APART:
        return _("no road connects the team's road to the issue's")
    return _("no route along the roads from the team to the issue")


@dataclass
class Timed:
    """Per team (in the order given): seconds to the issue, and how they were found."""

    eta_s: np.ndarray
    straight: np.ndarray  # why the time is by straight line: ROUTED (it is not), ISSUE_OFF, ...
    leave: np.ndarray  # how the team leaves its road: ALONG, FORWARD or BACKWARD


class IssueSearch:
    """The time from every junction to one issue point (x, y in EPSG:4551), searched lazily
    to a bound that widens on demand."""

    def __init__(self, net: RoadNetwork, x: float, y: float):
        self.net = net
        self.x, self.y = float(x), float(y)
        snap = net.snap([x], [y])
        self.edge = int(snap.edge[0])
        self.fraction = float(snap.fraction[0])
        self.offset_m = float(snap.offset_m[0])
        self.on_network = self.offset_m <= SNAP_MAX_M
        e, f = self.edge, self.fraction
        # Reaching the issue's road point: forwards from the road's first junction, or
        # backwards from its last (two-way roads only).
        sources, offsets, forwards = [], [], []
        if np.isfinite(net.forward_s[e]):
            sources.append(int(net.source[e]))
            offsets.append(f * net.forward_s[e])
            forwards.append(True)
        if np.isfinite(net.backward_s[e]):
            sources.append(int(net.target[e]))
            offsets.append((1 - f) * net.backward_s[e])
            forwards.append(False)
        self.sources = np.array(sources, dtype=np.int64)
        self.offsets = np.array(offsets, dtype=float)
        self.forwards = forwards  # per source: the issue is reached driving forwards
        self.bound = 0.0
        self.times = np.full(net.n_nodes, np.inf)
        self.row = np.zeros(net.n_nodes, dtype=np.int64)
        self.pred = None

    def search(self, bound: float) -> None:
        """Times of every junction within `bound` seconds (np.inf: the whole network)."""
        if bound <= self.bound:
            return
        limit = bound if np.isfinite(bound) else np.inf
        dist, pred = dijkstra(self.net.reversed_graph, directed=True, indices=self.sources,
                              return_predecessors=True, limit=limit)
        total = dist + self.offsets[:, None]
        self.row = np.argmin(total, axis=0)
        self.times = total[self.row, np.arange(total.shape[1])]
        self.pred = pred
        self.bound = bound

    def team_times(self, edge, fraction) -> tuple[np.ndarray, np.ndarray]:
        """Each team road point's time to the issue on the network (np.inf: beyond the bound
        or unreachable) and how it leaves its road (ALONG, FORWARD, BACKWARD)."""
        net = self.net
        t = self.times
        fwd = _share(1 - fraction, net.forward_s[edge]) + t[net.target[edge]]
        bwd = _share(fraction, net.backward_s[edge]) + t[net.source[edge]]
        best = np.minimum(fwd, bwd)
        leave = np.where(fwd <= bwd, FORWARD, BACKWARD).astype(np.int8)
        same = edge == self.edge
        if same.any():
            ahead = np.where(fraction <= self.fraction,
                             _share(self.fraction - fraction, net.forward_s[self.edge]),
                             _share(fraction - self.fraction, net.backward_s[self.edge]))
            direct = same & (ahead <= best)
            best = np.where(direct, ahead, best)
            leave = np.where(direct, ALONG, leave).astype(np.int8)
        return best, leave

    def path(self, exit_node: int) -> tuple[list[int], bool]:
        """The junctions from `exit_node` to the issue's road, in driving order, and whether
        the last of them is the road's first junction (the issue reached driving forwards)."""
        row = int(self.row[exit_node])
        pred = self.pred[row]
        nodes = [exit_node]
        while nodes[-1] != self.sources[row]:
            nodes.append(int(pred[nodes[-1]]))
        return nodes, self.forwards[row]


def time_teams(search: IssueSearch, snap, straight_m: np.ndarray, k: int,
               extra_s: np.ndarray, held: np.ndarray) -> Timed:
    """Time the teams (`snap`: their road points; `straight_m`: their straight-line metres
    to the issue) exactly wherever they can be among the first k by (held, eta + extra): the
    search widens until k teams that are not held are known within its bound, or every team
    is, or it covers the network. A team left at np.inf is slower than the bound, and so than
    those first k."""
    n = len(straight_m)
    net = search.net
    straight = np.zeros(n, dtype=np.int8)
    if not search.on_network:
        straight[:] = ISSUE_OFF
    else:
        off = snap.offset_m > SNAP_MAX_M
        straight[off] = TEAM_OFF
        parts = net.component
        straight[~off & (parts[net.source[snap.edge]] != parts[net.source[search.edge]])] = APART
    routed = straight == ROUTED
    fallback = straight_line_eta(straight_m)
    eta = np.where(routed, np.inf, fallback)
    leave = np.full(n, ALONG, dtype=np.int8)
    if routed.any():
        idx = np.flatnonzero(routed)
        walk = (snap.offset_m[idx] + search.offset_m) / OFF_NETWORK_SPEED_MS
        kth = np.sort(straight_m[idx])[:k]
        bound = max(FIRST_BOUND_S, 2.0 * kth[-1] / _FIRST_BOUND_SPEED_MS)
        while True:
            search.search(bound)
            on_road, ways = search.team_times(snap.edge[idx], snap.fraction[idx])
            # A time above the bound may have missed a quicker way through a junction
            # beyond it: only times within the bound are exact.
            known = on_road <= bound
            eta[idx] = np.where(known, on_road + walk, np.inf)
            leave[idx] = ways
            # Exact once k teams that may be recommended are known within the bound: a team
            # not yet found is slower than the bound, and so ranks after them.
            sure = ~held & (eta + extra_s <= bound)
            if sure.sum() >= k or known.all() or not np.isfinite(bound):
                break
            bound = bound * _WIDEN if bound * _WIDEN < 1e7 else np.inf
        if not np.isfinite(bound):  # the whole network was searched: no route at all
            lost = routed & ~np.isfinite(eta)
            straight[lost] = NO_ROUTE
            eta[lost] = fallback[lost]
    return Timed(eta, straight, leave)


@dataclass
class Route:
    """One team's way to the issue: its line (lon, lat pairs), metres on the road, and the
    names of the bridges it crosses."""

    lonlat: list[tuple[float, float]]
    road_m: float
    bridges: list[str]


def route(search: IssueSearch, team_x: float, team_y: float, team_edge: int,
          team_fraction: float, leave: int, geometry: bool = True) -> Route:
    """The road route of one team whose time `time_teams` found (basis "road"); without
    `geometry` only its metres and bridges (the line costs a cut per road)."""
    net = search.net
    ie, f = search.edge, search.fraction
    pieces: list[np.ndarray] = []
    edges: list[int] = []
    road_m = 0.0

    def part(edge: int, start: float, end: float) -> None:
        """The road `edge` from fraction `start` to `end` (backwards when end < start)."""
        nonlocal road_m
        lo, hi = sorted((start, end))
        road_m += (hi - lo) * net.length_m[edge]
        edges.append(edge)
        if geometry:  # only the first and last roads are cut
            line = net.lines[edge] if (lo, hi) == (0.0, 1.0) else substring(
                net.lines[edge], lo, hi, normalized=True)
            xy = shapely.get_coordinates(line)
            pieces.append(xy[::-1] if end < start else xy)

    if geometry:
        on = shapely.line_interpolate_point(net.lines[team_edge], team_fraction, normalized=True)
        pieces.append(np.array([[team_x, team_y], [on.x, on.y]]))
    if leave == ALONG:  # along the issue's own road
        part(ie, team_fraction, f)
    else:
        forward = leave == FORWARD
        part(team_edge, team_fraction, 1.0 if forward else 0.0)
        nodes, into_forwards = search.path(int(net.target[team_edge] if forward
                                               else net.source[team_edge]))
        for a, b in zip(nodes[:-1], nodes[1:], strict=True):
            e = net.arc_edge[(a, b)]
            part(e, 0.0, 1.0) if net.source[e] == a else part(e, 1.0, 0.0)
        part(ie, 0.0 if into_forwards else 1.0, f)
    bridges = []
    for e in edges:
        name = net.names[e] or "an unnamed bridge"
        if net.classes[e] == "bridge" and name not in bridges:
            bridges.append(name)
    if not geometry:
        return Route([], road_m, bridges)
    issue_on = shapely.line_interpolate_point(net.lines[ie], f, normalized=True)
    pieces.append(np.array([[issue_on.x, issue_on.y], [search.x, search.y]]))
    # Simplified to a metre: a map draws no finer, and an answer stays small.
    xy = shapely.get_coordinates(shapely.simplify(shapely.LineString(np.concatenate(pieces)),
                                                  ROUTE_TOLERANCE_M))
    lon, lat = from_metric(xy[:, 0], xy[:, 1])
    keep = np.ones(len(lon), bool)
    keep[1:] = (np.diff(lon) != 0) | (np.diff(lat) != 0)
    return Route(list(zip(lon[keep].tolist(), lat[keep].tolist(), strict=True)), road_m, bridges)
