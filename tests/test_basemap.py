"""The offline basemap on both backends: roads in a box, coarser zoomed out and bounded per
answer; the river stored with the city; area names at points inside their areas; and the
API's answers, with 422 for a box that cannot be used."""

from __future__ import annotations

import shapely

from geo.layers import basemap
from geo.layers.basemap import MAX_LABELS, MAX_ROADS, labels_in_box, roads_in_box, water_in_box

LAODONG = "劳动路"


def _around(lon: float, lat: float, half_deg: float) -> tuple[float, float, float, float]:
    return (lon - half_deg, lat - half_deg * 0.7, lon + half_deg, lat + half_deg * 0.7)


def test_roads_in_a_box_are_cut_to_it_and_coarser_zoomed_out(store, city):
    lon, lat = city.landmarks[LAODONG]
    box = _around(lon, lat, 0.01)
    street = roads_in_box(store, box, 2.0)
    assert LAODONG in {p["name"] for p in street.props}
    assert {p["class"] for p in street.props} >= {"arterial", "local"}
    inside = shapely.box(*box).buffer(1e-9)
    assert all(inside.covers(g) for g in street.geoms)
    # zoomed out, only the roads that structure the city
    wide = _around(lon, lat, 0.08)
    for tolerance, classes in ((4.0, {"expressway", "bridge", "arterial", "secondary", "local"}),
                               (8.0, {"expressway", "bridge", "arterial", "secondary"}),
                               (32.0, {"expressway", "bridge", "arterial"})):
        page = roads_in_box(store, wide, tolerance)
        assert page.ids and {p["class"] for p in page.props} <= classes, tolerance
    assert "secondary" in {p["class"] for p in roads_in_box(store, wide, 8.0).props}
    # the same roads simplified have fewer vertices
    def arterial_vertices(tolerance):
        page = roads_in_box(store, wide, tolerance)
        return sum(shapely.get_num_coordinates(g) for g, p in zip(page.geoms, page.props,
                                                                  strict=True)
                   if p["class"] == "arterial")
    assert 0 < arterial_vertices(32.0) < arterial_vertices(0.0)


def test_every_answer_is_bounded_and_says_how_many_matched(store, city):
    everything = city.grids.total_bounds
    page = roads_in_box(store, tuple(everything), 2.0, limit=50)
    assert len(page.ids) == 50 and page.matched > 50 and page.truncated
    # the most important classes are kept first
    ranks = [basemap.ROAD_RANK[p["class"]] for p in page.props]
    assert ranks == sorted(ranks)
    assert len(roads_in_box(store, tuple(everything), 2.0).ids) <= MAX_ROADS
    assert len(labels_in_box(store, None, "communities").ids) <= MAX_LABELS


def test_near_tolerances_share_one_simplified_copy_and_few_copies_are_kept(store, city):
    lon, lat = city.landmarks[LAODONG]
    box = _around(lon, lat, 0.01)
    assert [basemap.tolerance_of(v) for v in (0, 0.05, 0.12, 0.99, 1.0001, 3.0, 5.5, 500)] == [
        0.0, 0.0, 0.125, 1.0, 1.0, 4.0, 4.0, 512.0]
    roads = basemap._roads_of(store.road_network())
    first = roads_in_box(store, box, 1.0)
    for near in (1.0001, 1.0002, 0.9999, 1.2):
        again = roads_in_box(store, box, near)
        assert again.ids == first.ids and all(
            a.equals_exact(b, 0) for a, b in zip(again.geoms, first.geoms, strict=True))
    assert len(basemap.SIMPLIFIED.values(roads)) == 1
    # every tolerance a client may ask for: only the last few copies are kept
    for step in range(0, 5001, 7):
        roads_in_box(store, box, step / 10)
    assert len(basemap.SIMPLIFIED.values(roads)) == basemap.KEPT_TOLERANCES
    assert roads_in_box(store, box, 1.0001).ids == first.ids  # made again when asked


