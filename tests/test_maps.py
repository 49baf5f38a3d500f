"""The map pages in a real browser (Debian's Chromium driven by Playwright) against the real
service: layers drawn, nothing fetched from outside the server, live updates, jurisdiction.

Screenshots go to test-artifacts/maps/."""

from __future__ import annotations

import re
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpx
import pytest

from fixtures import shulan
from tests.http import Server
from tests.pages import MAP_READY, Tab, browser

SCHOOL = "电东胡同小学门口"  # in the demo staff's street
FOREIGN = "劳动路"  # nobody's but the admin's
REFRESH_S = 1.0


@pytest.fixture(scope="module")
def chromium():
    with browser() as b:
        yield b


@pytest.fixture
def maps_api(sqlite_store):
    """The pages read only the API, which the API tests hold to both backends: the browser
    runs on the embedded one."""
    server = Server(sqlite_store, map_refresh_seconds=REFRESH_S)
    yield server
    server.stop()


class Visit(Tab):
    """One user's tab on a map page, in a Chinese browser as the command centre's are, with
    the page's layers at hand."""

    def __init__(self, browser, server: Server, user: str, path: str, ready: str = MAP_READY):
        super().__init__(browser, server, user, path, ready=ready)

    def features(self, layer: str) -> list[dict]:
        return self.js("(n) => Object.values(griddispatch.layers[n]._features)", layer)

    def zoom_to(self, lon: float, lat: float, zoom: int) -> None:
        self.js("([lon, lat, z]) => { griddispatch.map.setView([lat, lon], z, {animate: false}); }",
                [lon, lat, zoom])
        # every layer shows the answer for the new view
        self.wait("() => griddispatch.settled()")


@pytest.fixture
def visit(chromium, maps_api):
    opened = []

    def open_(user: str, path: str, **kwargs) -> Visit:
        v = Visit(chromium, maps_api, user, path, **kwargs)
        opened.append(v)
        return v

    yield open_
    for v in opened:
        v.close()


def test_live_map_draws_every_layer_from_the_server_alone(visit, city, maps_api):
    lon, lat = city.landmarks[SCHOOL]
    with maps_api.client("grid_worker") as c:
        assert c.post("/api/v1/issues", json={"category_code": "L01", "lon": lon,
                                              "lat": lat}).status_code == 201
    v = visit("operator", "/maps/live")
    counts = v.js("() => griddispatch.counts")
    grids = v.js("() => griddispatch.gridTiles.wanted() ? griddispatch.gridTiles.count() : "
                 "griddispatch.counts.grids")
    assert grids > 0 and counts["streets"] > 0 and counts["districts"] > 0
    assert counts["issues"] > 0 and counts["teams"] > 0 and counts["sites"] > 0
    v.shot("live-start")
    # Zoomed out, areas are communities or streets; zoomed in, grids, cameras and their view
    # sectors.
    v.zoom_to(lon, lat, 11)
    coarse = v.features("grids")
    assert coarse and {len(f["id"]) for f in coarse} in ({12}, {9})
    assert v.js("() => griddispatch.counts.cameras") == 0
    v.zoom_to(lon, lat, 16)
    # At grid level the grids come from vector tiles; the GeoJSON layer stands aside.
    grids = v.js("() => griddispatch.gridTiles.features()")
    assert grids and all(len(code) == 15 for code in grids) and v.features("grids") == []
    assert v.js("() => griddispatch.counts.cameras") > 0
    assert v.js("() => griddispatch.counts.views") > 0
    # Drawn, not just loaded: markers in the DOM, polygons on the canvas.
    assert v.js("() => document.querySelectorAll('.gd-issue, .gd-cluster').length") > 0
    assert v.js("() => document.querySelectorAll('canvas.leaflet-zoom-animated').length") >= 1
    on_canvas = v.js("() => griddispatch.layers.teams._container.getLayers()"
                     ".filter(l => l._renderer && griddispatch.map.hasLayer(l)).length")
    assert on_canvas == v.js("() => griddispatch.counts.teams") > 0
    assert "个网格" in v.js("() => document.getElementById('gd-status').textContent")
    v.shot("live-street")
    # The operator sees only issues of their own streets.
    mine = set(v.js("() => fetch('/api/v1/users/me').then(r => r.json())")["jurisdiction"])
    streets = {f["properties"]["street_code"] for f in v.features("issues")}
    assert streets and streets <= mine
    assert v.console_errors == [] and v.failed == []
    assert v.foreign_requests() == []


