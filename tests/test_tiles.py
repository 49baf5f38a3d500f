"""Vector tiles (/tiles/{layer}/{z}/{x}/{y}.mvt) over real HTTP on both backends (PostGIS
encodes with ST_AsMVT, the embedded one with mapbox-vector-tile), read back by GDAL's MVT
driver: the areas a tile meets, drawn where the store has them, with the open issues the
reader may see counted independently from the issues held."""

from __future__ import annotations

import pyogrio
import pytest
import shapely

from geo.tiles import postgis, serve
from geo.tiles.pyramid import EXTENT, MERCATOR_EPSG, Tile
from geo.workflow import OPEN_STATES

SCHOOL = "电东胡同小学门口"  # in the demo staff's street
FOREIGN = "劳动路"  # nobody's but the admin's
MVT = "application/vnd.mapbox-vector-tile"
# Each layer at a zoom where a tile holds several of its areas.
ZOOMS = {"grids": 15, "communities": 13, "streets": 11, "districts": 9}
PARENTS = {"grids": ("community_code", "street_code", "district_code"),
           "communities": ("street_code",), "streets": ("district_code",), "districts": ()}


def get_tile(client, layer: str, tile: Tile, tmp_path):
    """The tile as GDAL reads it (EPSG:3857, clipped to the tile), or None when empty."""
    r = client.get(f"/tiles/{layer}/{tile.z}/{tile.x}/{tile.y}.mvt")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == MVT and "private" in r.headers["cache-control"]
    if not r.content:
        return None
    path = tmp_path / f"{layer}-{tile.z}-{tile.x}-{tile.y}.mvt"
    path.write_bytes(r.content)
    return pyogrio.read_dataframe(path, layer=layer, X=str(tile.x), Y=str(tile.y), Z=str(tile.z))


def stored(store, layer: str):
    return store.read_layer(layer).set_index("code")


def open_counts(store, unit: str, may_see) -> dict[str, int]:
    """Open issues per area, counted from the issues held (not through the API)."""
    issues = store.read_layer("issues")
    issues = issues[issues.state.isin(OPEN_STATES) & issues.grid_code.notna()]
    counts: dict[str, int] = {}
    for code, grid in zip(issues[unit], issues.grid_code, strict=True):
        if may_see(grid):
            counts[code] = counts.get(code, 0) + 1
    return counts


UNIT = {"grids": "grid_code", "communities": "community_code", "streets": "street_code",
        "districts": "district_code"}


@pytest.mark.parametrize("layer", list(ZOOMS))
def test_a_tile_holds_every_area_it_meets_where_the_store_draws_it(api, store, city, layer,
                                                                  tmp_path):
    lon, lat = city.landmarks[SCHOOL]
    tile = Tile.containing(lon, lat, ZOOMS[layer])
    with api.client("admin") as c:
        got = get_tile(c, layer, tile, tmp_path)
    assert got is not None and got.crs.to_epsg() == MERCATOR_EPSG
    areas = stored(store, layer)
    box = shapely.box(*tile.lonlat_bounds())
    meeting = areas[areas.intersects(box) & ~areas.touches(box)]
    got = got.set_index("code")
    assert set(got.index) == set(meeting.index)
    assert (got.mvt_id.astype(str) == got.index).all()  # the code is the feature id too
    # Drawn where the store has them: within half a tile unit of the stored outline, clipped.
    unit_m = tile.size_m / EXTENT
    clip = shapely.box(*tile.mercator_bounds())
    want = meeting.to_crs(MERCATOR_EPSG).intersection(clip)
    for code, shape in got.geometry.items():
        off = shapely.symmetric_difference(shape, want[code]).area
        assert off <= want[code].length * unit_m, (code, off, want[code].length * unit_m)
    for column in ("name", *PARENTS[layer]):
        assert (got[column] == meeting.loc[got.index, column]).all(), column
    if layer == "grids":
        assert (got.households == meeting.loc[got.index, "households"]).all()
    counts = open_counts(store, UNIT[layer], lambda grid: True)
    assert (got.open == [counts.get(code, 0) for code in got.index]).all()
    assert got.open.sum() > 0  # the demo city has open issues around the school


