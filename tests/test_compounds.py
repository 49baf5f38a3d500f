"""Compounds (小区) and buildings (楼栋) below the grid, on both backends: the demo layers in the
seed's proportions; locate into them against a brute-force oracle (shapely) at random points
and at every vertex, with the grids' tie rule where imported compounds share edges; the bulk
load fills issues' compound and building; the command line's locate columns, export and
import (a round trip, and a bad file refused with nothing written)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import shapely.affinity

from api.cli import main
from fixtures.compounds import scaled
from geo.crs import STORAGE_EPSG


def smallest_covering(frame: gpd.GeoDataFrame, lon, lat) -> np.ndarray:
    """The tie rule by brute force: per point, the smallest code of the polygons whose closed
    polygon covers it (None when none does)."""
    codes = frame.code.to_numpy(dtype=object)
    tree = shapely.STRtree(frame.geometry.to_numpy())
    point, poly = tree.query(shapely.points(lon, lat), predicate="covered_by")
    want = np.full(len(lon), None, dtype=object)
    smallest = pd.Series(codes[poly]).groupby(point).min()
    want[smallest.index.to_numpy()] = smallest.to_numpy()
    return want


def points_around(frame: gpd.GeoDataFrame, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random points in boxes a little larger than the polygons: inside, near and outside."""
    rng = np.random.default_rng(seed)
    b = shapely.bounds(frame.geometry.to_numpy())[rng.integers(0, len(frame), n)]
    pad = 0.0005
    return (rng.uniform(b[:, 0] - pad, b[:, 2] + pad), rng.uniform(b[:, 1] - pad, b[:, 3] + pad))


def url_of(store) -> str:
    return store.url if store.backend == "postgis" else f"sqlite:///{store.path}"


def test_demo_compounds_follow_the_seed_and_stay_inside_their_community(city):
    target = scaled(len(city.grids))
    compounds, buildings = city.compounds, city.buildings
    assert len(compounds) == target["compounds"] and len(city.property_companies) == 42
    assert 0.8 < len(buildings) / target["buildings"] < 1.25
    heads = city.resident_heads
    a, b = (heads.roster == "A").sum(), (heads.roster == "B").sum()
    # One A-roster head for every compound, building and unit; B in the seed's proportion.
    assert a == len(compounds) + len(buildings) + len(city.building_units)
    assert abs(b / a - 1789 / 3514) < 0.01 and (heads.agency[heads.roster == "B"] != "").all()
    assert shapely.is_valid(compounds.geometry.to_numpy()).all()
    outline = city.communities.set_index("code").geometry
    assert all(shapely.covers(outline[c].buffer(1e-9), g)
               for c, g in zip(compounds.community_code, compounds.geometry, strict=True))
    for frame in (compounds, buildings):
        geoms = frame.geometry.to_numpy()
        i, j = shapely.STRtree(geoms).query(geoms, predicate="intersects")
        assert (i == j).all()  # no two overlap or touch
    parent = compounds.set_index("code").geometry
    assert all(parent[c].contains(g)
               for c, g in zip(buildings.compound_code, buildings.geometry, strict=True))
    assert set(compounds.property_company_id.dropna()) == set(city.property_companies.id)
    # A compound by the school gate, none around it; 北极街道 has residential compounds.
    lon, lat = city.landmarks["电东胡同小学门口"]
    gate = shapely.Point(lon, lat)
    assert not shapely.covers(compounds.geometry.to_numpy(), gate).any()
    assert shapely.distance(compounds.geometry.to_numpy(), gate).min() < 0.005
    beiji = city.streets.code[city.streets.name == "北极街道"].iloc[0]
    assert (compounds.code.str[:9] == beiji).sum() >= 5


