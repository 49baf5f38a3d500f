"""GeoJSON layers (RFC 7946): bbox filters, paging, open/overdue counts, caching headers."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from fixtures.jilin import REFERENCE_TIME
from geo.crs import to_metric
from geo.layers.points import CLUSTER_FROM, TEAM_STATUSES

SCHOOL = "电东胡同小学门口"


@pytest.fixture
def api(api):
    """The service with its clock at the demo city's "now" (fixtures/jilin.py): lights,
    overdue counts and the age of team positions follow it, and the demo's open issues are
    the three days before it."""
    api.now = REFERENCE_TIME
    return api


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


def test_paging_and_simplification(api, city):
    with api.client("admin") as c:
        first = features(c.get("/api/v1/layers/grids", params={"limit": 50}))
        second = features(c.get("/api/v1/layers/grids", params={"limit": 50, "offset": 50}))
        fine = features(c.get("/api/v1/layers/areas/streets"))
        coarse = features(c.get("/api/v1/layers/areas/streets", params={"simplify_m": 100}))
    assert first["numberMatched"] == len(city.grids) and len(first["features"]) == 50
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


def test_zoomed_out_teams_come_in_clusters_that_add_up(api, city):
    """More than CLUSTER_FROM teams in the box and a cluster size asked for: one feature per
    square of that side, each with its teams' count per status, adding up to the teams."""
    with api.client("admin") as c:
        every = features(c.get("/api/v1/layers/live/teams"))["features"]
        clustered = features(c.get("/api/v1/layers/live/teams", params={"cluster_m": 2000}))
        lon, lat = every[0]["geometry"]["coordinates"]
        few = features(c.get("/api/v1/layers/live/teams", params={
            "cluster_m": 2000, "bbox": f"{lon - 0.01},{lat - 0.01},{lon + 0.01},{lat + 0.01}"}))
        refused = c.get("/api/v1/layers/live/teams", params={"cluster_m": 1})
    assert len(every) > CLUSTER_FROM
    assert clustered["clustered"] is True and clustered["numberMatched"] == len(every)
    found = clustered["features"]
    assert len(found) < len(every) / 3
    assert sum(f["properties"]["count"] for f in found) == len(every)
    for status in TEAM_STATUSES:
        assert sum(f["properties"][status] for f in found) == sum(
            f["properties"]["status"] == status for f in every)
    # Independently: the teams of one square, by their own positions in EPSG:4551.
    x, y = to_metric(*np.array([f["geometry"]["coordinates"] for f in every]).T)
    square = np.floor(x / 2000).astype(int), np.floor(y / 2000).astype(int)
    biggest = max(found, key=lambda f: f["properties"]["count"])
    kx, ky = (int(v) for v in biggest["id"].split("-")[1:])
    assert ((square[0] == kx) & (square[1] == ky)).sum() == biggest["properties"]["count"]
    # A view with few teams gets them one by one.
    assert "clustered" not in few and 0 < len(few["features"]) <= CLUSTER_FROM
    assert all("status" in f["properties"] for f in few["features"])
    assert refused.status_code == 422


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


def _aggregate(issues, key):
    """The expected open load per area, from the issue list's own lights."""
    rank = {"green": 0, "yellow": 1, "red": 2}
    out = {}
    for i in issues:
        load = out.setdefault(i[key], {"open": 0, "yellow": 0, "overdue": 0, "worst_light": "green"})
        load["open"] += 1
        load["yellow"] += i["light"] == "yellow"
        load["overdue"] += i["light"] == "red"
        if rank[i["light"]] > rank[load["worst_light"]]:
            load["worst_light"] = i["light"]
    return out


@pytest.mark.parametrize("user", ["admin", "operator"])
def test_area_and_grid_loads_agree_with_the_issue_list(api, city, user):
    """Open, yellow, overdue and worst light per grid and per community, as each user may see
    them, equal what that user's own issue list says of each issue."""
    lon, lat = city.landmarks[SCHOOL]
    with api.client(user) as c:
        c.post("/api/v1/issues", json={"category_code": "L01", "lon": lon, "lat": lat})
        listed = c.get("/api/v1/issues", params={"open_only": True, "limit": 5000}).json()
        grids = features(c.get("/api/v1/layers/grids", params={"limit": 5000}))
        communities = features(c.get("/api/v1/layers/areas/communities"))
    issues = listed["items"]
    assert len(issues) == listed["total"] > (20 if user == "admin" else 0)
    if user == "admin":
        assert {i["light"] for i in issues} >= {"green", "red"}  # the demo has both
    for key, doc in (("grid_code", grids), ("community_code", communities)):
        expected = _aggregate(issues, key)
        got = {f["id"]: {k: f["properties"][k] for k in ("open", "yellow", "overdue",
                                                          "worst_light")}
               for f in doc["features"] if f["properties"]["open"]}
        assert got == expected, key
    # Areas without open issues that this user may see say so plainly.
    quiet = [f for f in grids["features"] if f["id"] not in _aggregate(issues, "grid_code")]
    assert quiet and all(f["properties"]["open"] == 0 and f["properties"]["worst_light"] is None
                         for f in quiet)


