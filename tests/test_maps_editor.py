"""The grid editor in Chromium: a planner selects a grid, draws a line across it with
GeoMan's tool, the split is saved through the API (with If-Match), and the validation result
shows on the page. Screenshots go to test-artifacts/maps/."""

from __future__ import annotations

import re

import shapely
from shapely.geometry import shape

from tests.test_maps import chromium, maps_api, visit  # noqa: F401

COMMUNITY = "220204002001"
LOADED = "() => window.griddispatch && griddispatch.editor && griddispatch.editor.loaded > 0"


def _pixel(v, lon, lat):
    return v.js("""([lon, lat]) => {
        const m = griddispatch.map, p = m.latLngToContainerPoint([lat, lon]);
        const r = m.getContainer().getBoundingClientRect();
        return [r.left + p.x, r.top + p.y];
    }""", [lon, lat])


def test_draw_a_split_save_it_and_see_the_validation(visit, maps_api):  # noqa: F811
    with maps_api.client("planner") as c:
        doc = c.post("/api/v1/plans", json={"area_code": COMMUNITY}).json()
    draft = doc["draft"]["id"]
    target = max(doc["features"], key=lambda f: shape(f["geometry"]).area)
    geom = shape(target["geometry"])
    v = visit("planner", f"/maps/editor/{draft}", ready=LOADED)
    assert "没有问题" in v.page.inner_text("#gd-editor-problems")
    inside = geom.representative_point()
    v.page.mouse.click(*_pixel(v, inside.x, inside.y))
    v.wait("(k) => griddispatch.editor.selected === k", target["id"])
    assert target["properties"]["code"] in v.page.inner_text("#gd-editor-selected")
    # draw a line from north of the grid to south of it, through its inner point
    x0, y0, x1, y1 = geom.bounds
    north, south = (inside.x, y1 + (y1 - y0) * 0.2), (inside.x, y0 - (y1 - y0) * 0.2)
    v.page.click(".leaflet-pm-icon-polyline")
    v.page.mouse.click(*_pixel(v, *north))
    end = _pixel(v, *south)
    v.page.mouse.click(*end)
    v.page.mouse.click(*end)  # clicking the last vertex again finishes the line
    v.wait("() => griddispatch.editor.saves > 0 && griddispatch.editor.loaded > 1")
    assert v.js("() => griddispatch.editor.failures") == []
    with maps_api.client("planner") as c:
        after = c.get(f"/api/v1/plans/{draft}").json()
        report = c.get(f"/api/v1/plans/{draft}/validation").json()
    assert len(after["features"]) == len(doc["features"]) + 1
    pieces = [shape(f["geometry"]) for f in after["features"]
              if f["id"] == target["id"] or f["properties"]["code"] is None]
    assert len(pieces) == 2
    # (the API writes 6 decimals, about 0.1 m)
    assert abs(shapely.union_all(pieces).area - geom.area) / geom.area < 1e-4
    assert report["valid"] is True
    assert "没有问题" in v.page.inner_text("#gd-editor-problems")
    v.shot("editor-split")
    # a change from a stale page is refused, and the page says so: another planner moves the
    # grid the page holds, then the page splits it with the ETag it loaded
    held = next(f for f in after["features"] if f["id"] == target["id"])
    held_geom = shape(held["geometry"])
    moved = shapely.affinity.translate(held_geom, xoff=0.0005)
    with maps_api.client("planner") as c:
        r = c.put(f"/api/v1/plans/{draft}/grids/{held['id']}",
                  json={"geometry": shapely.geometry.mapping(moved)},
                  headers={"If-Match": held["properties"]["etag"]})
        assert r.status_code == 200, r.text
    saves = v.js("() => griddispatch.editor.saves")
    inside = held_geom.representative_point()
    v.page.mouse.click(*_pixel(v, inside.x, inside.y))
    v.wait("(k) => griddispatch.editor.selected === k", held["id"])
    x0, y0, x1, y1 = held_geom.bounds
    v.page.click(".leaflet-pm-icon-polyline")
    v.page.mouse.click(*_pixel(v, inside.x, y1 + (y1 - y0) * 0.2))
    end = _pixel(v, inside.x, y0 - (y1 - y0) * 0.2)
    v.page.mouse.click(*end)
    v.page.mouse.click(*end)
    v.wait("() => griddispatch.editor.failures.length > 0")
    assert v.js("() => griddispatch.editor.failures")[-1].startswith("412: ")
    assert v.js("() => griddispatch.editor.saves") == saves
    shown = v.page.locator("#gd-editor-status")
    assert shown.inner_text().startswith("412") and shown.get_attribute("class") == "gd-failure"
    with maps_api.client("planner") as c:
        now = c.get(f"/api/v1/plans/{draft}").json()
        report = c.get(f"/api/v1/plans/{draft}/validation").json()
    assert len(now["features"]) == len(after["features"])  # the stale split did not land
    kept = next(f for f in now["features"] if f["id"] == held["id"])
    assert shapely.hausdorff_distance(shape(kept["geometry"]), moved) < 1e-6
    assert report["valid"] is False  # the moved grid overlaps its neighbours
    v.shot("editor-stale")
    v.page.reload()
    v.wait(LOADED)
    assert re.search(r"\d+ 个问题", v.page.inner_text("#gd-editor-problems"))
    # the refused split is the page's only failed request (the browser logs it as an error)
    assert v.failed == [f"412 {maps_api.url}/api/v1/plans/{draft}/split"]
    assert [e for e in v.console_errors if "status of 412" not in e] == []
    assert v.foreign_requests() == []
    v.shot("editor-problems")
