"""The road layer on both backends: stored and read back unchanged, refused whole when bad,
and ranked alike by the in-process search, networkx and (on PostGIS) pgRouting."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from geo.crs import from_metric, to_metric
from geo.i18n import using
from geo.model import TeamFilter
from geo.roads.frame import RoadError
from geo.roads.network import RoadNetwork
from geo.roads.pgrouting import pgrouting_eta
from geo.store.base import StoreError
from tests.test_eta import Reference, check_against_reference, lattice_roads

FILTER = TeamFilter(category="L01", statuses=("available",))

@pytest.fixture(autouse=True)
def english():
    """The core's messages as their English ids: outside a request the language is Chinese
    (tests/test_i18n_*.py test the choosing and the translations)."""
    with using("en"):
        yield


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
    assert store.add_roads(roads, replace=True) == len(roads)
    back = store.read_layer("roads")
    assert list(back.columns) == ["name", "class", "oneway", "speed_kmh", "geometry"]
    assert back["name"].tolist() == roads["name"].tolist()
    assert back["oneway"].tolist() == roads["oneway"].tolist()
    assert np.array_equal(back["speed_kmh"].to_numpy(), roads["speed_kmh"].to_numpy())
    assert shapely.equals_exact(back.geometry.values, roads.geometry.values, tolerance=0).all()
    assert store.counts(("roads",)) == {"roads": len(roads)}


def test_bad_layer_writes_nothing_and_replace_is_explicit(store):
    roads = city_roads()
    store.add_roads(roads, replace=True)
    first = store.road_network()
    broken = roads.copy()
    broken.loc[5, "class"] = "motorway_link"
    with pytest.raises(RoadError, match="row 6 .*motorway_link"):
        store.add_roads(broken, replace=True)
    with pytest.raises(StoreError, match="already holds"):
        store.add_roads(roads.iloc[:10], replace=False)
    assert store.counts(("roads",))["roads"] == len(roads)
    assert store.road_network() is first  # nothing changed: the cached graph stands
    store.add_roads(roads.iloc[:100], replace=True)
    assert len(store.road_network()) == 100  # a new revision, a new graph


def test_eta_agrees_with_networkx_for_every_team(store):
    store.add_roads(city_roads(), replace=True)
    net = RoadNetwork(store.read_layer("roads"))  # the network as exported, read afresh
    teams = store._teams_passing(FILTER)
    ref = Reference(net, teams.x, teams.y)
    lon, lat = points(np.random.default_rng(2), 40)
    for x, y in zip(lon, lat, strict=True):
        ranked = store.nearest_by_eta(x, y, 100, FILTER, geometry=False)
        assert len(ranked) == min(100, len(teams.ids))
        ix, iy = (float(v[0]) for v in to_metric([x], [y]))
        check_against_reference(ranked, ref, teams, ix, iy, everyone=len(teams.ids) <= 100)


def test_backends_rank_alike(sqlite_store, pg_store):
    roads = city_roads(3)
    sqlite_store.add_roads(roads, replace=True)
    pg_store.add_roads(roads, replace=True)
    lon, lat = points(np.random.default_rng(4), 300)
    a = sqlite_store.nearest_by_eta_many(lon, lat, 3, FILTER)
    b = pg_store.nearest_by_eta_many(lon, lat, 3, FILTER)
    assert len(a) == 900
    assert a[["point", "rank", "team_id", "basis"]].equals(b[["point", "rank", "team_id", "basis"]])
    assert np.allclose(a.eta_s, b.eta_s, rtol=1e-9)


def test_pgrouting_gives_the_same_times(pg_store):
    pg_store.add_roads(city_roads(5), replace=True)
    teams = pg_store._teams_passing(FILTER)
    tlon, tlat = from_metric(teams.x, teams.y)
    lon, lat = points(np.random.default_rng(6), 15)
    compared = 0
    for x, y in zip(lon, lat, strict=True):
        ours = {m.team_id: m for m in pg_store.nearest_by_eta(x, y, 100, FILTER, geometry=False)}
        theirs = pgrouting_eta(pg_store, (x, y), tlon, tlat)
        for tid, eta in zip(teams.ids, theirs, strict=True):
            if tid not in ours:  # beyond the first 100
                continue
            if ours[tid].basis == "road":
                assert eta == pytest.approx(ours[tid].eta_s, rel=1e-6)
                compared += 1
            elif "no route" in ours[tid].reason or "no road connects" in ours[tid].reason:
                assert np.isnan(eta)
    assert compared > 100


def test_workload_counts_only_the_work_a_team_still_has(store):
    """Active assignments count while their issue is dispatched or claimed; one the team has
    resolved, or that waits for a check or a rating, does not."""
    from geo.casework.workload import read_workload
    from geo.model import DEFAULT_POLICY

    with store.snapshot() as tx:
        rows = tx.rows("SELECT a.team_id, i.state FROM assignment a JOIN issue i "
                       "ON i.id = a.issue_id WHERE a.active")
        workload = read_workload(tx, DEFAULT_POLICY)
    busy: dict[str, int] = {}
    for r in rows:
        if r["state"] in ("dispatched", "claimed"):
            busy[r["team_id"]] = busy.get(r["team_id"], 0) + 1
    assert workload.open_assignments == busy
    done = {r["team_id"] for r in rows if r["state"] in ("resolved", "checked", "closed")}
    assert done - set(busy)  # some teams have only finished work: they count as free
