"""Bad input over HTTP on both backends, table-driven: each row is a request, the status it
must get and a fragment its message must contain (the field or feature and the problem), in
English, which these clients ask for (the Chinese default is tests/test_i18n_api.py's).
After every refused write the draft or issue is compared with what it was: nothing is half
written."""

from __future__ import annotations

import inspect
import io
import json
import time
import zipfile

import pytest
import shapely
from shapely.geometry import shape

from api.routes import plans
from geo.i18n import using
from geo.planning.importing import (
    MAX_CONTAINERS,
    MAX_FEATURES,
    MAX_VERTICES,
    SHAPEFILE_MEMBERS,
    BoundaryFileTooLarge,
    read_boundaries,
)

STREET = "220204002"  # 向阳街道 in 船营区, the planner's district
EDGE_SINCE, EDGE_UNTIL = "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"


def _message(r) -> str:
    """The error message in any of the service's shapes: {"detail"}, Open311 JSON or XML."""
    if r.headers.get("content-type", "").startswith("text/xml"):
        return r.text
    try:
        body = r.json()
    except ValueError:
        return r.text
    if isinstance(body, list):  # Open311: [{"code", "description"}]
        return " ".join(str(e.get("description")) for e in body if isinstance(e, dict))
    return str(body.get("detail")) if isinstance(body, dict) else r.text


def _run(c, rows, snapshot=None) -> None:
    """Send every row; collect every mismatch (and any change a refused write made)."""
    failures = []
    for method, path, kwargs, status, fragment in rows:
        before = snapshot() if snapshot else None
        r = c.request(method, path, **kwargs)
        message = _message(r)
        if r.status_code != status or fragment not in message:
            failures.append(f"{method} {path} {str(kwargs)[:120]}: {r.status_code} {message[:300]!r}"
                            f" (wanted {status} with {fragment!r})")
        if snapshot and snapshot() != before:
            failures.append(f"{method} {path} {str(kwargs)[:120]}: changed data while refused")
    assert not failures, "\n".join(failures)


def _counts(store, *tables) -> dict:
    with store.tx() as tx:
        return {t: tx.one(f"SELECT count(*) AS n FROM {t}")["n"] for t in tables}


# -- times in queries ------------------------------------------------------------------------

DATE_ROWS = [
    ("GET", "/api/v1/issues", {"params": {"since": EDGE_SINCE}}, 422, "since: must be a time"),
    ("GET", "/api/v1/issues", {"params": {"until": EDGE_UNTIL}}, 422, "until: must be a time"),
    ("GET", "/api/v1/issues", {"params": {"since": "0001-01-01T00:00:00"}}, 422, "since: must be"),
    ("GET", "/api/v1/issues", {"params": {"until": "2300-01-01T00:00:00Z"}}, 422, "2199-12-31"),
    ("GET", "/api/v1/issues", {"params": {"since": "yesterday"}}, 422, "since"),
    ("GET", "/api/v1/stats", {"params": {"since": EDGE_SINCE}}, 422, "since: must be a time"),
    ("GET", "/api/v1/layers/live/issues", {"params": {"until": EDGE_UNTIL}}, 422, "until: must be"),
    ("GET", "/api/v1/layers/live/issues", {"params": {"since": EDGE_SINCE}}, 422, "since: must be"),
    ("GET", "/api/v1/hotspots/density", {"params": {"since": EDGE_SINCE}}, 422, "since: must be"),
    ("GET", "/api/v1/hotspots/clusters", {"params": {"until": EDGE_UNTIL}}, 422, "until: must be"),
    ("GET", "/api/v1/hotspots/gistar", {"params": {"until": "0001-01-01T00:00:00"}}, 422,
     "until: must be"),
    ("GET", "/api/v1/hotspots/emerging",
     {"params": {"since": "2026-05-01T00:00:00Z", "until": "2026-04-01T00:00:00Z"}}, 422, "earlier"),
    ("GET", "/open311/v2/requests.json", {"params": {"start_date": EDGE_SINCE}}, 400,
     "start_date: must be a time"),
    ("GET", "/open311/v2/requests.json", {"params": {"end_date": EDGE_UNTIL}}, 400,
     "end_date: must be a time"),
    ("GET", "/open311/v2/requests.xml", {"params": {"end_date": EDGE_UNTIL}}, 400,
     "<description>end_date: must be a time"),
    ("GET", "/open311/v2/requests.json",
     {"params": {"start_date": "2026-05-01T00:00:00Z", "end_date": "2026-04-01T00:00:00Z"}}, 400,
     "start_date must be before end_date"),
]