def test_locate_into_compounds_and_buildings_matches_brute_force(store, city):
    """Random points around compounds and buildings and every vertex of both: batch and
    single locate give the covering compound and building (None outside), and the issues
    bulk-loaded were given the same."""
    compounds, buildings = city.compounds, city.buildings
    vertices = np.unique(np.vstack([shapely.get_coordinates(compounds.geometry.to_numpy()),
                                    shapely.get_coordinates(buildings.geometry.to_numpy())]),
                         axis=0)
    clon, clat = points_around(compounds, 1500, 1)
    blon, blat = points_around(buildings, 1500, 2)
    lon = np.r_[vertices[:, 0], clon, blon]
    lat = np.r_[vertices[:, 1], clat, blat]
    got = store.locate_many(lon, lat)
    want_c = smallest_covering(compounds, lon, lat)
    want_b = smallest_covering(buildings, lon, lat)
    assert got.compound_code.tolist() == want_c.tolist()
    assert got.building_code.tolist() == want_b.tolist()
    assert 0.1 < pd.notna(want_b).mean() and pd.notna(want_c).mean() < 0.95  # both kinds tried
    names = dict(zip(compounds.code, compounds.name, strict=True)) | dict(
        zip(buildings.code, buildings.name, strict=True))
    for k in np.r_[np.arange(0, len(vertices), 97), len(vertices) + np.arange(0, 3000, 151)]:
        one = store.locate_below(lon[k], lat[k])
        assert (one.compound_code, one.building_code) == (want_c[k], want_b[k])
        assert one.compound_name == names.get(want_c[k])
        assert one.building_name == names.get(want_b[k])
    issues = city.issues
    with store.snapshot() as tx:
        stored = tx.rows("SELECT compound_code, building_code FROM issue ORDER BY reported_at, id")
    order = np.argsort(pd.to_datetime(issues.reported_at, utc=True).to_numpy(), kind="stable")
    x, y = issues.geometry.x.to_numpy()[order], issues.geometry.y.to_numpy()[order]
    assert [r["compound_code"] for r in stored] == smallest_covering(compounds, x, y).tolist()
    assert [r["building_code"] for r in stored] == smallest_covering(buildings, x, y).tolist()


def test_import_export_round_trip_and_the_tie_rule_on_shared_edges(store, city, tmp_path):
    """Export writes both layers with a code column, import reads them back; compounds drawn
    as a community's grids (sharing edges and vertices exactly) give every vertex to the
    smallest code, as for grids; the stored issues are located anew."""
    db = url_of(store)
    for layer in ("compounds", "buildings"):
        assert main(["--db", db, "export", layer, "-o", str(tmp_path / f"{layer}.gpkg")]) == 0
    out = gpd.read_file(tmp_path / "compounds.gpkg")
    assert sorted(out.code) == sorted(city.compounds.code)
    assert main(["--db", db, "import-compounds", str(tmp_path / "compounds.gpkg"),
                 "--buildings", str(tmp_path / "buildings.gpkg")]) == 2  # it holds some
    assert main(["--db", db, "import-compounds", str(tmp_path / "compounds.gpkg"),
                 "--buildings", str(tmp_path / "buildings.gpkg"), "--replace"]) == 0
    back = store.read_layer("buildings")
    assert sorted(back.code) == sorted(city.buildings.code)
    assert shapely.equals_exact(back.sort_values("code").geometry.to_numpy(),
                                city.buildings.sort_values("code").geometry.to_numpy(),
                                1e-7).all()
    # A community's grids as compounds: neighbours share edges, corners are shared by up to four.
    community = city.grids.community_code.value_counts().index[0]
    tiles = city.grids[city.grids.community_code == community].sort_values("code")
    tiled = gpd.GeoDataFrame({"code": [f"{community}XQ{k:03d}" for k in range(1, len(tiles) + 1)],
                              "name": [f"试点{k}小区" for k in range(1, len(tiles) + 1)],
                              "households": 100}, geometry=tiles.geometry.to_numpy(),
                             crs=STORAGE_EPSG)
    path = tmp_path / "tiles.geojson"
    tiled.to_file(path, driver="GeoJSON")
    assert main(["--db", db, "import-compounds", str(path), "--replace"]) == 0
    vertices = np.unique(shapely.get_coordinates(tiled.geometry.to_numpy()), axis=0)
    want = smallest_covering(tiled, vertices[:, 0], vertices[:, 1])
    assert (pd.Series(want).notna()).all()
    got = store.locate_many(vertices[:, 0], vertices[:, 1])
    assert got.compound_code.tolist() == want.tolist()
    assert got.building_code.isna().all()  # the buildings went with the compounds replaced
    assert [store.locate_below(x, y).compound_code for x, y in vertices] == want.tolist()
    issues = store.read_layer("issues")
    with store.snapshot() as tx:
        stored = {r["id"]: r["compound_code"] for r in tx.rows("SELECT id, compound_code FROM "
                                                              "issue")}
    expect = smallest_covering(tiled, issues.geometry.x.to_numpy(), issues.geometry.y.to_numpy())
    assert [stored[i] for i in issues.id] == expect.tolist()


