"""Travel-time ranking against an independent shortest path: networkx's Dijkstra on the same
roads, with each team's and each issue's road point put into the graph as a node of its own."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely

from geo.crs import from_metric, to_metric
from geo.i18n import using
from geo.model import Policy, TeamFilter, Workload
from geo.roads.classes import OFF_NETWORK_SPEED_MS, SNAP_MAX_M
from geo.roads.eta import straight_line_eta
from geo.roads.frame import RoadError, check_roads
from geo.roads.network import RoadNetwork
from geo.roads.ranking import rank_by_eta
from geo.teamrank import TeamTable

ORIGIN = tuple(float(v[0]) for v in to_metric([126.55], [43.84]))

@pytest.fixture(autouse=True)
def english():
    """The core's messages as their English ids: outside a request the language is Chinese
    (tests/test_i18n_*.py test the choosing and the translations)."""
    with using("en"):
        yield


def lattice_roads(rng, n=14, spacing=250.0, island=True) -> gpd.GeoDataFrame:
    """A jittered street lattice with one-way streets, missing blocks and a separate island."""
    ox, oy = ORIGIN
    vx = ox + np.arange(n)[None, :] * spacing + rng.uniform(-40, 40, (n, n))
    vy = oy + np.arange(n)[:, None] * spacing + rng.uniform(-40, 40, (n, n))
    lines, oneway, speed = [], [], []
    for j in range(n):
        for i in range(n):
            for dj, di in ((0, 1), (1, 0)):
                jj, ii = j + dj, i + di
                if jj >= n or ii >= n or rng.random() < 0.08:
                    continue
                a, b = (vx[j, i], vy[j, i]), (vx[jj, ii], vy[jj, ii])
                mid = ((a[0] + b[0]) / 2 + rng.uniform(-20, 20), (a[1] + b[1]) / 2)
                if rng.random() < 0.5:  # a one-way street runs either way
                    a, b = b, a
                lines.append(shapely.LineString([a, mid, b]))
                oneway.append(rng.random() < 0.25)
                speed.append(rng.choice([20.0, 30.0, 40.0]))
    if island:
        x0, y0 = ox + n * spacing + 2000, oy
        lines += [shapely.LineString([(x0, y0), (x0 + 300, y0)]),
                  shapely.LineString([(x0 + 300, y0), (x0 + 300, y0 + 300)])]
        oneway += [False, False]
        speed += [30.0, 30.0]
    frame = gpd.GeoDataFrame({"name": [f"路{i}" for i in range(len(lines))], "class": "local",
                              "oneway": oneway, "speed_kmh": speed}, geometry=lines, crs=4551)
    return check_roads(frame)


class Reference:
    """The independent answer: networkx's Dijkstra on the same roads, with each team's road
    point a node of its own and the issue's added per question; one search from the issue
    over the reversed graph times every team. Seconds, NaN where no route joins them."""

    def __init__(self, net: RoadNetwork, tx, ty):
        self.net = net
        self.graph = g = nx.DiGraph()
        for e in range(len(net)):
            u, v = int(net.source[e]), int(net.target[e])
            for a, b, w in ((u, v, net.forward_s[e]), (v, u, net.backward_s[e])):
                if np.isfinite(w) and a != b and (not g.has_edge(a, b) or g[a][b]["w"] > w):
                    g.add_edge(a, b, w=w)
        self.snap = net.snap(tx, ty)
        for t, (e, f) in enumerate(zip(self.snap.edge, self.snap.fraction, strict=True)):
            g.add_node(("T", t))
            for end, share, seconds in ((net.target[e], 1 - f, net.forward_s[e]),
                                        (net.source[e], f, net.backward_s[e])):
                if np.isfinite(seconds):
                    g.add_edge(("T", t), int(end), w=share * seconds)

    def etas(self, ix, iy) -> np.ndarray:
        net, g, snap = self.net, self.graph, self.snap
        s = net.snap([ix], [iy])
        e, f, offset = int(s.edge[0]), float(s.fraction[0]), float(s.offset_m[0])
        g.add_node("I")
        for end, share, seconds in ((net.source[e], f, net.forward_s[e]),
                                    (net.target[e], 1 - f, net.backward_s[e])):
            if np.isfinite(seconds):
                g.add_edge(int(end), "I", w=share * seconds)
        for t in np.flatnonzero(snap.edge == e):  # straight along the issue's own road
            tf = snap.fraction[t]
            share, seconds = ((f - tf, net.forward_s[e]) if tf <= f
                              else (tf - f, net.backward_s[e]))
            if np.isfinite(seconds):
                g.add_edge(("T", int(t)), "I", w=min(share * seconds, g.get_edge_data(
                    ("T", int(t)), "I", {"w": np.inf})["w"]))
        times = nx.single_source_dijkstra_path_length(g.reverse(copy=False), "I", weight="w")
        g.remove_node("I")
        road = np.array([times.get(("T", t), np.nan) for t in range(len(snap.edge))])
        return road + (snap.offset_m + offset) / OFF_NETWORK_SPEED_MS, offset


def check_against_reference(ranked, ref: Reference, teams: TeamTable, ix, iy, everyone: bool):
    """Every team ranked by road has the reference's time; a team is ranked by road exactly
    when the reference finds a route and both ends are near a road, else by straight line;
    with `everyone`, no team is missing, else those missing are slower than all ranked."""
    expected, issue_offset = ref.etas(ix, iy)
    by_id = {m.team_id: m for m in ranked}
    for t, tid in enumerate(teams.ids):
        near = ref.snap.offset_m[t] <= SNAP_MAX_M and issue_offset <= SNAP_MAX_M
        if tid not in by_id:
            assert not everyone, f"team {tid} was dropped"
            slowest = max(m.eta_s for m in ranked)
            assert (expected[t] if near and np.isfinite(expected[t]) else
                    straight_line_eta(np.hypot(teams.x[t] - ix, teams.y[t] - iy))) >= slowest
            continue
        m = by_id[tid]
        if near and np.isfinite(expected[t]):
            assert m.basis == "road"
            assert m.eta_s == pytest.approx(expected[t], rel=1e-9, abs=1e-6)
        else:
            assert m.basis == "straight_line"
            assert m.eta_s == pytest.approx(straight_line_eta(m.distance_m))


def teams_at(x, y) -> TeamTable:
    lon, lat = from_metric(np.asarray(x), np.asarray(y))
    return TeamTable.from_rows([
        {"id": f"T{i:03d}", "name": f"队{i}", "kind": "enforcement", "status": "available",
         "roster": "A", "categories": ["L01"], "jurisdiction": ["220204001"], "lon": lo,
         "lat": la, "position_source": "live", "position_at": None}
        for i, (lo, la) in enumerate(zip(lon, lat, strict=True))])


@pytest.mark.parametrize("seed", range(4))
def test_every_team_eta_equals_networkx(seed):
    """1,000 issue points in all (250 a seed), every team each time."""
    rng = np.random.default_rng(seed)
    net = RoadNetwork(lattice_roads(rng))
    ox, oy = ORIGIN
    span = 14 * 250.0
    n = 40
    teams = teams_at(ox + rng.uniform(-400, span + 400, n), oy + rng.uniform(-400, span + 400, n))
    ref = Reference(net, teams.x, teams.y)
    bases = set()
    for _ in range(250):
        ix, iy = ox + rng.uniform(-300, span + 300), oy + rng.uniform(-300, span + 300)
        ranked = rank_by_eta(net, teams, ix, iy, n, TeamFilter(), Workload(policy=Policy(per_open_s=0)))
        check_against_reference(ranked, ref, teams, ix, iy, everyone=True)
        etas = [m.eta_s for m in ranked]
        assert etas == sorted(etas)
        bases |= {m.basis for m in ranked}
    assert bases == {"road", "straight_line"}


@pytest.mark.parametrize("seed", range(4))
def test_top_k_is_the_head_of_the_full_ranking(seed):
    """The bounded search gives the same first k as ranking every team."""
    rng = np.random.default_rng(100 + seed)
    net = RoadNetwork(lattice_roads(rng, n=20))
    ox, oy = ORIGIN
    span = 20 * 250.0
    teams = teams_at(ox + rng.uniform(0, span, 120), oy + rng.uniform(0, span, 120))
    for _ in range(30):
        ix, iy = ox + rng.uniform(0, span), oy + rng.uniform(0, span)
        full = rank_by_eta(net, teams, ix, iy, 120, TeamFilter(), geometry=False)
        for k in (1, 3, 5):
            head = rank_by_eta(net, teams, ix, iy, k, TeamFilter(), geometry=False)
            assert [m.team_id for m in head] == [m.team_id for m in full[:k]]
            assert [m.eta_s for m in head] == pytest.approx([m.eta_s for m in full[:k]])


def test_one_way_street_is_driven_only_forwards():
    """A one-way street from A to B: a team at A reaches B along it; a team at B must go
    round the block."""
    ox, oy = ORIGIN
    a, b = (ox, oy), (ox + 400, oy)
    square = [((ox + 400, oy), (ox + 400, oy + 400)), ((ox + 400, oy + 400), (ox, oy + 400)),
              ((ox, oy + 400), (ox, oy))]
    frame = gpd.GeoDataFrame({"name": ["单行道", "东", "北", "西"], "class": "local",
                              "oneway": [True, False, False, False], "speed_kmh": 36.0},
                             geometry=[shapely.LineString([a, b])] +
                             [shapely.LineString(s) for s in square], crs=4551)
    net = RoadNetwork(check_roads(frame))
    teams = teams_at([a[0] + 20, b[0] - 20], [a[1], b[1]])
    to_b = rank_by_eta(net, teams, b[0] - 10, b[1], 2, TeamFilter())
    assert to_b[0].team_id == "T001" and to_b[0].road_m == pytest.approx(10, abs=0.01)
    assert {m.team_id: m.road_m for m in to_b}["T000"] == pytest.approx(370, abs=0.01)
    # The issue 10 m behind T000 on the one-way street: T000 may not reverse, so it drives on
    # to B (380 m) and round the block (1,200 m) to come back along the street (10 m).
    to_a = {m.team_id: m for m in rank_by_eta(net, teams, a[0] + 10, a[1], 2, TeamFilter())}
    assert to_a["T000"].road_m == pytest.approx(380 + 1200 + 10, abs=0.01)
    assert to_a["T001"].road_m == pytest.approx(20 + 1200 + 10, abs=0.01)
    assert to_a["T001"].eta_s < to_a["T000"].eta_s


def test_fallback_off_the_network_and_without_route():
    rng = np.random.default_rng(3)
    net = RoadNetwork(lattice_roads(rng))
    ox, oy = ORIGIN
    far = teams_at([ox + 1000, ox - 5000, ox + 14 * 250 + 2150], [oy + 1000, oy, oy + 10])
    ranked = {m.team_id: m for m in rank_by_eta(net, far, ox + 1200, oy + 1200, 3, TeamFilter())}
    assert len(ranked) == 3  # no team is dropped
    assert ranked["T000"].basis == "road"
    assert ranked["T001"].basis == "straight_line" and "from the nearest road" in ranked["T001"].reason
    assert ranked["T001"].eta_s == pytest.approx(straight_line_eta(ranked["T001"].distance_m))
    assert ranked["T002"].basis == "straight_line"  # on the island
    assert "no road connects" in ranked["T002"].reason
    off = rank_by_eta(net, far, ox - 3000, oy - 3000, 3, TeamFilter())
    assert {m.basis for m in off} == {"straight_line"}
    assert f"more than {SNAP_MAX_M:,.0f} m" in off[0].reason
    assert rank_by_eta(None, far, ox, oy, 3, TeamFilter())[0].basis == "straight_line"


def test_workload_holds_back_a_team_at_its_limit():
    rng = np.random.default_rng(5)
    net = RoadNetwork(lattice_roads(rng))
    ox, oy = ORIGIN
    teams = teams_at([ox + 1000, ox + 2500, ox + 3000], [oy + 1000, oy + 1000, oy + 1000])
    plain = rank_by_eta(net, teams, ox + 1050, oy + 1000, 2, TeamFilter())
    assert plain[0].team_id == "T000"
    busy = Workload({"T000": 3}, Policy(max_open=3))
    ranked = rank_by_eta(net, teams, ox + 1050, oy + 1000, 2, TeamFilter(), busy)
    assert [m.team_id for m in ranked if m.recommended] == ["T001", "T002"]
    held = [m for m in ranked if not m.recommended]
    assert [m.team_id for m in held] == ["T000"] and "at the limit of 3" in held[0].reason
    assert held[0].rank == 0
    costly = Workload({"T000": 2}, Policy(max_open=3, per_open_s=10_000))
    first = rank_by_eta(net, teams, ox + 1050, oy + 1000, 1, TeamFilter(), costly)
    assert first[0].team_id == "T001" and first[0].open_assignments == 0


def test_a_loop_road_is_driven_the_way_its_time_was_found():
    """A 1,000 m loop hangs off a 300 m stem: a team 100 m into the loop drives back the
    100 m and down the stem, not on round the loop."""
    ox, oy = ORIGIN
    j = (ox + 300, oy)
    loop = shapely.LineString([j, (ox + 400, oy), (ox + 400, oy + 400), (ox + 300, oy + 400),
                               (ox + 300, oy + 100), j])
    frame = gpd.GeoDataFrame({"name": ["环路", "支线"], "class": "local", "oneway": False,
                              "speed_kmh": 36.0},
                             geometry=[loop, shapely.LineString([(ox, oy), j])], crs=4551)
    net = RoadNetwork(check_roads(frame))
    assert net.source[0] == net.target[0]  # the loop starts and ends at one junction
    team = teams_at([ox + 400], [oy + 1])  # 100 m + 1 m along the loop
    (m,) = rank_by_eta(net, team, ox + 10, oy, 1, TeamFilter())
    assert m.road_m == pytest.approx(101 + 290, abs=0.01)
    route = np.array(to_metric([p[0] for p in m.route], [p[1] for p in m.route])).T
    assert route[:, 1].max() < oy + 2  # it never went up the loop's far side
    (back,) = rank_by_eta(net, teams_at([ox + 10], [oy]), ox + 300, oy + 300, 1, TeamFilter())
    # The issue is 700 m along the loop, 300 m from the junction backwards: the short way.
    assert back.road_m == pytest.approx(290 + 300, abs=0.01)


def test_roads_meet_where_they_share_a_vertex_or_their_ends_nearly_touch():
    ox, oy = ORIGIN
    across = shapely.LineString([(ox, oy), (ox + 100, oy), (ox + 200, oy)])
    along = shapely.LineString([(ox + 100, oy - 100), (ox + 100, oy), (ox + 100, oy + 100)])
    over = shapely.LineString([(ox + 50, oy - 50), (ox + 50, oy + 50)])  # a bridge: no vertex
    frame = gpd.GeoDataFrame({"name": ["东西", "南北", "桥"], "class": ["local", "local", "bridge"]},
                             geometry=[across, along, over], crs=4551)
    roads = check_roads(frame)
    assert len(roads) == 5  # both streets cut at their shared vertex; the bridge whole
    net = RoadNetwork(roads)
    parts = net.component[net.source]
    assert len(set(parts[roads["name"] != "桥"])) == 1
    assert parts[roads["name"] == "桥"][0] not in set(parts[roads["name"] != "桥"])
    # Ends 0.02 m apart join, whichever side of any lattice line they fall.
    a = shapely.LineString([(ox + 0.24, oy), (ox + 100, oy)])
    b = shapely.LineString([(ox - 100, oy), (ox + 0.26, oy)])
    net = RoadNetwork(check_roads(gpd.GeoDataFrame({"name": ["a", "b"]}, geometry=[a, b],
                                                   crs=4551)))
    assert net.n_nodes == 3


def test_bad_rows_are_named_by_their_place_in_the_file():
    ox, oy = ORIGIN
    line = shapely.LineString([(ox, oy), (ox + 100, oy)])
    multi = shapely.MultiLineString([[(ox, oy + 10), (ox + 50, oy + 10)],
                                     [(ox, oy + 20), (ox + 50, oy + 20)]])
    frame = gpd.GeoDataFrame({"name": ["一", "二", "三"], "class": ["local", "local", "lane"]},
                             geometry=[multi, line, line], crs=4551)
    with pytest.raises(RoadError, match=r"row 3 \(三\) has the road class lane"):
        check_roads(frame)
    frame = gpd.GeoDataFrame({"name": ["一", "二"]}, geometry=[line, None], crs=4551)
    with pytest.raises(RoadError, match=r"row 2 \(二\) has no geometry"):
        check_roads(frame)


def test_held_teams_are_listed_after_the_recommended_and_at_most_k():
    rng = np.random.default_rng(8)
    net = RoadNetwork(lattice_roads(rng))
    ox, oy = ORIGIN
    teams = teams_at(ox + 500 + 100 * np.arange(8), np.full(8, oy + 1000))
    full = Workload({f"T{i:03d}": 3 for i in range(7)}, Policy(max_open=3))
    ranked = rank_by_eta(net, teams, ox + 480, oy + 1000, 3, TeamFilter(), full)
    assert [m.recommended for m in ranked] == [True, False, False, False]
    assert ranked[0].team_id == "T007" and ranked[0].rank == 1
    assert [m.rank for m in ranked[1:]] == [0, 0, 0]
    by_eta = [m.team_id for m in rank_by_eta(net, teams, ox + 480, oy + 1000, 8, TeamFilter())]
    assert [m.team_id for m in ranked[1:]] == [t for t in by_eta if t != "T007"][:3]