def test_times_at_the_edge_of_the_calendar_are_refused_by_name(api):
    with api.client("admin", lang="en") as c:
        _run(c, DATE_ROWS)
        # a time without an offset still means UTC
        naive, utc, east = (c.get("/api/v1/issues", params={"since": f"2026-11-01T00:00:00{z}",
                                                            "limit": 1}).json()["total"]
                            for z in ("", "Z", "+08:00"))
        assert naive == utc and east > utc  # +08:00 midnight is 8 h earlier: more issues


# -- issue transitions -----------------------------------------------------------------------

def test_refused_transitions_leave_the_issue_as_it_was(api, city):
    lon, lat = city.landmarks["电东胡同小学门口"]
    with api.client("admin", lang="en") as c:
        r = c.post("/api/v1/issues", json={"category_code": "L01", "lon": lon, "lat": lat})
        assert r.status_code == 201, r.text
        issue = r.json()["issue"]
        base = f"/api/v1/issues/{issue['id']}"
        rows = [
            ("POST", f"{base}/accept", {"json": {"state": "closed"}}, 422, "state: is not accepted"),
            ("POST", f"{base}/rate", {"json": {"rating": 9}}, 422, "rating"),
            ("POST", f"{base}/dispatch", {"json": {"team_ids": []}}, 422, "team_ids"),
            ("POST", f"{base}/merge", {"json": {"duplicate_of": "x"}}, 422, "duplicate_of"),
            ("POST", f"{base}/claim", {"json": {}}, 409, "reported"),
            ("POST", f"{base}/check", {"json": {"passed": True}}, 409, "reported"),
            ("POST", "/api/v1/issues/999999999/accept", {"json": {}}, 404, "999999999"),
        ]

        def snapshot():
            return (c.get(base).json(), c.get(f"{base}/events").json(),
                    _counts(api.store, "issue", "issue_event"))
        _run(c, rows, snapshot)


# -- planning edits ----------------------------------------------------------------------------

def _neighbours(geoms, taken=()):
    return next((p, q) for p in geoms for q in geoms
                if p < q and p[:12] == q[:12] and not {p, q} & set(taken)
                and geoms[p].intersection(geoms[q]).length > 0)


def _street_draft(c):
    """A draft of the street with one grid redrawn as a bow-tie and one with its hole outside
    its shell (both accepted: drawings are never repaired; validation reports them)."""
    doc = c.post("/api/v1/plans", json={"area_code": STREET, "title": "bad input"}).json()
    draft = doc["draft"]["id"]
    geoms = {f["id"]: shape(f["geometry"]) for f in doc["features"]}
    bow, bow_mate = _neighbours(geoms)
    holed, holed_mate = _neighbours(geoms, (bow, bow_mate))
    far = next(k for k in geoms if k not in (bow, holed) and geoms[k].distance(geoms[bow_mate]) > 0)
    x0, y0, x1, y1 = geoms[bow].bounds
    bowtie = {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y1], [x1, y0], [x0, y1], [x0, y0]]]}
    shell = [list(p) for p in shapely.get_parts(geoms[holed])[0].exterior.coords]
    hx0, hy0, hx1, hy1 = geoms[holed].bounds
    w = hx1 - hx0
    outside = [[hx1 + w, hy0], [hx1 + 2 * w, hy0], [hx1 + 2 * w, hy1], [hx1 + w, hy1], [hx1 + w, hy0]]
    etags = {f["id"]: f["properties"]["etag"] for f in doc["features"]}
    for key, geometry in ((bow, bowtie), (holed, {"type": "Polygon", "coordinates": [shell, outside]})):
        r = c.put(f"/api/v1/plans/{draft}/grids/{key}", json={"geometry": geometry},
                  headers={"If-Match": etags[key]})
        assert r.status_code == 200, r.text
        etags = {f["id"]: f["properties"]["etag"] for f in r.json()["features"]}
    return r.json(), geoms, etags, dict(bow=bow, bow_mate=bow_mate, holed=holed,
                                        holed_mate=holed_mate, far=far)


