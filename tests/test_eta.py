"""Travel-time ranking against an independent shortest path: networkx's Dijkstra on the same
roads, with each team's and each issue's road point put into the graph as a node of its own."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely

from geo.crs import from_metric, to_metric
from geo.model import TeamFilter, Workload
from geo.roads.classes import OFF_NETWORK_SPEED_MS, SNAP_MAX_M
from geo.roads.eta import straight_line_eta
from geo.roads.frame import check_roads
from geo.roads.network import RoadNetwork
from geo.roads.ranking import rank_by_eta
from geo.teamrank import TeamTable

ORIGIN = tuple(float(v[0]) for v in to_metric([126.55], [43.84]))


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


def independent_eta(net: RoadNetwork, tx, ty, ix, iy) -> float:
    """The shortest time by networkx, the road points made nodes: the reference."""
    g = nx.DiGraph()
    for e in range(len(net)):
        u, v = int(net.source[e]), int(net.target[e])
        for a, b, w in ((u, v, net.forward_s[e]), (v, u, net.backward_s[e])):
            if np.isfinite(w) and a != b and (not g.has_edge(a, b) or g[a][b]["w"] > w):
                g.add_edge(a, b, w=w)
    (te,), (tf,), (toff,) = (np.atleast_1d(v) for v in _snap(net, tx, ty))
    (ie,), (i_f,), (ioff,) = (np.atleast_1d(v) for v in _snap(net, ix, iy))
    for e, f, node, into in ((te, tf, "T", False), (ie, i_f, "I", True)):
        u, v = int(net.source[e]), int(net.target[e])
        fwd, bwd = net.forward_s[e], net.backward_s[e]
        legs = ((u, f, fwd), (v, 1 - f, bwd)) if into else ((v, 1 - f, fwd), (u, f, bwd))
        for end, share, seconds in legs:
            if np.isfinite(seconds):
                w = share * seconds
                g.add_edge(*((end, node) if into else (node, end)), w=w)
    if te == ie:
        share, seconds = ((i_f - tf, net.forward_s[te]) if tf <= i_f
                          else (tf - i_f, net.backward_s[te]))
        if np.isfinite(seconds):
            w = share * seconds
            g.add_edge("T", "I", w=min(w, g["T"]["I"]["w"]) if g.has_edge("T", "I") else w)
    try:
        road = nx.dijkstra_path_length(g, "T", "I", weight="w")
    except nx.NetworkXNoPath:
        return np.nan
    return road + (toff + ioff) / OFF_NETWORK_SPEED_MS


def _snap(net, x, y):
    s = net.snap([x], [y])
    return s.edge, s.fraction, s.offset_m


def teams_at(x, y) -> TeamTable:
    lon, lat = from_metric(np.asarray(x), np.asarray(y))
    return TeamTable.from_rows([
        {"id": f"T{i:03d}", "name": f"队{i}", "kind": "enforcement", "status": "available",
         "roster": "A", "categories": ["L01"], "jurisdiction": ["220204001"], "lon": lo,
         "lat": la, "position_source": "live", "position_at": None}
        for i, (lo, la) in enumerate(zip(lon, lat, strict=True))])


@pytest.mark.parametrize("seed", range(6))
def test_every_team_eta_equals_networkx(seed):
    rng = np.random.default_rng(seed)
    net = RoadNetwork(lattice_roads(rng))
    ox, oy = ORIGIN
    span = 14 * 250.0
    n = 40
    teams = teams_at(ox + rng.uniform(-100, span + 100, n), oy + rng.uniform(-100, span + 100, n))
    for _ in range(25):
        ix, iy = ox + rng.uniform(0, span), oy + rng.uniform(0, span)
        ranked = rank_by_eta(net, teams, ix, iy, n, TeamFilter(), Workload(per_open_s=0))
        assert len(ranked) == n  # every team is ranked: none is dropped
        by_id = {m.team_id: m for m in ranked}
        for t in range(n):
            m = by_id[teams.ids[t]]
            expected = independent_eta(net, teams.x[t], teams.y[t], ix, iy)
            if np.isnan(expected):
                assert m.basis == "straight_line"
            elif m.basis == "road":
                assert m.eta_s == pytest.approx(expected, rel=1e-9, abs=1e-6)
        etas = [m.eta_s for m in ranked]
        assert etas == sorted(etas)


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
    busy = Workload(open_assignments={"T000": 3}, max_open=3)
    ranked = rank_by_eta(net, teams, ox + 1050, oy + 1000, 2, TeamFilter(), busy)
    assert [m.team_id for m in ranked if m.recommended] == ["T001", "T002"]
    held = [m for m in ranked if not m.recommended]
    assert [m.team_id for m in held] == ["T000"] and "at the limit of 3" in held[0].reason
    assert held[0].rank == 0
    costly = Workload(open_assignments={"T000": 2}, max_open=3, per_open_s=10_000)
    first = rank_by_eta(net, teams, ox + 1050, oy + 1000, 1, TeamFilter(), costly)
    assert first[0].team_id == "T001" and first[0].open_assignments == 0
