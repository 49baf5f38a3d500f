"""OGC API - Features at /ogc on both backends, read by real clients: GDAL's OAPIF driver
(pyogrio's GDAL, and Debian's ogr2ogr) reads every collection with the features and vertices
the store holds and `griddispatch export` writes; OWSLib lists the collections and pages
through the grids along the `next` links. Then our own requests: the grids of a past date,
CRS Part 2 (EPSG:4326 and CGCS2000 lat/lon, EPSG:4551 northing/easting), bbox in another CRS,
the jurisdiction of issues, the limit clamp and the refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyogrio
import shapely
from shapely.geometry import shape

from fixtures.jilin import REFERENCE_TIME
from geo.crs import to_metric
from tests.plans import publish_a_split

EXE = str(Path(sys.executable).with_name("griddispatch"))
EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"
KEYS = {"grids": "code", "communities": "code", "streets": "code", "districts": "code",
        "compounds": "code", "buildings": "code", "cameras": "id", "sites": "id", "roads": None}


def _token(api, user: str) -> str:
    with api.client() as c:
        r = c.post("/api/v1/auth/token", data={"username": user, "password": "demo"})
        assert r.status_code == 200, r.text
        return r.json()["access_token"]


def _same_vertices(a, b) -> bool:
    pa, pb = shapely.normalize(shapely.get_parts(a)), shapely.normalize(shapely.get_parts(b))
    return len(pa) == len(pb) and bool(np.all(shapely.equals_exact(pa, pb, 0)))


# pyogrio's GDAL in a process of its own: GDAL holds the GIL while it fetches, and the test
# server answers from a thread of this process.
GDAL_COPY = """
import json, sys, pyogrio
source, out = sys.argv[1], sys.argv[2]
layers = [name for name, _kind in pyogrio.list_layers(source)]
for name in layers:
    pyogrio.write_dataframe(pyogrio.read_dataframe(source, layer=name), f"{out}/{name}.gpkg")