def test_a_city_in_detached_parts_opens_on_its_districts_and_goes_to_shulan(visit, city):
    """舒兰市 lies 70 km from the urban districts: the admin's map opens on the four districts,
    not on the empty land between, and the 前往 control goes to 舒兰 and back to all."""
    v = visit("admin", "/maps/live")
    urban = city.districts[city.districts.code != shulan.CODE].total_bounds
    centre = v.js("() => griddispatch.map.getCenter()")
    assert urban[0] < centre["lng"] < urban[2] and urban[1] < centre["lat"] < urban[3]
    assert v.js("() => griddispatch.map.getZoom()") >= 11
    buttons = v.js("() => [...document.querySelectorAll('#gd-districts button')]"
                   ".map(b => b.textContent)")
    assert buttons == ["全部辖区", "昌邑区", "龙潭区", "船营区", "丰满区", "舒兰市"]
    v.page.click(f"#gd-districts button[data-code='{shulan.CODE}']")
    lon, lat = city.sewer_story.lonlat
    v.wait(f"() => griddispatch.map.getBounds().contains([{lat}, {lon}])")
    v.wait("() => griddispatch.settled()")
    drawn = (v.js("() => griddispatch.gridTiles.wanted() ? griddispatch.gridTiles.features() "
                  ": []") or [f["id"] for f in v.features("grids")])
    assert drawn and all(code.startswith(shulan.CODE) for code in drawn)
    v.shot("live-shulan")
    v.page.click("#gd-districts button[data-code='']")
    v.wait(f"() => griddispatch.map.getBounds().getSouth() < {urban[1] + 0.05} && "
           f"griddispatch.map.getBounds().getNorth() > {lat}")
    # Zoomed out over the whole city the teams come in clusters, counted whole.
    v.wait("() => griddispatch.settled() && "
           "document.querySelectorAll('.gd-team-cluster').length > 0")
    assert v.js("() => griddispatch.counts.teams") == len(city.teams)
    v.page.hover(".gd-team-cluster >> nth=0")
    v.wait("() => document.querySelector('.leaflet-tooltip') !== null")
    tip = v.js("() => document.querySelector('.leaflet-tooltip').textContent")
    assert re.search(r"队伍 \d+ 支", tip) and "空闲" in tip and "放大地图可查看每支队伍" in tip
    v.shot("live-whole-city")
    assert v.console_errors == [] and v.failed == []


def test_a_failed_layer_is_said_while_it_fails_and_no_longer_once_it_answers(visit):
    v = visit("operator", "/maps/live")
    status = "() => document.getElementById('gd-status').textContent"
    failing = "() => document.querySelector('#gd-status .gd-failure') !== null"
    assert not v.js(failing)
    teams = "**/api/v1/layers/live/teams*"
    v.page.route(teams, lambda route: route.fulfill(status=500, content_type="application/json",
                                                   body='{"detail": "down for a moment"}'))
    v.wait(failing)
    assert "队伍" in v.js(status) and "down for a moment" in v.js(status)
    v.page.unroute(teams)
    v.wait(f"() => !({failing[6:]})")  # the next refresh answers
    assert v.js("() => griddispatch.failures.length") >= 1  # the history keeps it


def test_a_new_report_appears_without_reloading(visit, city, maps_api):
    v = visit("operator", "/maps/live")
    lon, lat = city.landmarks[SCHOOL]
    v.zoom_to(lon, lat, 17)
    v.js("() => { window.samePage = true; }")
    with maps_api.client("grid_worker") as c:
        r = c.post("/api/v1/issues", json={"category_code": "L08", "lon": lon + 0.0003,
                                           "lat": lat, "description": "rubbish by the gate"})
    assert r.status_code == 201, r.text
    new_id = r.json()["issue"]["id"]
    # Within a few refresh intervals, the marker is there and the page was never reloaded.
    v.wait("(id) => String(id) in griddispatch.layers.issues._features", new_id,
           timeout_s=REFRESH_S * 5)
    assert v.js("() => window.samePage") is True
    feature = v.js("(id) => griddispatch.layers.issues._features[String(id)]", new_id)
    assert feature["properties"]["category_code"] == "L08"
    assert feature["properties"]["light"] == "green"
    v.shot("live-new-report")
    assert v.console_errors == [] and v.foreign_requests() == []


def _grid_of(server, lon: float, lat: float) -> str:
    with server.client("operator") as c:
        return c.get("/api/v1/locate", params={"lon": lon, "lat": lat}).json()["grid_code"]