@pytest.mark.parametrize("problem", ["overlap", "outside", "missing", "company"])
def test_a_bad_file_is_refused_naming_its_row_and_nothing_is_written(sqlite_store, city,
                                                                     tmp_path, capsys, problem):
    store = sqlite_store
    good = city.compounds.sort_values("code").head(4).copy()
    bad = good.copy()
    row = 3  # the file's third feature is the bad one
    if problem == "overlap":
        bad.loc[bad.index[2], "geometry"] = good.geometry.iloc[1].buffer(0.0001)
    elif problem == "outside":
        bad.loc[bad.index[2], "geometry"] = shapely.affinity.translate(good.geometry.iloc[2],
                                                                      0.5, 0)
    elif problem == "missing":
        bad = bad.drop(columns=["households"])
    else:
        bad["property_company_id"] = bad["property_company_id"].astype(object)
        bad.loc[bad.index[2], "property_company_id"] = "PC999"
    path = tmp_path / "bad.geojson"
    bad.to_file(path, driver="GeoJSON")
    with store.snapshot() as tx:
        before = (tx.one("SELECT count(*) AS n FROM compound")["n"],
                  tx.one("SELECT count(*) AS n FROM building")["n"])
    capsys.readouterr()
    assert main(["--db", url_of(store), "import-compounds", str(path), "--replace"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err
    if problem != "missing":
        assert str(row) in err and bad.code.iloc[2] in err
    else:
        assert "households" in err
    with store.snapshot() as tx:
        after = (tx.one("SELECT count(*) AS n FROM compound")["n"],
                 tx.one("SELECT count(*) AS n FROM building")["n"])
    assert after == before == (len(city.compounds), len(city.buildings))


def test_cli_locate_writes_the_compound_and_building_columns(store, city, tmp_path):
    b = city.buildings.iloc[0]
    inside = b.geometry.representative_point()
    yard = city.compounds.set_index("code").geometry[b.compound_code].difference(
        shapely.union_all(city.buildings.geometry.to_numpy()).buffer(0.00002))
    yard_point = yard.representative_point()
    src = tmp_path / "in.csv"
    src.write_text(f"id,lon,lat\nb,{inside.x},{inside.y}\ny,{yard_point.x},{yard_point.y}\n"
                   "o,126.0,43.0\n")
    dst = tmp_path / "out.csv"
    assert main(["--db", url_of(store), "locate", str(src), "-o", str(dst)]) == 0
    out = pd.read_csv(dst, dtype=str, keep_default_na=False)
    assert list(out.columns) == ["id", "grid_code", "community_code", "street_code",
                                 "district_code", "compound_code", "building_code"]
    assert out.compound_code.tolist() == [b.compound_code, b.compound_code, ""]
    assert out.building_code.tolist() == [b.code, "", ""]
