"""Dispatching from the map (/maps/issues/{id}) in a real browser (Debian's Chromium driven by
Playwright) against the real service on the demo SQLite city: a route drawn for every
candidate, times in the operator's local time, labels that do not overlap at any zoom, a
joint operation dispatched from the panel that the audit trail records lead first, and a
refusal in words when the issue changed behind the page's back. And the layer the page
draws: each candidate's way along the roads, or the straight line where it has none.

Screenshot: test-artifacts/maps/dispatch.png."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo.casework.dispatchview import dispatch_features, dispatch_view
from geo.casework.scope import Actor
from geo.crs import to_metric
from tests.http import Server
from tests.test_maps import Visit, chromium  # noqa: F401 - chromium is a fixture

SCHOOL = "电东胡同小学门口"  # in the demo dispatcher's street
LOCAL = ZoneInfo("Asia/Shanghai")
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")
LOADED = ("() => window.griddispatch && griddispatch.ready() && griddispatch.dispatch.issue "
          "&& griddispatch.dispatch.placed > 0")


@pytest.fixture
def server(sqlite_store):
    s = Server(sqlite_store, map_refresh_seconds=2.0)
    yield s
    s.stop()


def local(iso: str) -> str:
    """As a Chinese page writes a time: 2026/11/22 08:05 in Asia/Shanghai."""
    return datetime.fromisoformat(iso).astimezone(LOCAL).strftime("%Y/%m/%d %H:%M")


def ok(r, status=200) -> dict:
    assert r.status_code == status, r.text
    return r.json()


def accepted_issue(server: Server, city) -> dict:
    lon, lat = city.landmarks[SCHOOL]
    with server.client("dispatcher") as c:
        iid = ok(c.post("/api/v1/issues", json={"category_code": "L01", "lon": lon, "lat": lat,
                                                "description": "校门口流动摊贩占道经营"}),
                 201)["issue"]["id"]
        return ok(c.post(f"/api/v1/issues/{iid}/accept", json={}))


def boxes(v: Visit, selector: str) -> list[list[float]]:
    return v.js("(s) => [...document.querySelectorAll(s)].map(e => { const r = "
                "e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })", selector)


def overlapping(rects: list[list[float]]) -> list[tuple[int, int]]:
    return [(i, j) for i, a in enumerate(rects) for j, b in enumerate(rects) if i < j
            and a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]]


def naive_overlaps(v: Visit) -> int:
    """How many label pairs would overlap if each label sat right of its marker."""
    markers = boxes(v, ".gd-candidate")
    labels = boxes(v, ".gd-candidate-label")
    placed = [[m[2] + 2, (m[1] + m[3] - (lb[3] - lb[1])) / 2, 0, 0] for m, lb in
              zip(sorted(markers), labels, strict=True)]
    placed = [[x, y, x + lb[2] - lb[0], y + lb[3] - lb[1]] for (x, y, _, _), lb in
              zip(placed, labels, strict=True)]
    return len(overlapping(placed))


def test_dispatch_a_joint_operation_from_the_map(chromium, server, city):  # noqa: F811
    issue = accepted_issue(server, city)
    iid = issue["id"]
    with server.client("dispatcher") as c:
        ranked = ok(c.get(f"/api/v1/issues/{iid}/candidates"))["candidates"]
    assert len(ranked) >= 2
    v = Visit(chromium, server, "dispatcher", f"/maps/issues/{iid}", ready=LOADED)
    try:
        # One polyline per candidate, on the map, coloured by rank.
        routes = v.js("() => griddispatch.dispatchRoutes()")
        assert sorted(r["team_id"] for r in routes) == sorted(t["team_id"] for t in ranked)
        assert all(r["drawn"] and r["points"] >= 2 for r in routes)
        assert len({r["colour"] for r in routes}) == len(routes)
        # The panel: the issue's facts, its times in Asia/Shanghai, never ISO text.
        panel = v.js("() => document.getElementById('gd-candidates').innerText")
        assert issue["description"] in panel and issue["category_name"] in panel
        assert local(issue["reported_at"]) in panel and local(issue["due_at"]) in panel
        assert "已受理" in panel and "绿灯" in panel
        assert not ISO.search(panel), panel
        listed = v.js("() => [...document.querySelectorAll('#gd-list li')].map(li => li.dataset.team)")
        assert listed == [t["team_id"] for t in ranked]
        # Labels never overlap, redone at each zoom; zoomed out they would, placed naively.
        crowded = 0
        start = v.js("() => griddispatch.map.getZoom()")
        for zoom in (start, start - 1, start - 2, start - 3, start - 4):
            v.js("(z) => { griddispatch.map.setZoom(z, {animate: false}); }", zoom)
            v.wait("() => griddispatch.settled()")
            labels = boxes(v, ".gd-candidate-label")
            assert len(labels) == len(ranked)
            assert overlapping(labels) == [], f"zoom {zoom}: {labels}"
            crowded += naive_overlaps(v)
        v.shot("dispatch-crowded")
        assert crowded > 0, "the zooms tried never crowded the labels: the test proves nothing"
        v.js("(z) => { griddispatch.map.setZoom(z, {animate: false}); }", start)
        v.wait("() => griddispatch.settled()")

        # A joint operation: the team ticked first (ranked second) leads.
        lead, support = ranked[1], ranked[0]
        v.page.check(f"#gd-list input[data-team='{lead['team_id']}']")
        v.page.check(f"#gd-list input[data-team='{support['team_id']}']")
        assert "联合派单" in v.page.inner_text("#gd-buttons button[data-action=dispatch]")
        v.page.click("#gd-buttons button[data-action=dispatch]")
        v.wait("() => document.querySelector('#gd-result.gd-success')")
        said = v.page.inner_text("#gd-result")
        assert f"已派单给 {lead['name']}（主办）、{support['name']}（协办）" in said, said
        with server.client("dispatcher") as c:
            trail = ok(c.get(f"/api/v1/issues/{iid}/events"))
        (event,) = [e for e in trail if e["action"] == "dispatch"]
        assert event["actor"] == "dispatcher" and event["details"]["joint"] is True
        assert event["details"]["team_ids"] == [lead["team_id"], support["team_id"]]
        v.wait("() => griddispatch.dispatch.issue.state === 'dispatched'")
        assert "改派" in v.page.inner_text("#gd-buttons")
        v.shot("dispatch")

        # Someone reassigns behind the page's back; the page's reassign is refused in words.
        with server.client("supervisor") as c:
            ok(c.post(f"/api/v1/issues/{iid}/reassign",
                      json={"team_ids": [support["team_id"]], "reason": "lead is needed elsewhere"}))
            events = len(ok(c.get(f"/api/v1/issues/{iid}/events")))
        v.page.check(f"#gd-list input[data-team='{lead['team_id']}']")
        v.page.fill("#gd-reason", "closer by road")
        v.page.click("#gd-buttons button[data-action=reassign]")
        v.wait("() => document.querySelector('#gd-result.gd-failure')")
        said = v.page.inner_text("#gd-result")
        # the page's words, then the server's (which name the issue)
        assert "事件已被他人更改" in said and str(iid) in said.split("\n", 1)[1], said
        with server.client("dispatcher") as c:
            now = ok(c.get(f"/api/v1/issues/{iid}"))
            assert len(ok(c.get(f"/api/v1/issues/{iid}/events"))) == events
        assert [t["team_id"] for t in now["teams"]] == [support["team_id"]]
        # The page now decides on what the issue has become.
        v.wait("(n) => griddispatch.dispatch.version === n", now["version"])
        v.shot("dispatch-refused")
        assert [f for f in v.failed if "/reassign" not in f] == []
        assert v.js("() => griddispatch.dispatch.results.map(r => r.status)") == [200, 412]
        # Chromium logs the refused request itself; nothing else may be logged.
        assert [e for e in v.console_errors if "status of 412" not in e] == []
        assert v.foreign_requests() == []
    finally:
        v.close()


def test_the_layer_draws_routes_along_the_roads_and_straight_lines_without(server, city):
    """An L-shaped street from the nearest team to the issue: that team's route follows it
    round the corner, with its ETA and road distance; a team off every road keeps the
    straight line, drawn as such."""
    store, admin, now = server.store, Actor("admin", "admin"), datetime.now(UTC)
    iid = accepted_issue(server, city)["id"]
    before = dispatch_view(store, admin, iid, now)
    here = (before["issue"]["lon"], before["issue"]["lat"])
    team = before["candidates"][0]
    there = (team["lon"], team["lat"])
    corner = (there[0], here[1])
    store.add_roads(gpd.GeoDataFrame(
        {"name": ["测试北路", "测试东路"], "class": ["local", "local"], "oneway": [False, False],
         "speed_kmh": [30.0, 30.0]},
        geometry=[shapely.LineString([there, corner]), shapely.LineString([corner, here])],
        crs="EPSG:4326"), replace=True)
    view = dispatch_view(store, admin, iid, now)
    ids, geoms, props = dispatch_features(view)
    routes = {p["team_id"]: (g, p) for g, p in zip(geoms, props, strict=True) if p["kind"] == "route"}
    assert set(routes) == {c["team_id"] for c in view["candidates"]}
    line, p = routes[team["team_id"]]
    assert p["basis"] == "road" and p["drawn"] == "road" and p["eta_s"] > 0
    assert "route" not in p and p["road_m"] > p["distance_m"] and p["team_kind"] == "enforcement"
    coords = shapely.get_coordinates(line)
    assert coords[0].tolist() == list(there) and coords[-1].tolist() == list(here)
    metric = np.column_stack(to_metric(coords[:, 0], coords[:, 1]))
    assert np.hypot(*np.diff(metric, axis=0).T).min() > 0.1  # no point repeated at the ends
    xc, yc = (float(v[0]) for v in to_metric([corner[0]], [corner[1]]))
    assert shapely.LineString(metric).distance(shapely.Point(xc, yc)) < 1.0  # round the corner
    for line, p in routes.values():
        if p["basis"] == "straight_line":
            assert p["drawn"] == "straight"
            assert len(shapely.get_coordinates(line)) == 2
    kinds = [p["kind"] for p in props]
    assert kinds.count("candidate") == kinds.count("route") == len(view["candidates"])
    assert ids[0] == f"issue:{iid}" and props[0]["version"] == view["issue"]["version"]