def test_grids_drawn_from_tiles_follow_new_reports_and_tell_their_name(visit, city, maps_api):
    lon, lat = city.landmarks[SCHOOL]
    code = _grid_of(maps_api, lon, lat)
    v = visit("operator", "/maps/live")
    v.zoom_to(lon, lat, 17)
    drawn = v.js("() => griddispatch.gridTiles.features()")
    before = drawn[code]["open"]
    # The grid's tiles were fetched as vector tiles, nothing else drew it.
    tiles = [u for u in v.requests if "/tiles/grids/16/" in u]  # 512-pixel tiles: zoom 16
    assert tiles and v.features("grids") == []
    with maps_api.client("grid_worker") as c:
        assert c.post("/api/v1/issues", json={"category_code": "L08", "lon": lon,
                                              "lat": lat}).status_code == 201
    # Within a few refreshes the tiles shown carry the new count, without a reload or a
    # moment without grids.
    v.js("() => { window.samePage = true; window.bare = 0; setInterval(() => { "
         "if (!griddispatch.gridTiles.count()) window.bare += 1; }, 50); }")
    v.wait("([code, n]) => (griddispatch.gridTiles.features()[code] || {}).open > n",
           [code, before], timeout_s=REFRESH_S * 8)
    assert v.js("() => window.samePage") is True and v.js("() => window.bare") == 0
    # Hovering the grid names it (the tooltip the GeoJSON grids had).
    point = v.js("([lat, lon]) => { const p = griddispatch.map.latLngToContainerPoint([lat, lon]);"
                 " const r = griddispatch.map.getContainer().getBoundingClientRect();"
                 " return [r.left + p.x + 40, r.top + p.y + 40]; }", [lat, lon])
    v.page.mouse.move(*point)
    v.wait("() => !!document.querySelector('.gd-tile-tip')")
    tip = v.js("() => document.querySelector('.gd-tile-tip').textContent")
    under = v.js("([x, y]) => { const r = griddispatch.map.getContainer().getBoundingClientRect();"
                 " const ll = griddispatch.map.containerPointToLatLng([x - r.left, y - r.top]);"
                 " return griddispatch.gridTiles.featureAt(ll); }", point)
    assert under and under["name"] in tip and under["code"] in tip
    v.shot("live-grid-tiles")
    assert v.console_errors == [] and v.failed == [] and v.foreign_requests() == []


def test_the_maps_can_draw_grids_as_geojson_instead(chromium, sqlite_store, city):
    server = Server(sqlite_store, map_refresh_seconds=REFRESH_S, map_grid_tiles=False)
    try:
        v = Visit(chromium, server, "operator", "/maps/live")
        lon, lat = city.landmarks[SCHOOL]
        v.zoom_to(lon, lat, 16)
        grids = v.features("grids")
        assert grids and all(len(f["id"]) == 15 for f in grids)
        assert not [u for u in v.requests if "/tiles/" in u]
        assert v.console_errors == [] and v.failed == []
        v.close()
    finally:
        server.stop()


def test_dispatch_map_shows_ranked_candidates(visit, city, maps_api):
    lon, lat = city.landmarks[SCHOOL]
    with maps_api.client("dispatcher") as c:
        issue = c.post("/api/v1/issues", json={"category_code": "L01", "lon": lon,
                                               "lat": lat}).json()["issue"]
        ranked = c.get(f"/api/v1/issues/{issue['id']}/candidates").json()["candidates"]
    assert ranked
    v = visit("dispatcher", f"/maps/issues/{issue['id']}")
    v.wait("() => document.querySelectorAll('#gd-candidates li').length > 0")
    listed = v.js("() => [...document.querySelectorAll('#gd-candidates li')]"
                  ".map(li => li.dataset.team)")
    assert listed == [t["team_id"] for t in ranked]
    labels = v.js("() => [...document.querySelectorAll('.gd-candidate')].map(e => e.textContent)")
    assert sorted(labels) == [str(t["rank"]) for t in ranked]
    tooltips = v.js("() => [...document.querySelectorAll('.gd-candidate-label')]"
                    ".map(e => e.textContent)")
    # Each label: rank, name, ETA in minutes ("≈" when timed by straight line).
    for t in ranked:
        label = next(x for x in tooltips if x.startswith(f"{t['rank']}. {t['name']} · "))
        assert "分钟" in label and label.count("≈") == (t["basis"] == "straight_line")
    kinds = {f["properties"]["kind"] for f in v.features("dispatch")}
    assert {"issue", "grid", "candidate", "route"} <= kinds
    assert v.js("() => document.querySelectorAll('.gd-target').length") == 1
    v.shot("dispatch")
    assert v.console_errors == [] and v.failed == [] and v.foreign_requests() == []


