"""GeoJSON layers (RFC 7946): bbox filters, paging, open/overdue counts, caching headers."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import shape

from geo.crs import to_metric

SCHOOL = "电东胡同小学门口"


def features(r):
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/geo+json")
    doc = r.json()
    assert doc["type"] == "FeatureCollection"
    for f in doc["features"]:
        assert f["type"] == "Feature" and "id" in f and isinstance(f["properties"], dict)
        assert shape(f["geometry"]).is_valid
    return doc


def test_grids_in_a_bbox_with_counts(api, city):
    lon, lat = city.landmarks[SCHOOL]
    box = (lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01)
    with api.client("dispatcher") as c:
        iid = c.post("/api/v1/issues", json={"category_code": "L01", "lon": lon,
                                             "lat": lat}).json()["issue"]
        doc = features(c.get("/api/v1/layers/grids", params={"bbox": ",".join(map(str, box))}))
    expected = city.grids[city.grids.intersects(shapely.box(*box))]
    assert {f["id"] for f in doc["features"]} == set(expected.code)
    assert doc["numberMatched"] == len(expected) == doc["numberReturned"]
    hit = next(f for f in doc["features"] if f["id"] == iid["grid_code"])
    assert hit["properties"]["open"] >= 1
    assert hit["properties"]["street_code"] == iid["street_code"]
    # Coordinates are rounded to 6 decimals.
    ring = doc["features"][0]["geometry"]["coordinates"][0][0]
    assert all(len(repr(v).split(".")[1]) <= 6 for v in ring[0])


def test_paging_and_simplification(api):
    with api.client("admin") as c:
        first = features(c.get("/api/v1/layers/grids", params={"limit": 50}))
        second = features(c.get("/api/v1/layers/grids", params={"limit": 50, "offset": 50}))
        fine = features(c.get("/api/v1/layers/areas/streets"))
        coarse = features(c.get("/api/v1/layers/areas/streets", params={"simplify_m": 100}))
    assert first["numberMatched"] == 400 and len(first["features"]) == 50
    assert not {f["id"] for f in first["features"]} & {f["id"] for f in second["features"]}

    def vertices(doc):
        return sum(len(shapely.get_coordinates(shape(f["geometry"]))) for f in doc["features"])

    # Street outlines are unions of many grids: 100 m removes vertices, keeps every street,
    # and moves no outline by more than the tolerance (measured in metres, EPSG:4551).
    assert vertices(coarse) < vertices(fine)
    assert [f["id"] for f in coarse["features"]] == [f["id"] for f in fine["features"]]

    def metric(f):
        return shapely.transform(shape(f["geometry"]),
                                 lambda c: np.column_stack(to_metric(c[:, 0], c[:, 1])))

    for a, b in zip(fine["features"], coarse["features"], strict=True):
        assert metric(a).hausdorff_distance(metric(b)) <= 100.5


def test_live_layers_are_never_cached(api, city):
    with api.client("dispatcher") as c:
        for path in ("/api/v1/layers/live/issues", "/api/v1/layers/live/teams",
                     "/api/v1/layers/grids"):
            r = c.get(path)
            assert r.headers["cache-control"] == "no-store", path
        issues = features(c.get("/api/v1/layers/live/issues"))
        assert issues["features"]
        assert all(f["properties"]["state"] not in ("closed", "rejected", "merged")
                   for f in issues["features"])
        assert all(f["properties"]["street_code"] in ("220204001", "220204002")
                   for f in issues["features"])
        teams = features(c.get("/api/v1/layers/live/teams"))
        assert teams["features"] and all(
            f["properties"]["status"] in ("available", "busy", "off_duty")
            for f in teams["features"])


def test_cameras_sites_and_areas(api, city):
    with api.client("operator") as c:
        cams = features(c.get("/api/v1/layers/cameras"))
        sites = features(c.get("/api/v1/layers/sites"))
        streets = features(c.get("/api/v1/layers/areas/streets"))
    assert len(cams["features"]) == len(city.cameras)
    assert all("stream_ref" not in f["properties"] for f in cams["features"])
    domes = [f for f in cams["features"] if f["properties"]["kind"] == "high_dome"]
    assert domes and all(f["properties"]["heading_deg"] is None for f in domes)
    assert len(sites["features"]) == len(city.sites)
    assert {f["id"] for f in streets["features"]} == set(city.streets.code)