def test_a_road_that_only_touches_the_box_is_no_match(store):
    roads = basemap._roads_of(store.road_network())
    for row in range(0, len(roads.geoms), max(1, len(roads.geoms) // 20)):
        (x0, y0), (x1, y1) = shapely.get_coordinates(roads.geoms[row])[:2]
        # a tiny box with a corner at the road's first point, away from its first stretch
        dx, dy = (-1e-6 if x1 > x0 else 1e-6), (-1e-6 if y1 > y0 else 1e-6)
        box = (min(x0, x0 + dx), min(y0, y0 + dy), max(x0, x0 + dx), max(y0, y0 + dy))
        page = roads_in_box(store, box, 0.0)
        assert row not in page.ids
        assert page.matched == len(page.ids) and not page.truncated, row


def test_water_is_counted_before_the_bound_by_its_stored_ids(store, city):
    centre = city.river.representative_point()
    lakes = [shapely.Point(centre.x + 0.001 * (i % 20), centre.y + 0.001 * (i // 20)).buffer(
        0.0003) for i in range(basemap.MAX_WATER + 5)]
    store.add_water(lakes, [f"湖{i}" for i in range(len(lakes))], ["lake"] * len(lakes))
    held = store.water()
    assert list(held.id) == list(range(1, len(lakes) + 1))
    page = water_in_box(store, _around(centre.x, centre.y, 0.05), 0.0)
    assert page.matched == len(lakes) and len(page.ids) == basemap.MAX_WATER and page.truncated
    assert page.ids == list(held.id[:basemap.MAX_WATER])
    assert [p["name"] for p in page.props] == list(held.name[:basemap.MAX_WATER])
    one = shapely.box(*lakes[7].bounds)
    small = water_in_box(store, tuple(one.buffer(1e-5).bounds), 0.0)
    assert small.ids == [8] and small.matched == 1 and small.props[0]["name"] == "湖7"


def test_the_river_is_stored_with_the_city_and_cut_to_the_view(store, city):
    held = store.water()
    assert city.river_name == "松花江"
    assert list(held.name) == [city.river_name] and list(held.kind) == ["river"]
    assert held.geometry.iloc[0].symmetric_difference(city.river).area < 1e-9
    centre = city.river.representative_point()
    box = _around(centre.x, centre.y, 0.02)
    page = water_in_box(store, box, 8.0)
    assert len(page.ids) == 1 and page.props[0]["name"] == "松花江"
    assert shapely.box(*box).buffer(1e-9).covers(page.geoms[0])
    label = shapely.Point(page.props[0]["label_at"])
    assert page.geoms[0].buffer(1e-6).contains(label)  # its name sits on the water
    far = (120.0, 30.0, 120.1, 30.1)
    assert water_in_box(store, far, 8.0).ids == []


def test_area_names_sit_inside_their_areas(store, city):
    for level, frame in (("districts", city.districts), ("streets", city.streets),
                         ("communities", city.communities)):
        page = labels_in_box(store, None, level)
        assert sorted(page.ids) == sorted(frame.code)
        outlines = dict(zip(frame.code, frame.geometry, strict=True))
        names = dict(zip(frame.code, frame.name, strict=True))
        for code, point, props in zip(page.ids, page.geoms, page.props, strict=True):
            assert outlines[code].contains(point), (level, code)
            assert props["name"] == names[code] and props["level"] == level
            assert props["width_m"] > 0
    # a box keeps the names whose point is in it
    lon, lat = city.landmarks[LAODONG]
    box = _around(lon, lat, 0.01)
    inside = labels_in_box(store, box, "communities")
    assert inside.ids and all(shapely.box(*box).covers(p) for p in inside.geoms)


def test_the_api_answers_geojson_and_refuses_a_bad_box(api, city):
    lon, lat = city.landmarks[LAODONG]
    bbox = ",".join(f"{v:.5f}" for v in _around(lon, lat, 0.01))
    with api.client("operator") as c:
        roads = c.get("/api/v1/layers/roads", params={"bbox": bbox, "simplify_m": 2})
        water = c.get("/api/v1/layers/water", params={"simplify_m": 16})
        labels = c.get("/api/v1/layers/labels", params={"level": "streets", "bbox": bbox})
        bounded = c.get("/api/v1/layers/roads", params={"limit": 10})
        bad = [c.get("/api/v1/layers/roads", params={"bbox": b}) for b in ("1,2,3", "5,5,1,1")]
        bad.append(c.get("/api/v1/layers/labels", params={"level": "grids"}))
        bad.append(c.get("/api/v1/layers/water", params={"bbox": "a,b,c,d"}))
    assert roads.status_code == 200 and roads.headers["content-type"].startswith(
        "application/geo+json")
    body = roads.json()
    assert body["type"] == "FeatureCollection" and body["numberReturned"] == len(body["features"])
    assert LAODONG in {f["properties"]["name"] for f in body["features"]}
    assert [f["properties"]["name"] for f in water.json()["features"]] == ["松花江"]
    assert all(f["geometry"]["type"] == "Point" for f in labels.json()["features"])
    assert len(bounded.json()["features"]) == 10 and bounded.json()["numberMatched"] > 10
    for answer in bad:
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"]
    with api.client("citizen") as c:  # no layers:read
        assert c.get("/api/v1/layers/roads").status_code == 403