@contextmanager
def _session(server: Server, user: str):
    """An HTTP client holding the map pages' login cookie (as a browser would)."""
    with httpx.Client(base_url=server.url, timeout=30) as c:
        r = c.post("/api/v1/auth/session", data={"username": user, "password": "demo"})
        assert r.status_code == 204, r.text
        yield c


URL = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\(\s*["']?([^"')]+)""")


def _references(text: str) -> list[str]:
    return [a or b for a, b in URL.findall(text)]


def test_pages_reference_no_external_url(maps_api, city):
    """The pages and every script and style they load name only this server."""
    with maps_api.client("dispatcher") as c:
        iid = c.post("/api/v1/issues", json={"category_code": "L01",
                                             "lon": city.landmarks[SCHOOL][0],
                                             "lat": city.landmarks[SCHOOL][1]}).json()["issue"]["id"]
    with _session(maps_api, "dispatcher") as c:
        seen, queue = set(), ["/maps/login", "/maps/live", f"/maps/issues/{iid}"]
        while queue:
            path = queue.pop()
            if path in seen:
                continue
            seen.add(path)
            r = c.get(path)
            assert r.status_code == 200, (path, r.status_code)
            if path.startswith("/maps/"):
                assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", r.text), path
                assert "connect-src 'self'" in r.headers["content-security-policy"]
            if path.endswith((".js", ".map")):
                continue  # scripts mention licence and homepage URLs; the browser test
                # proves that they request nothing from outside
            for ref in _references(r.text):
                parts = urlsplit(ref)
                assert not parts.scheme or parts.scheme == "data", (path, ref)
                assert not parts.netloc, (path, ref)
                if parts.scheme != "data" and not ref.startswith("#"):
                    base = path.rsplit("/", 1)[0] + "/"
                    target = ref if ref.startswith("/") else base + ref
                    queue.append(urlsplit(target).path)
    assert any(p.startswith("/static/leaflet/") for p in seen)
    assert any(p.endswith(".png") for p in seen)  # leaflet.css's images, served here too


def test_a_configured_tile_server_is_the_only_other_host(sqlite_store):
    server = Server(sqlite_store, tile_url="http://tiles.example.local/{z}/{x}/{y}.png",
                    tile_attribution="city survey")
    try:
        with _session(server, "operator") as c:
            r = c.get("/maps/live")
        assert r.status_code == 200
        assert "http://tiles.example.local/{z}/{x}/{y}.png" in r.text
        assert "img-src 'self' data: http://tiles.example.local;" in (
            r.headers["content-security-policy"])
        hosts = set(re.findall(r"https?://([^/\"'\s]+)", r.text))
        assert hosts == {"tiles.example.local"}
    finally:
        server.stop()


def test_map_pages_need_a_login_the_right_role_and_jurisdiction(maps_api, city):
    with httpx.Client(base_url=maps_api.url, timeout=30) as anon:
        r = anon.get("/maps/live")
        assert r.status_code == 303 and r.headers["location"] == "/maps/login?next=/maps/live"
        page = anon.get("/maps/login", params={"next": "//evil.example/x"}).text
        assert 'data-next="/maps/live"' in page  # no open redirect
    with maps_api.client("admin") as c:
        foreign = c.post("/api/v1/issues", json={"category_code": "L01",
                                                 "lon": city.landmarks[FOREIGN][0],
                                                 "lat": city.landmarks[FOREIGN][1]}).json()["issue"]
    with _session(maps_api, "citizen") as c:
        r = c.get("/maps/live")
        assert r.status_code == 403 and "layers:read" in r.text
    with _session(maps_api, "grid_worker") as c:
        r = c.get(f"/maps/issues/{foreign['id']}")
        assert r.status_code == 403 and "issues:dispatch" in r.text
    with _session(maps_api, "dispatcher") as c:
        r = c.get(f"/maps/issues/{foreign['id']}")
        assert r.status_code == 404 and str(foreign["lon"])[:7] not in r.text
        # The layer behind the page refuses too.
        assert c.get(f"/api/v1/layers/dispatch/{foreign['id']}").status_code == 404
    with _session(maps_api, "admin") as c:
        assert c.get(f"/maps/issues/{foreign['id']}").status_code == 200