def test_a_tile_counts_only_the_issues_its_reader_may_see(api, store, city, tmp_path):
    with api.client("admin") as admin:  # an issue where the operator may not look
        lon, lat = city.landmarks[FOREIGN]
        assert admin.post("/api/v1/issues", json={"category_code": "L01", "lon": lon,
                                                  "lat": lat}).status_code == 201
    with api.client("operator") as c:
        mine = tuple(c.get("/api/v1/users/me").json()["jurisdiction"])
        for place in (SCHOOL, FOREIGN):
            tile = Tile.containing(*city.landmarks[place], 15)
            got = get_tile(c, "grids", tile, tmp_path).set_index("code")
            with api.client("admin") as admin:
                everything = get_tile(admin, "grids", tile, tmp_path).set_index("code")
            assert list(got.index) == list(everything.index)  # the same grids, drawn alike
            counts = open_counts(store, "grid_code", lambda grid: grid.startswith(mine))
            assert (got.open == [counts.get(code, 0) for code in got.index]).all()
            if place == FOREIGN:
                assert got.open.sum() == 0 < everything.open.sum()
            else:
                assert got.open.sum() > 0


def test_tiles_are_refused_with_a_reason(api):
    with api.client("admin") as c:
        low = c.get("/tiles/grids/8/216/94.mvt")
        assert low.status_code == 404 and low.json()["code"] == "no_such_tile"
        assert "网格瓦片的缩放级别为 12 至 18" in low.json()["detail"]
        beyond = c.get("/tiles/grids/13/8192/0.mvt")
        assert beyond.status_code == 404 and "0 至 8191" in beyond.json()["detail"]
        assert c.get("/tiles/roads/13/0/0.mvt").status_code == 404
        assert c.get("/tiles/grids/19/0/0.mvt").status_code == 422
        assert c.get("/tiles/grids/13/1/1.mvt", params={"bbox": "1"}).status_code == 422
        assert c.get("/tiles/grids/13/1/1.mvt", headers={"Accept-Language": "en"}).status_code == 200
    with api.client() as anonymous:
        assert anonymous.get("/tiles/grids/13/1/1.mvt").status_code == 401
        assert anonymous.get("/tiles/grids.json").status_code == 401


def test_a_tile_too_full_to_serve_is_refused_not_cut(api, city, monkeypatch):
    lon, lat = city.landmarks[SCHOOL]
    tile = Tile.containing(lon, lat, 12)
    for module in (serve, postgis):
        monkeypatch.setattr(module, "MAX_FEATURES", 3)
    with api.client("admin", lang="en") as c:
        r = c.get(f"/tiles/grids/{tile.z}/{tile.x}/{tile.y}.mvt")
    assert r.status_code == 422 and r.json()["code"] == "tile_too_large"
    assert "more than 3 grids" in r.json()["detail"]


def test_tilejson_describes_the_tiles_a_client_then_reads(api, city, tmp_path):
    lon, lat = city.landmarks[SCHOOL]
    with api.client("admin") as c:
        doc = c.get("/tiles/grids.json").json()
        assert doc["tilejson"] == "3.0.0" and doc["minzoom"] == 12 and doc["maxzoom"] == 18
        west, south, east, north = doc["bounds"]
        assert west < lon < east and south < lat < north
        tile = Tile.containing(lon, lat, 15)
        url = doc["tiles"][0].format(z=tile.z, x=tile.x, y=tile.y)
        assert url.startswith(api.url)
        got = get_tile(c, "grids", tile, tmp_path)
    fields = doc["vector_layers"][0]["fields"]
    assert set(got.columns) - {"mvt_id", "geometry"} <= set(fields)
    assert {"code", "name", "open", "yellow", "overdue", "worst_light"} <= set(fields)