def _across(geom):
    x0, y0, x1, y1 = geom.bounds
    return {"type": "LineString", "coordinates": [[(x0 + x1) / 2, y0 - 0.01], [(x0 + x1) / 2, y1 + 0.01]]}


def test_refused_planning_edits_leave_the_draft_as_it_was(api):
    with api.client("planner", lang="en") as c:
        doc, geoms, etags, k = _street_draft(c)
        draft = doc["draft"]["id"]
        url = f"/api/v1/plans/{draft}"

        def tags(*keys):
            return {"If-Match": ", ".join(etags[x] for x in keys)}
        bow, mate, holed, holed_mate, far = (k["bow"], k["bow_mate"], k["holed"], k["holed_mate"],
                                             k["far"])
        cut = _across(geoms[mate])
        x0, y0, x1, y1 = geoms[mate].bounds
        ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
        deep = b'{"geometry": {"type": "Polygon", "coordinates": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}"
        huge = ('{"geometry": {"type": "Polygon", "coordinates": [[[1' + "0" * 400 + ', 1], [1, 1], '
                '[1, 2], [1' + "0" * 400 + ', 1]]]}}').encode()
        as_json = {"Content-Type": "application/json"}
        rows = [
            ("POST", f"{url}/merge", {"json": {"keys": [bow, mate]}, "headers": tags(bow, mate)}, 422,
             f"grid {bow} is not a valid polygon (Self-intersection"),
            ("POST", f"{url}/boundary", {"json": {"a": bow, "b": mate, "line": cut},
                                          "headers": tags(bow, mate)}, 422,
             f"grid {bow} is not a valid polygon (Self-intersection"),
            ("POST", f"{url}/merge", {"json": {"keys": [holed_mate, holed]},
                                       "headers": tags(holed, holed_mate)}, 422,
             f"grid {holed} is not a valid polygon (Hole lies outside shell"),
            ("POST", f"{url}/boundary", {"json": {"a": holed, "b": holed_mate, "line": cut},
                                          "headers": tags(holed, holed_mate)}, 422,
             f"grid {holed} is not a valid polygon (Hole lies outside shell"),
            ("POST", f"{url}/boundary", {"json": {"a": mate, "b": mate, "line": cut},
                                          "headers": tags(mate)}, 422, "two different grids"),
            ("POST", f"{url}/split", {"json": {"key": bow, "line": _across(geoms[bow])},
                                       "headers": tags(bow)}, 422, "not a valid polygon"),
            ("POST", f"{url}/merge", {"json": {"keys": [mate, mate]}, "headers": tags(mate)}, 422,
             "two different grids"),
            ("POST", f"{url}/merge", {"json": {"keys": [mate]}, "headers": tags(mate)}, 422, "keys"),
            ("POST", f"{url}/merge", {"json": {"keys": [mate, far]}, "headers": tags(mate, far)}, 422,
             "do not touch"),
            ("POST", f"{url}/split", {"json": {"key": mate, "line": {
                "type": "LineString", "coordinates": [[x1 + 0.01, y0], [x1 + 0.02, y1]]}},
                "headers": tags(mate)}, 422, "does not cut"),
            ("POST", f"{url}/split", {"json": {"key": mate, "line": cut}}, 428, "If-Match"),
            ("POST", f"{url}/split", {"json": {"key": mate, "line": cut},
                                       "headers": {"If-Match": '"g1.x.1"'}}, 412, "reload"),
            ("PUT", f"{url}/grids/{mate}", {"json": {"geometry": {
                "type": "Polygon", "coordinates": [ring[:-1]]}}, "headers": tags(mate)}, 422,
             "not where it began"),
            ("PUT", f"{url}/grids/{mate}", {"json": {"geometry": {
                "type": "Polygon", "coordinates": [["a", "b", "c", "a"]]}}, "headers": tags(mate)},
             422, "finite numbers"),
            ("PUT", f"{url}/grids/{mate}", {"json": {"geometry": {
                "type": "Polygon", "coordinates": [[[], *ring[1:]]]}}, "headers": tags(mate)},
             422, "finite numbers"),
            ("PUT", f"{url}/grids/{mate}", {"content": huge, "headers": {**tags(mate), **as_json}},
             422, "finite numbers"),
            ("PUT", f"{url}/grids/{mate}", {"content": deep, "headers": {**tags(mate), **as_json}},
             400, "the request body cannot be read"),
            ("PUT", f"{url}/grids/{mate}", {"json": {"geometry": {"type": "Point", "coordinates": [1, 2]}},
                                             "headers": tags(mate)}, 422, "geometry.type"),
            ("PUT", f"{url}/grids/nosuch", {"json": {"geometry": {"type": "Polygon", "coordinates": [ring]}},
                                             "headers": tags(mate)}, 404, "has no grid nosuch"),
            ("GET", "/api/v1/plans/999999", {}, 404, "no draft 999999"),
            ("POST", "/api/v1/plans", {"json": {"area_code": "22020"}}, 422, "area_code"),
            ("POST", "/api/v1/plans", {"json": {"area_code": "220203001"}}, 404, "220203001"),
        ]

        def snapshot():
            return c.get(url).json(), _counts(api.store, "plan_draft", "plan_grid")
        _run(c, rows, snapshot)


