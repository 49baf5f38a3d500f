"""The road layer on both backends: stored and read back unchanged, refused whole when bad,
and ranked alike by the in-process search, networkx and (on PostGIS) pgRouting."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from geo.crs import from_metric
from geo.model import TeamFilter
from geo.roads.frame import RoadError
from geo.roads.network import RoadNetwork
from geo.roads.pgrouting import pgrouting_eta
from geo.store.base import StoreError
from tests.test_eta import independent_eta, lattice_roads

FILTER = TeamFilter(category="L01", statuses=("available",))


def city_roads(seed: int = 1):
    """A street lattice over the test city's centre, with one-way streets and an island."""
    roads = lattice_roads(np.random.default_rng(seed), n=50, spacing=220.0)
    metric = roads.to_crs(4551)
    metric["geometry"] = metric.geometry.translate(-5500, -5500)
    return metric.to_crs(4326)


def points(rng, n):
    return 126.55 + rng.uniform(-0.05, 0.05, n), 43.84 + rng.uniform(-0.04, 0.04, n)


def test_roads_round_trip_unchanged(store):
    roads = city_roads()
    assert store.add_roads(roads) == len(roads)
    back = store.read_layer("roads")
    assert list(back.columns) == ["name", "class", "oneway", "speed_kmh", "geometry"]
    assert back["name"].tolist() == roads["name"].tolist()
    assert back["oneway"].tolist() == roads["oneway"].tolist()
    assert np.array_equal(back["speed_kmh"].to_numpy(), roads["speed_kmh"].to_numpy())
    assert shapely.equals_exact(back.geometry.values, roads.geometry.values, tolerance=0).all()
    assert store.counts(("roads",)) == {"roads": len(roads)}


def test_bad_layer_writes_nothing_and_replace_is_explicit(store):
    roads = city_roads()
    store.add_roads(roads)
    first = store.road_network()
    broken = roads.copy()
    broken.loc[5, "class"] = "motorway_link"
    with pytest.raises(RoadError, match="row 6 .*motorway_link"):
        store.add_roads(broken)
    with pytest.raises(StoreError, match="already holds"):
        store.add_roads(roads.iloc[:10], replace=False)
    assert store.counts(("roads",))["roads"] == len(roads)
    assert store.road_network() is first  # nothing changed: the cached graph stands
    store.add_roads(roads.iloc[:100])
    assert len(store.road_network()) == 100  # a new revision, a new graph


def test_eta_agrees_with_networkx_for_every_team(store):
    store.add_roads(city_roads())
    net = RoadNetwork(store.read_layer("roads"))
    teams = store._teams_passing(FILTER)
    lon, lat = points(np.random.default_rng(2), 12)
    for x, y in zip(lon, lat, strict=True):
        ranked = store.nearest_by_eta(x, y, 100, FILTER, geometry=False)
        assert {m.team_id for m in ranked} == set(teams.ids)  # none dropped
        from geo.crs import to_metric
        ix, iy = (float(v[0]) for v in to_metric([x], [y]))
        by_id = {m.team_id: m for m in ranked}
        for t, tid in enumerate(teams.ids):
            expected = independent_eta(net, teams.x[t], teams.y[t], ix, iy)
            if by_id[tid].basis == "road":
                assert by_id[tid].eta_s == pytest.approx(expected, rel=1e-9)


def test_backends_rank_alike(sqlite_store, pg_store):
    roads = city_roads(3)
    sqlite_store.add_roads(roads)
    pg_store.add_roads(roads)
    lon, lat = points(np.random.default_rng(4), 300)
    a = sqlite_store.nearest_by_eta_many(lon, lat, 3, FILTER)
    b = pg_store.nearest_by_eta_many(lon, lat, 3, FILTER)
    assert len(a) == 900
    assert a[["point", "rank", "team_id", "basis"]].equals(b[["point", "rank", "team_id", "basis"]])
    assert np.allclose(a.eta_s, b.eta_s, rtol=1e-9)


def test_pgrouting_gives_the_same_times(pg_store):
    pg_store.add_roads(city_roads(5))
    teams = pg_store._teams_passing(FILTER)
    tlon, tlat = from_metric(teams.x, teams.y)
    lon, lat = points(np.random.default_rng(6), 15)
    compared = 0
    for x, y in zip(lon, lat, strict=True):
        ours = {m.team_id: m for m in pg_store.nearest_by_eta(x, y, 100, FILTER, geometry=False)}
        theirs = pgrouting_eta(pg_store, (x, y), tlon, tlat)
        for tid, eta in zip(teams.ids, theirs, strict=True):
            if ours[tid].basis == "road":
                assert eta == pytest.approx(ours[tid].eta_s, rel=1e-6)
                compared += 1
            elif "no route" in ours[tid].reason or "no road connects" in ours[tid].reason:
                assert np.isnan(eta)
    assert compared > 100