def test_camera_views_are_the_sectors_they_see(api, city):
    from geo.crs import GEOD

    with api.client("operator") as c:
        views = features(c.get("/api/v1/layers/cameras", params={"geometry": "view"}))
    assert len(views["features"]) == len(city.cameras)
    cams = city.cameras.set_index("id")
    checked_sector = checked_dome = 0
    for f in views["features"]:
        p, poly, cam = f["properties"], shape(f["geometry"]), cams.loc[f["id"]]
        x, y = cam.geometry.x, cam.geometry.y
        if p["heading_deg"] is None:
            ring = np.array(poly.exterior.coords)
            mx, my = to_metric(ring[:, 0], ring[:, 1])
            area = shapely.Polygon(np.column_stack([mx, my])).area
            assert abs(area / (np.pi * p["range_m"] ** 2) - 1) < 0.05  # a 12-gon's 4.5% short
            checked_dome += 1
            continue
        ahead = GEOD.fwd(x, y, p["heading_deg"], p["range_m"] / 2)[:2]
        behind = GEOD.fwd(x, y, p["heading_deg"] + 180, p["range_m"] / 2)[:2]
        beyond = GEOD.fwd(x, y, p["heading_deg"], p["range_m"] * 1.05)[:2]
        assert poly.contains(shapely.Point(ahead)), f["id"]
        assert not poly.contains(shapely.Point(behind)), f["id"]
        assert not poly.contains(shapely.Point(beyond)), f["id"]
        checked_sector += 1
    assert checked_sector and checked_dome


def test_dispatch_layer_shows_the_issue_and_its_surroundings(api, city, store):
    lon, lat = city.landmarks[SCHOOL]
    with api.client("dispatcher") as c:
        issue = c.post("/api/v1/issues", json={"category_code": "L01", "lon": lon,
                                               "lat": lat}).json()["issue"]
        near = c.post("/api/v1/issues", json={"category_code": "L01", "lon": lon + 0.002,
                                              "lat": lat}).json()["issue"]
        other = c.post("/api/v1/issues", json={"category_code": "L03", "lon": lon + 0.002,
                                               "lat": lat}).json()["issue"]
        doc = features(c.get(f"/api/v1/layers/dispatch/{issue['id']}",
                             params={"nearby_m": 400}))
        ranked = c.get(f"/api/v1/issues/{issue['id']}/candidates").json()
        too_far = c.get(f"/api/v1/layers/dispatch/{issue['id']}", params={"nearby_m": 99999})
    assert too_far.status_code == 422
    by_kind = {}
    for f in doc["features"]:
        by_kind.setdefault(f["properties"]["kind"], []).append(f)
    (target,) = by_kind["issue"]
    assert target["geometry"]["coordinates"] == [round(issue["lon"], 6), round(issue["lat"], 6)]
    (grid,) = by_kind["grid"]
    assert grid["properties"]["code"] == issue["grid_code"]
    assert shape(grid["geometry"]).buffer(1e-6).contains(shape(target["geometry"]))
    # Candidates: the same teams, ranks and distances as the candidates endpoint, one line each
    # from the team to the issue.
    want = [(t["rank"], t["team_id"], t["distance_m"]) for t in ranked["candidates"]]
    assert want and [(f["properties"]["rank"], f["properties"]["team_id"],
                      f["properties"]["distance_m"]) for f in
                     sorted(by_kind["candidate"], key=lambda f: f["properties"]["rank"])] == want
    for route in by_kind["route"]:
        line = route["geometry"]["coordinates"]
        assert line[-1] == target["geometry"]["coordinates"]
        team = next(f for f in by_kind["candidate"]
                    if f["properties"]["team_id"] == route["properties"]["team_id"])
        assert line[0] == team["geometry"]["coordinates"]
        if route["properties"]["drawn"] == "straight":  # off the roads: the straight line
            gx, gy = to_metric([line[0][0], line[1][0]], [line[0][1], line[1][1]])
            assert abs(np.hypot(gx[1] - gx[0], gy[1] - gy[0])
                       - route["properties"]["distance_m"]) < 2
        else:  # along the roads: at least as long as the straight line
            gx, gy = to_metric([p[0] for p in line], [p[1] for p in line])
            assert np.hypot(np.diff(gx), np.diff(gy)).sum() >= route["properties"]["distance_m"] - 2
    seeing = {v.camera_id for v in store.cameras_seeing(lon, lat)}
    assert {f["properties"]["camera_id"] for f in by_kind.get("camera", [])} == seeing
    assert {f["properties"]["id"] for f in by_kind["nearby"]} >= {near["id"]}
    assert other["id"] not in {f["properties"]["id"] for f in by_kind["nearby"]}
    assert all(f["properties"]["distance_m"] <= 400 for f in by_kind["nearby"])