print(json.dumps(layers))
"""


def _gdal_copy(api, user: str, out: Path) -> list[str]:
    """Every collection copied by pyogrio's GDAL (GDAL_HTTP_AUTH=BEARER) to out/NAME.gpkg."""
    env = {**os.environ, "GDAL_HTTP_AUTH": "BEARER", "GDAL_HTTP_BEARER": _token(api, user)}
    done = subprocess.run([sys.executable, "-c", GDAL_COPY, f"OAPIF:{api.url}/ogc", str(out)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_gdal_reads_every_collection_as_the_store_holds_it(api, store, tmp_path):
    assert set(_gdal_copy(api, "admin", tmp_path)) == {*KEYS, "teams", "issues"}
    # the layers read by SQL of their own on each backend; the others through read_layer,
    # the same on both, are compared on the embedded one
    compared = KEYS if store.backend == "sqlite" else {"grids": "code", "compounds": "code"}
    for layer, key in compared.items():
        got = pyogrio.read_dataframe(tmp_path / f"{layer}.gpkg")
        held = store.read_layer(layer)
        assert len(got) == len(held), layer
        if key is None:  # roads: numbered in the stored order
            pairs = zip(got.sort_values("id").geometry, held.geometry, strict=True)
        else:
            got, held = got.set_index(key).sort_index(), held.set_index(key).sort_index()
            assert got.index.tolist() == held.index.tolist(), layer
            pairs = zip(got.geometry, held.geometry, strict=True)
        assert all(_same_vertices(a, b) for a, b in pairs), layer
    # and as `griddispatch export` writes the grids, Chinese names included
    url = f"sqlite:///{store.path}" if store.backend == "sqlite" else store.url
    out = tmp_path / "exported.gpkg"
    done = subprocess.run([EXE, "--db", url, "export", "grids", "-o", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    exported = pyogrio.read_dataframe(out).set_index("code").sort_index()
    served = pyogrio.read_dataframe(tmp_path / "grids.gpkg").set_index("code").sort_index()
    assert served.name.tolist() == exported.name.tolist()
    assert all(_same_vertices(a, b) for a, b in zip(served.geometry, exported.geometry,
                                                    strict=True))
    issues = pyogrio.read_dataframe(tmp_path / "issues.gpkg")
    assert len(issues) == len(store.read_layer("issues"))


def test_debian_ogr2ogr_copies_the_grids_with_a_header_token(sqlite_store, tmp_path):
    """GDAL 3.6 from Debian, with the token in GDAL_HTTP_HEADERS (the reading is GDAL's: one
    backend is enough, pyogrio's test covers both)."""
    from tests.http import Server

    server = Server(sqlite_store)
    try:
        out = tmp_path / "grids.gpkg"
        env = {**os.environ,
               "GDAL_HTTP_HEADERS": f"Authorization: Bearer {_token(server, 'planner')}"}
        done = subprocess.run(["/usr/bin/ogr2ogr", "-f", "GPKG", str(out),
                               f"OAPIF:{server.url}/ogc", "grids"],
                              capture_output=True, text=True, timeout=300, env=env)
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr
    copied = pyogrio.read_dataframe(out).set_index("code").sort_index()
    held = sqlite_store.read_layer("grids").set_index("code").sort_index()
    assert copied.index.tolist() == held.index.tolist()
    assert all(_same_vertices(a, b) for a, b in zip(copied.geometry, held.geometry, strict=True))


def test_owslib_lists_collections_and_pages_through_the_grids(api, store):
    from owslib.ogcapi.features import Features

    ogc = Features(f"{api.url}/ogc", headers={"Authorization": f"Bearer {_token(api, 'planner')}"})
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in (
        ogc.conformance()["conformsTo"])
    assert {c["id"] for c in ogc.collections()["collections"]} >= {"grids", "issues", "districts"}
    codes, offset, pages = [], 0, 0
    while True:
        page = ogc.collection_items("grids", limit=150, offset=offset)
        codes += [f["id"] for f in page["features"]]
        pages += 1
        following = [link for link in page["links"] if link["rel"] == "next"]
        if not following:
            break
        offset = int(following[0]["href"].rsplit("offset=", 1)[1])
    held = sorted(store.read_layer("grids").code)
    assert codes == held and page["numberMatched"] == len(held)
    assert pages == -(-len(held) // 150)


def test_past_grids_crs_bbox_jurisdiction_and_refusals(api, store):
    published = REFERENCE_TIME + timedelta(hours=2)
    key, added, (lon, lat), before, _draft = publish_a_split(api, published)
    items = "/ogc/collections/grids/items"
    with api.client("admin") as c:
        def get(url, **params):
            r = c.get(url, params=params)
            assert r.status_code == 200, r.text
            return r

        point = f"{lon - 1e-5},{lat - 1e-5},{lon + 1e-5},{lat + 1e-5}"
        then = get(items, bbox=point, datetime=(published - timedelta(hours=1)).isoformat()).json()
        now = get(items, bbox=point).json()
        (retired,) = [f["id"] for f in then["features"]]  # the version then, no longer current
        assert retired.startswith(f"{key}@") and get(f"{items}/{retired}").json()["id"] == retired
        assert shape(then["features"][0]["geometry"]).equals_exact(before, 0)
        assert added in [f["id"] for f in now["features"]]
        # an interval holds both versions of the split grid; the old one as CODE@ROW
        both = get(items, bbox=point, datetime=f"{(published - timedelta(hours=1)).isoformat()}/..",
                   limit=50).json()
        ids = [f["id"] for f in both["features"]]
        old = next(i for i in ids if i.startswith(f"{key}@"))
        assert ids == [old, added]  # the grid's current, western part lies off the point
        one = get(f"{items}/{old}").json()
        assert one["properties"]["valid_to"] is not None
        assert shape(one["geometry"]).equals_exact(before, 0)

        # CRS Part 2: axis order as the authority defines it
        plain = get(items, limit=3).json()["features"]
        for uri, convert in ((EPSG.format(4326), lambda xy: xy[:, ::-1]),
                             (EPSG.format(4490), lambda xy: xy[:, ::-1]),
                             (EPSG.format(4551), lambda xy: np.column_stack(
                                 to_metric(xy[:, 0], xy[:, 1])[::-1]))):
            r = get(items, limit=3, crs=uri)
            assert r.headers["Content-Crs"] == f"<{uri}>"
            for f, g in zip(r.json()["features"], plain, strict=True):
                want = shapely.transform(shape(g["geometry"]), convert)
                assert shape(f["geometry"]).equals_exact(want, 1e-6 if "4551" in uri else 0)
        latlon = f"{lat - 1e-5},{lon - 1e-5},{lat + 1e-5},{lon + 1e-5}"
        assert [f["id"] for f in get(items, bbox=latlon, **{"bbox-crs": EPSG.format(4326)}
                                     ).json()["features"]] == [f["id"] for f in now["features"]]
        assert get(items, limit=100_000).json()["numberReturned"] == len(
            store.read_layer("grids"))  # clamped to the most a page holds, not refused

        for params, words in (({"datetime": "yesterday"}, "RFC 3339"),
                              ({"crs": "EPSG:3857"}, "is not offered"),
                              ({"bbox": "1,2,3"}, "bbox"),
                              ({"datetime": "2026-05-02/2026-05-01"}, "ends before"),
                              ({"bbox": "0,0,inf,1"}, "finite")):
            r = c.get(items, params=params, headers={"Accept-Language": "en"})
            assert r.status_code == 400 and words in r.json()["detail"], (params, r.text)
        r = c.get("/ogc/collections/cameras/items", params={"datetime": "2026-05-01"},
                  headers={"Accept-Language": "en"})
        assert r.status_code == 400 and "has no time" in r.json()["detail"]  # never ignored
        # OGC answers every input it cannot use with 400 (the rest of the API with 422).
        assert c.get(items, params={"limit": 0}).status_code == 400
        unknown = c.get(items, params={"colour": "red"})
        assert unknown.status_code == 400 and unknown.json()["code"] == "validation_failed"
        assert c.get("/ogc/collections/nothing").status_code == 404
        assert c.get(f"{items}/220204002001999").status_code == 404
        everyone = get("/ogc/collections/issues/items", limit=1).json()["numberMatched"]

    with api.client("operator") as c:
        me = c.get("/api/v1/users/me").json()
        r = c.get("/ogc/collections/issues/items", params={"limit": 5000})
        assert r.status_code == 200
        mine = r.json()
        assert 0 < mine["numberMatched"] < everyone
        assert all(any(f["properties"]["street_code"].startswith(a) for a in me["jurisdiction"])
                   for f in mine["features"])
    with api.client("citizen") as c:
        assert c.get("/ogc/collections").status_code == 403  # no layers:read
    with api.client() as c:
        assert c.get("/ogc/collections/grids/items").status_code == 401
