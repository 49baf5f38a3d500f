"""GET /api/v1/places over real HTTP on both backends, against brute force: the grid by the tie
rule over every grid, the cameras by geo.cameras on every camera, the open issues nearby by a
geodesic distance of its own; coordinates in the Chinese systems; the caller's jurisdiction;
points outside the city."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import Geod

from fixtures.timeline import REFERENCE_TIME
from geo.cameras import visible
from geo.casework.users import add_user
from geo.chinacoords import wgs84_to_bd09, wgs84_to_gcj02
from geo.codes import LENGTHS

OWN_GEOD = Geod(a=6378137.0, rf=298.257223563)  # WGS84 spelt out, not the project's GEOD
RADIUS = 300.0
EDGE_M = 0.5  # issues this close to the radius may fall either way by rounding


def ok(r, status=200) -> dict:
    assert r.status_code == status, r.text
    return r.json()


@pytest.fixture
def world(api, city):
    api.now = REFERENCE_TIME
    from fixtures.accounts import STORY_PLACES
    streets = sorted({api.store.locate(*city.landmarks[p]).street_code for p in STORY_PLACES})
    grids = api.store.read_layer("grids")
    return api, streets, grids


def expected_grid(grids, lon, lat):
    """The tie rule by brute force: of the grids covering the point, the smallest code."""
    covering = grids[shapely.covers(grids.geometry.values, shapely.Point(lon, lat))]
    return None if covering.empty else min(covering.code)


def expected_cameras(cams, lon, lat) -> set[str]:
    heading = cams.heading_deg.to_numpy(float)
    sees, _d, _b = visible(cams.geometry.x, cams.geometry.y, heading, cams.fov_deg, cams.range_m,
                           lon, lat)
    return set(cams.id[sees])


def expected_nearby(issues, streets, lon, lat) -> tuple[list[int], set[int]]:
    """Open issues of the streets within RADIUS by our own geodesic; and those at the edge."""
    open_ = issues[~issues.state.isin(["closed", "rejected", "merged"]) &
                   issues.street_code.isin(streets)]
    _a, _b, dist = OWN_GEOD.inv(np.full(len(open_), lon), np.full(len(open_), lat),
                                open_.geometry.x.to_numpy(), open_.geometry.y.to_numpy())
    inside = dist <= RADIUS
    order = np.lexsort((open_.id.to_numpy()[inside], dist[inside]))
    edge = set(open_.id[np.abs(dist - RADIUS) < EDGE_M])
    return [int(i) for i in open_.id.to_numpy()[inside][order]], edge


def test_the_answer_equals_brute_force(world, city):
    api, streets, grids = world
    operator = api.client("operator")
    cams = api.store.read_layer("cameras")
    issues = api.store.read_layer("issues")
    rng = np.random.default_rng(14)
    mine = grids[grids.code.str[:9].isin(streets)]
    # Shared vertices of the staff's grids (ties), random points in them, the story places,
    # and the open issues' own points (cameras and neighbours around them).
    corners = shapely.get_coordinates(mine.geometry.values)
    points = [tuple(p) for p in corners[rng.choice(len(corners), 12, replace=False)]]
    box = mine.total_bounds
    points += list(zip(rng.uniform(box[0], box[2], 12), rng.uniform(box[1], box[3], 12),
                       strict=True))
    points += [city.landmarks[p] for p in ("电东胡同小学门口", "岭北胡同")]
    open_mine = issues[~issues.state.isin(["closed", "rejected", "merged"]) &
                       issues.street_code.isin(streets)]
    points += list(zip(open_mine.geometry.x[:6], open_mine.geometry.y[:6], strict=True))
    seen_cameras = seen_issues = ties = 0
    for lon, lat in points:
        got = ok(operator.get("/api/v1/places", params={"lon": lon, "lat": lat}))
        grid = expected_grid(grids, lon, lat)
        assert (got["grid"] or {}).get("code") == grid, (lon, lat)
        ties += grid is not None and int(shapely.covers(grids.geometry.values,
                                                        shapely.Point(lon, lat)).sum()) > 1
        if grid is not None:
            row = grids[grids.code == grid].iloc[0]
            assert got["grid"]["name"] == row["name"]
            assert got["community"]["code"] == grid[:12] and got["street"]["code"] == grid[:9]
            assert got["district"]["code"] == grid[:6]
            assert [p["name"] for p in got["grid"]["people"]] == [
                w for w in row.workers.split(", ") if w]
            assert_responsible(got, city.responsibilities, grid, phones=True)
        cameras = {c["id"] for c in got["cameras"]}
        assert cameras == expected_cameras(cams, lon, lat), (lon, lat)
        for c in got["cameras"]:
            sector = shapely.geometry.shape(c["sector"])
            assert sector.geom_type == "Polygon" and sector.is_valid
            # The drawn arc is a polygon inside the true one: near the rim it may miss.
            assert (sector.buffer(1e-6).covers(shapely.Point(lon, lat))
                    or c["distance_m"] > 0.99 * c["range_m"]), c["id"]
            assert sector.buffer(1e-6).covers(shapely.Point(c["lon"], c["lat"]))
        seen_cameras += len(cameras)
        want, edge = expected_nearby(issues, streets, lon, lat)
        items = got["nearby_issues"]["items"]
        ids = [i["id"] for i in items]
        assert [i for i in ids if i not in edge] == [i for i in want if i not in edge][:20]
        assert got["nearby_issues"]["radius_m"] == RADIUS and len(items) <= 20
        dist = [i["distance_m"] for i in items]
        assert dist == sorted(dist) and all(d <= RADIUS for d in dist)
        seen_issues += len(items)
    assert ties > 0 and seen_cameras > 0 and seen_issues > 0  # the cases were exercised


def assert_responsible(got, people, grid: str, phones: bool) -> None:
    """Each level names the generated table's people of its area, in the table's order."""
    for level, n in LENGTHS.items():
        want = people[people.area_code == grid[:n]]
        shown = got[level]["responsible"]
        assert [(p["name"], p["title"]) for p in shown] == list(zip(want.name, want.title,
                                                                    strict=True)), level
        assert [p.get("phone") for p in shown] == (list(want.phone) if phones else
                                                   [None] * len(want))


def test_what_lies_below_and_who_answers_for_it(world, city):
    """Points in buildings and compounds of the staff's streets: the compound and building
    by brute force over their polygons, their heads (三长) from the city's own table, phones
    only with people:read (the planner has none)."""
    api, streets, _grids = world
    buildings = city.buildings[city.buildings.code.str[:9].isin(streets)].iloc[:6]
    spots = list(buildings.geometry.representative_point())
    compound = city.compounds[city.compounds.code.str[:9].isin(streets)].iloc[0]
    gap = compound.geometry.difference(city.buildings.geometry.union_all())
    spots.append(gap.representative_point())
    heads = city.resident_heads
    seen = 0
    for spot in spots:
        for user, phones in (("operator", True), ("planner", False)):
            got = ok(api.client(user).get("/api/v1/places", params={"lon": spot.x,
                                                                    "lat": spot.y}))
            under = city.buildings[shapely.covers(city.buildings.geometry.values, spot)]
            over = city.compounds[shapely.covers(city.compounds.geometry.values, spot)]
            assert (got["below"]["building"] or {}).get("code") == min(under.code, default=None)
            assert (got["below"]["compound"] or {}).get("code") == min(over.code, default=None)
            codes = {min(over.code, default=""), min(under.code, default="")} - {""}
            mine = heads[heads.area_code.isin(codes) | heads.area_code.str.startswith(
                min(under.code, default="~") + "-")]
            assert sorted(h["name"] for h in got["below"]["heads"]) == sorted(mine.name)
            assert all((h["phone"] is not None) == phones for h in got["below"]["heads"])
            assert_responsible(got, city.responsibilities, got["grid"]["code"], phones)
            seen += len(got["below"]["heads"])
    assert seen > 0 and got["below"]["building"] is None  # the last spot is in the open


def test_coordinates_in_chinese_systems_name_the_same_place(world, city):
    api, _streets, grids = world
    operator = api.client("operator")
    lon, lat = city.landmarks["电东胡同小学门口"]
    plain = ok(operator.get("/api/v1/places", params={"lon": lon, "lat": lat}))
    for crs, convert in (("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)):
        x, y = convert(np.array([lon]), np.array([lat]))
        got = ok(operator.get("/api/v1/places", params={"lon": float(x[0]), "lat": float(y[0]),
                                                         "crs": crs}))
        assert got["grid"]["code"] == plain["grid"]["code"]
        assert abs(got["point"]["lon"] - lon) < 1e-7 and abs(got["point"]["lat"] - lat) < 1e-7
        assert got["point"]["given"]["crs"] == crs
        assert {c["id"] for c in got["cameras"]} == {c["id"] for c in plain["cameras"]}
        # Taken as WGS84, the shifted point lies hundreds of metres away.
        shifted = ok(operator.get("/api/v1/places", params={"lon": float(x[0]),
                                                             "lat": float(y[0])}))
        assert shifted["point"]["lon"] != got["point"]["lon"]
    assert plain["street"]["name"] and plain["cameras"], "the school gate has a story camera"


def test_an_operator_sees_no_issues_of_another_street(world, city):
    api, streets, grids = world
    issues = api.store.read_layer("issues")
    open_mine = issues[~issues.state.isin(["closed", "rejected", "merged"]) &
                       issues.street_code.isin(streets)]
    spot = open_mine.iloc[0].geometry
    ours = ok(api.client("operator").get("/api/v1/places", params={"lon": spot.x, "lat": spot.y}))
    assert ours["nearby_issues"]["items"] and ours["street"]["people"]
    other = sorted(set(grids.code.str[:9]) - set(streets))[0]
    add_user(api.store, "op-elsewhere", "demo", "operator", [other])
    elsewhere = api.client("op-elsewhere")
    theirs = ok(elsewhere.get("/api/v1/places", params={"lon": spot.x, "lat": spot.y}))
    assert theirs["grid"]["code"] == ours["grid"]["code"]  # the map is public to staff
    assert theirs["nearby_issues"]["items"] == [] and theirs["nearby_issues"]["total"] == 0
    assert theirs["street"]["people"] == []  # nor who is on duty there
    # The teams shown are only those the other operator may see anyway.
    may_see = {t["id"] for t in ok(elsewhere.get("/api/v1/teams"))}
    assert {t["id"] for t in theirs["street"]["teams"]} <= may_see
    assert ours["street"]["teams"], "the story street has teams"
    assert {t["id"] for t in ours["street"]["teams"]} - may_see, "some are ours only"


def test_heads_phones_and_community_staff_keep_to_the_jurisdiction(world, city):
    """At a building of the staff's streets: its heads' phones for its own operator, not for
    another street's (who sees the names, as the map is the same for staff); the community's
    own mediator among its people, to the first only. The responsible people's phones are the
    city's contact list, given to both."""
    api, streets, _grids = world
    building = city.buildings[city.buildings.code.str[:9].isin(streets)].iloc[0]
    spot = building.geometry.representative_point()
    add_user(api.store, "med-here", "demo", "mediator", [building.code[:12]])
    add_user(api.store, "op-away", "demo", "operator",
             [sorted(set(city.grids.code.str[:9]) - set(streets))[0]])
    params = {"lon": spot.x, "lat": spot.y}
    ours = ok(api.client("operator").get("/api/v1/places", params=params))
    theirs = ok(api.client("op-away").get("/api/v1/places", params=params))
    assert ours["below"]["building"]["code"] == theirs["below"]["building"]["code"] == \
        building.code
    heads = ours["below"]["heads"]
    assert heads and all(h["phone"] for h in heads)
    assert [h["name"] for h in theirs["below"]["heads"]] == [h["name"] for h in heads]
    assert all(h["phone"] is None for h in theirs["below"]["heads"])
    assert "med-here" in {p["username"] for p in ours["community"]["people"]}
    assert theirs["community"]["people"] == []
    for level in ("grid", "community", "street", "district"):
        assert [p["phone"] for p in theirs[level]["responsible"]] == \
            [p["phone"] for p in ours[level]["responsible"]]
        assert all(p["phone"] for p in ours[level]["responsible"])


def test_outside_the_city_and_bad_coordinates(world):
    api, _streets, grids = world
    operator = api.client("operator", headers={"Accept-Language": "en"})
    west, south, _east, north = grids.total_bounds
    got = ok(operator.get("/api/v1/places", params={"lon": west - 0.05, "lat": (south + north) / 2}))
    assert got["inside"] is False and got["grid"] is None and got["street"] is None
    assert "outside the city's grids" in got["message"]
    zh = ok(api.client("operator").get("/api/v1/places",
                                       params={"lon": west - 0.05, "lat": (south + north) / 2}))
    assert "网格" in zh["message"]
    for params in ({"lon": 126.5, "lat": 200}, {"lon": "east", "lat": 43.8},
                   {"lon": 100.0, "lat": 43.8}, {"lon": 126.5}, {"lon": 126.5, "lat": 43.8,
                                                                 "crs": "utm"},
                   {"lon": 126.5, "lat": 43.8, "radius_m": 0}):
        r = operator.get("/api/v1/places", params=params)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["detail"], r.text
    assert api.client("citizen").get("/api/v1/places",
                                     params={"lon": 126.5, "lat": 43.8}).status_code == 403