# -- boundary files ----------------------------------------------------------------------------

def _collection(*features) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)},
                      ensure_ascii=False).encode()


def _feature(geometry, properties=None):
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def _zipped(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def _understated(archive: bytes, size: int) -> bytes:
    """The archive with its one member's unpacked size declared as `size` in the directory."""
    at = archive.rindex(b"PK\x01\x02") + 24
    return archive[:at] + size.to_bytes(4, "little") + archive[at + 4:]


def _shapefile(tmp_path, feature) -> dict[str, bytes]:
    """A real Shapefile of one feature: its files by name."""
    import geopandas as gpd

    frame = gpd.GeoDataFrame.from_features([feature], crs=4326)
    frame.to_file(tmp_path / "grids.shp")
    return {p.name: p.read_bytes() for p in sorted(tmp_path.glob("grids.*"))}


def test_refused_boundary_files_leave_the_draft_as_it_was(api, tmp_path):
    with api.client("planner", lang="en") as c:
        doc = c.post("/api/v1/plans", json={"area_code": STREET + "001"}).json()
        draft, etag = doc["draft"]["id"], {"If-Match": doc["draft"]["etag"]}
        url = f"/api/v1/plans/{draft}/import"
        first = doc["features"][0]
        x0, y0, x1, y1 = shape(first["geometry"]).bounds
        ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
        good = _feature({"type": "Polygon", "coordinates": [ring]}, {"code": first["id"]})
        named = {"code": "220204002001999", "name": "第9网格"}

        def upload(data: bytes, name: str = "plan.geojson", headers=etag, **form):
            return {"files": {"file": (name, data)}, "data": form, "headers": headers}

        def second(geometry=None, properties=named, feature=None):
            """A file of a good feature and a bad one (`feature` given whole, or built)."""
            return upload(_collection(good, feature or _feature(geometry, properties)))
        label = "feature #2, 第9网格, code 220204002001999"
        deep = (b'{"type": "FeatureCollection", "features": [' + b"[" * 100_000 + b"]" * 100_000
                + b"]}")
        many = _collection(*[_feature(None)] * (MAX_FEATURES + 1))
        dense = _collection(_feature({"type": "Polygon", "coordinates": [[[0, 0]] * (MAX_VERTICES + 1)]}))
        # a grid whose properties hold as many empty arrays and objects (3 bytes each) as a file
        # within the limits has, and the rest of the file 13 more: refused before they are built
        hollow = _collection(_feature(good["geometry"], {
            "code": first["id"], "parts": [[], {}] * (MAX_CONTAINERS // 2)}))
        shapefile = _shapefile(tmp_path, good)
        shp_bound = SHAPEFILE_MEMBERS[".shp"]
        bomb = _zipped({"grids.shp": bytes(shp_bound + 1), "grids.shx": b"", "grids.dbf": b""})
        understated = _understated(_zipped({"grids.shp": shapefile["grids.shp"]}), 100)
        rows = [
            ("POST", url, second({"type": "Polygon", "coordinates": [["a", "b", "c", "a"]]}), 422,
             f'{label}: position 1 of ring 1 is "a"'),
            ("POST", url, second({"type": "Polygon", "coordinates": [[[], *ring[1:]]]}), 422,
             f"{label}: position 1 of ring 1 is []"),
            ("POST", url, second({"type": "Polygon", "coordinates": [[[None, None], *ring[1:-1],
                                                                      [None, None]]]}), 422,
             f"{label}: position 1 of ring 1 is [null, null]"),
            ("POST", url, second({"type": "MultiPolygon", "coordinates": [[ring], [[ring[0], "x"]]]}),
             422, f"{label}: position 2 of ring 1 of polygon 2"),
            ("POST", url, second(feature=_feature(good["geometry"], [1, 2])), 422,
             "feature #2: properties must be an object or null, not [1, 2]"),
            ("POST", url, second(feature=_feature([1, 2], named)), 422,
             f"{label}: geometry must be a GeoJSON object or null, not [1, 2]"),
            ("POST", url, second({"type": "Polygon", "coordinates": [ring[:-1]]}), 422,
             f"{label}: a ring ends at"),
            ("POST", url, second({"type": "Point", "coordinates": [x0, y0]}), 422,
             f"{label}: geometry is a \"Point\"; a grid is a Polygon or MultiPolygon"),
            ("POST", url, upload(deep), 422, "nests arrays and objects 100,002 deep"),
            ("POST", url, upload(many), 413,
             f"plan.geojson has {MAX_FEATURES + 1:,} features; at most {MAX_FEATURES:,}"),
            ("POST", url, upload(dense), 413,
             f"plan.geojson has {MAX_VERTICES + 1:,} vertices; at most {MAX_VERTICES:,}"),
            ("POST", url, upload(hollow), 413,
             f"plan.geojson has {MAX_CONTAINERS + 13:,} arrays and objects; a file within the limits "
             f"({MAX_VERTICES:,} vertices, {MAX_FEATURES:,} features) has at most {MAX_CONTAINERS:,}"),
            ("POST", url, upload(bomb, "plan.zip"), 413,
             f"plan.zip: grids.shp unpacks to {shp_bound + 1:,} bytes; within the limits "
             f"({MAX_VERTICES:,} vertices, {MAX_FEATURES:,} features) a .shp file has at most "
             f"{shp_bound:,}"),
            ("POST", url, upload(_zipped({"plan.geojson": _collection(good)}), "plan.zip"), 422,
             "plan.zip holds plan.geojson; a zipped Shapefile holds only .shp, .shx, .dbf"),
            ("POST", url, upload(_zipped({"a/grids.gpkg": b"SQLite format 3\x00"}), "plan.zip"), 422,
             "plan.zip holds grids.gpkg; a zipped Shapefile holds only"),
            ("POST", url, upload(_zipped({**shapefile, "old/grids.shp": shapefile["grids.shp"]}),
                                 "plan.zip"), 422,
             "plan.zip holds grids.shp and old/grids.shp; one Shapefile is accepted in one file"),
            ("POST", url, upload(_zipped({"../grids.shp": shapefile["grids.shp"]}), "plan.zip"), 422,
             "plan.zip holds ../grids.shp, a path outside the archive"),
            ("POST", url, upload(_zipped({"grids.dbf": shapefile["grids.dbf"]}), "plan.zip"), 422,
             "plan.zip holds no .shp file"),
            ("POST", url, upload(_zipped({"grids.shp": shapefile["grids.shp"],
                                          "other.dbf": shapefile["grids.dbf"]}), "plan.zip"), 422,
             "plan.zip holds files of several names (grids, other)"),
            ("POST", url, upload(_zipped(shapefile, zipfile.ZIP_BZIP2), "plan.zip"), 422,
             "is compressed with method 12; only stored or deflated files are read"),
            ("POST", url, upload(understated, "plan.zip"), 422,
             "plan.zip is not a readable zip archive: Bad CRC-32 for file 'grids.shp'"),
            ("POST", url, upload(_collection(good), "plan.zip"), 422,
             "plan.zip is not a readable zip archive"),
            ("POST", url, upload(b'{"type": "FeatureCollection", "features": [}'), 422, "is not JSON"),
            ("POST", url, upload(_collection(good)[:-2] + b'"\xff"}'), 422, "not UTF-8"),
            ("POST", url, upload(b"[1, 2]"), 422, "a boundary file is a GeoJSON FeatureCollection"),
            ("POST", url, upload(_collection()), 422, "no features"),
            ("POST", url, upload(_collection(good), "plan.csv"), 422, "expected GeoJSON"),
            ("POST", url, upload(_collection(good), shifted="wgs84"), 422, "shifted"),
            ("POST", url, upload(_collection(good), headers={}), 428, "If-Match"),
        ]

        def snapshot():
            return c.get(f"/api/v1/plans/{draft}").json(), _counts(api.store, "plan_draft", "plan_grid")
        _run(c, rows, snapshot)
        # the same file without its bad feature is accepted, as is one whose strings hold more
        # brackets than the limit on arrays, and the same grid as a zipped Shapefile
        noted = _feature(good["geometry"], {"code": first["id"], "note": "[{" * MAX_CONTAINERS})
        for data, name in ((_collection(good), "plan.geojson"), (_collection(noted), "plan.geojson"),
                           (_zipped({f"grids/{k}": v for k, v in shapefile.items()}), "plan.zip")):
            r = c.post(url, files={"file": (name, data)}, headers=etag)
            assert r.status_code == 200, (name, r.text)
            assert [f["id"] for f in r.json()["features"]] == [first["id"]]
            assert shape(r.json()["features"][0]["geometry"]).equals(shape(good["geometry"]))
            etag = {"If-Match": r.headers["ETag"]}


def test_an_import_past_its_time_limit_is_refused(tmp_path):
    path = tmp_path / "plan.geojson"
    path.write_bytes(_collection(_feature({"type": "Polygon", "coordinates": [
        [[126.5, 43.8], [126.51, 43.8], [126.51, 43.81], [126.5, 43.8]]]})))
    assert len(read_boundaries(path).frame) == 1
    with using("en"), pytest.raises(BoundaryFileTooLarge, match=(
            r"plan.geojson: checking took longer than the 20 s limit, at feature #1 of 1")):
        read_boundaries(path, deadline=time.monotonic() - 1)


def test_plan_routes_keep_the_event_loop_free():
    """Reading a file or computing geometry in an `async def` route would stop every other
    request; plain `def` routes run in the thread pool."""
    endpoints = [r.endpoint for r in plans.router.routes]
    assert endpoints and not [e.__name__ for e in endpoints if inspect.iscoroutinefunction(e)]
