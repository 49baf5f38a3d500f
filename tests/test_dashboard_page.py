"""The big screen (/maps/dashboard) in Chromium at 1920×1080 against the real service (on the
embedded backend): every figure shown is the API's answer for the same user, the page refreshes
itself, it asks no other host, and it speaks Chinese (or English when asked).

Screenshots: test-artifacts/maps/dashboard-zh.png and dashboard-en.png."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest

from fixtures import shulan
from geo.store.sql import as_dt
from tests.http import Server
from tests.pages import Tab, browser

READY = "() => window.gdDashboard && gdDashboard.ready()"
SCHOOL = "电东胡同小学门口"
WALL = (1920, 1080)


@pytest.fixture(scope="module")
def chromium():
    with browser() as b:
        yield b


@pytest.fixture
def screen_api(sqlite_store):
    """The screen reads only GET /dashboard, which tests/test_dashboard.py holds to both
    backends: the browser runs on the embedded one."""
    store = sqlite_store
    with store.snapshot() as tx:
        last = as_dt(tx.one("SELECT max(at) AS t FROM issue_event")["t"])
    server = Server(store, map_refresh_seconds=1.0)
    server.now = last + timedelta(hours=1)  # just after the test city's history
    yield server
    server.stop()


def answer(server, user) -> dict:
    with server.client(user) as c:
        r = c.get("/api/v1/dashboard")
    assert r.status_code == 200, r.text
    return r.json()


SHOWN = """() => {
  const out = {};
  document.querySelectorAll("[data-figure]").forEach(el => {
    out[el.getAttribute("data-figure")] = {value: JSON.parse(el.getAttribute("data-value")),
                                            text: el.textContent};
  });
  return out;
}"""

CHARTS = """() => {
  const c = gdDashboard.charts, data = k => c[k].getOption().series.map(s => s.data.map(
      d => (d !== null && typeof d === "object") ? d.value : d));
  return {lights: data("lights"), networks: data("networks"), trend: data("trend"),
          ranking: data("ranking"), categories: data("categories"), teams: data("teams"),
          rankingNames: c.ranking.getOption().yAxis[0].data,
          overdue: [...document.querySelectorAll("#overdue-rows tr[data-issue]")].map(
              tr => Number(tr.getAttribute("data-issue")))};
}"""


def lookup(data: dict, path: str):
    for key in path.split("."):
        data = data[int(key)] if isinstance(data, list) else data[key]
    return data


def percent(fraction: float) -> str:
    """A rate as the page writes it, to a tenth (Intl rounds half away from zero, and drops
    a zero tenth): 0.9155 → 91.6%, 1.0 → 100%."""
    tenths = str((Decimal(str(fraction)) * 100).quantize(Decimal("0.1"), ROUND_HALF_UP))
    return (tenths[:-2] if tenths.endswith(".0") else tenths) + "%"


def check_shown(tab: Tab, api: dict) -> None:
    shown = tab.js(SHOWN)
    assert len(shown) == 4 + 3 + 12 + 2 + 5  # today, lights, indicators, overdue, levels
    for key, got in shown.items():
        want = lookup(api, key)
        assert got["value"] == want, key
        if key.endswith("_rate") or key.endswith("satisfaction"):
            assert got["text"] == ("—" if want is None else percent(want)), key
        elif isinstance(want, int):  # a numeral, or a sentence holding it ("共 4 件超期")
            assert re.sub(r"[^0-9]", "", got["text"]) == str(want), key
    charts = tab.js(CHARTS)
    lights = api["lights"]
    assert charts["lights"] == [[lights["green"]], [lights["yellow"]], [lights["red"]]]
    assert charts["networks"] == [[n["reported"] for n in api["networks"]]]
    assert charts["trend"] == [[d["reported"] for d in api["trend"]],
                               [d["closed"] for d in api["trend"]]]
    areas = api["ranking"]["areas"]
    assert charts["ranking"] == [[a["overdue"] for a in areas], [a["open"] for a in areas]]
    assert charts["rankingNames"] == [a["name"] for a in areas]
    assert charts["categories"] == [[t["reported"] for t in api["top_categories"]]]
    by_status = api["teams"]["by_status"]
    assert charts["teams"] == [[by_status[s] for s in ("available", "busy", "off_duty")]]
    assert charts["overdue"] == [i["id"] for i in api["overdue"]["items"]]


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_figure_shown_is_the_apis_answer(chromium, screen_api, lang):
    tab = Tab(chromium, screen_api, "supervisor", "/maps/dashboard", lang=lang, viewport=WALL,
              ready=READY)
    try:
        assert tab.lang() == lang
        api = answer(screen_api, "supervisor")
        assert api["overdue"]["items"] and api["today"]["reported"] >= 0
        check_shown(tab, api)
        tab.wait("() => gdDashboard.mapIssues > 0")
        assert tab.js("() => gdDashboard.mapIssues") == api["lights"]["open"]
        mode = tab.js("() => document.getElementById('mode').textContent")
        assert mode == ("常态模式" if lang == "zh-CN" else "Normal mode")
        assert tab.js("() => document.querySelector('.gd-head h1').textContent") == (
            "指挥中心大屏" if lang == "zh-CN" else "Command centre big screen")
        assert tab.untranslated(allow=("supervisor",)) == []
        assert tab.foreign_requests() == []
        assert tab.console_errors == [] and tab.failed == []
        tab.shot("dashboard-zh" if lang == "zh-CN" else "dashboard-en")
        # The wall is filled, and nothing spills out of it.
        size = tab.js("() => [document.documentElement.scrollWidth, "
                      "document.documentElement.scrollHeight]")
        assert size == list(WALL)
    finally:
        tab.close()


def test_the_screen_refreshes_itself(chromium, screen_api, city):
    tab = Tab(chromium, screen_api, "operator", "/maps/dashboard", viewport=WALL, ready=READY)
    try:
        tab.js("() => { window.gdNotReloaded = true; }")
        before = tab.js("() => JSON.parse(document.querySelector("
                        "'[data-figure=\"today.reported\"]').getAttribute('data-value'))")
        lon, lat = city.landmarks[SCHOOL]
        with screen_api.client("grid_worker") as c:
            r = c.post("/api/v1/issues", json={"category_code": "L01", "lon": lon, "lat": lat})
        assert r.status_code == 201, r.text
        tab.wait("(n) => JSON.parse(document.querySelector('[data-figure=\"today.reported\"]')"
                 ".getAttribute('data-value')) === n + 1", arg=before)
        assert tab.js("() => window.gdNotReloaded === true")
        assert tab.js("() => gdDashboard.loads") >= 2
        check_shown(tab, answer(screen_api, "operator"))

        # An alarm from a camera of the operator's streets flashes over the map until its
        # issue is accepted.
        assert tab.js("() => document.getElementById('alarms').hidden")
        camera = next(c for c in screen_api.store.read_layer("cameras").itertuples()
                      if screen_api.store.locate(c.geometry.x, c.geometry.y) and
                      screen_api.store.locate(c.geometry.x, c.geometry.y).street_code
                      in tab.js("() => gdDashboard.last.viewer.jurisdiction"))
        with screen_api.client("device") as c:
            raised = c.post("/api/v1/alarms", json={
                "camera_id": camera.id, "kind": "vendor_detected",
                "observed_at": (screen_api.now - timedelta(minutes=1)).isoformat()})
        assert raised.status_code == 201, raised.text
        alarm_id, issue = raised.json()["alarm"]["id"], raised.json()["issue"]["id"]
        tab.wait("(id) => !document.getElementById('alarms').hidden && "
                 "document.querySelector(`#alarm-rows li[data-alarm='${id}']`)", arg=alarm_id)
        assert tab.js("() => getComputedStyle(document.getElementById('alarms'))"
                      ".animationName") == "gd-flash"
        # Its ring on the map is alarms.js's, flashing (a DOM marker: the map draws on canvas).
        tab.wait("() => document.querySelector('#map .gd-alarm-ring')")
        rings = tab.js("() => [...document.querySelectorAll('#map .gd-alarm-ring')].map(r => "
                       "[getComputedStyle(r).animationName, getComputedStyle(r).animationPlayState])")
        located = tab.js("() => gdDashboard.alarms.filter(a => a.lon != null).length")
        assert rings and len(rings) == min(located, 8)
        assert all(r == ["gd-alarm-flash", "running"] for r in rings), rings
        tab.shot("dashboard-alarm")
        with screen_api.client("operator") as c:
            assert c.post(f"/api/v1/issues/{issue}/accept", json={}).status_code == 200
        tab.wait("() => document.getElementById('alarms').hidden")

        # The one-key switch to emergency mode (平急结合) turns the banner red.
        assert tab.js("() => document.getElementById('mode').textContent") == "常态模式"
        with screen_api.client("supervisor") as c:
            assert c.put("/api/v1/mode", json={"mode": "emergency", "reason": "暴雨"}
                         ).status_code == 200
        tab.wait("() => document.getElementById('mode').textContent === '应急模式'")
        assert tab.js("() => document.getElementById('mode').classList.contains('gd-emergency')")
        assert tab.js("() => window.gdNotReloaded === true")
        assert tab.foreign_requests() == [] and tab.console_errors == []
    finally:
        tab.close()


def test_the_screen_is_for_the_command_centre(chromium, screen_api):
    tab = Tab(chromium, screen_api, "grid_worker", "/maps/dashboard", viewport=WALL, ready=None)
    try:
        assert "大屏仅供指挥中心值班员、派单员、督办员和管理员查看" in tab.page.content()
        assert tab.js("() => window.gdDashboard === undefined")
    finally:
        tab.close()


def test_a_hung_request_and_a_crowded_map_are_told(chromium, screen_api):
    """A map with more open issues than it draws says how many it shows; a figures request
    that never answers is given up after two refreshes, the screen says since when it is not
    updated, and it recovers by itself once the service answers again."""
    tab = Tab(chromium, screen_api, "supervisor", "/maps/dashboard", lang="en", viewport=WALL,
              ready=READY)
    try:
        assert tab.js("() => document.getElementById('map-note').hidden")
        matched = tab.js("() => gdDashboard.mapMatched")
        assert matched > 3

        def three(route):  # the real service, asked for three issues only
            route.continue_(url=re.sub(r"limit=\d+", "limit=3", route.request.url))

        tab.page.route("**/api/v1/layers/live/issues*", three)
        tab.wait("() => gdDashboard.mapIssues === 3")
        assert tab.js("() => document.getElementById('map-note').textContent") == \
            f"showing 3 of {matched:,} open issues"
        tab.page.unroute("**/api/v1/layers/live/issues*")

        last = answer(screen_api, "supervisor")["now"]
        hung = []

        def never(route):  # held, never answered
            hung.append(route)

        tab.page.route("**/api/v1/dashboard", never)
        tab.wait("() => gdDashboard.stale", timeout_s=30)
        assert hung
        updated = tab.js("() => document.getElementById('updated').textContent")
        assert updated == f"not updated since {last[11:16]}"
        assert tab.js("() => document.getElementById('updated').classList.contains('gd-stale')")
        assert tab.js("() => document.getElementById('failure').textContent") == \
            "The figures could not be loaded: no answer in time"
        tab.shot("dashboard-stale")
        tab.page.unroute("**/api/v1/dashboard")
        tab.wait("() => !gdDashboard.stale && document.getElementById('failure').hidden",
                 timeout_s=30)
        assert tab.js("() => document.getElementById('updated').textContent").startswith(
            "updated ")
    finally:
        tab.close()


def test_the_city_wide_screen_opens_on_the_urban_districts(chromium, screen_api, city):
    """The admin's city holds 舒兰市, 70 km off: the wall's map shows the urban districts, where
    most streets are, not the empty land between."""
    tab = Tab(chromium, screen_api, "admin", "/maps/dashboard", viewport=WALL, ready=READY)
    try:
        urban = city.districts[~shulan.is_part(city.districts.code)].total_bounds
        centre = tab.js("() => gdDashboard.map.getCenter()")
        assert urban[0] < centre["lng"] < urban[2] and urban[1] < centre["lat"] < urban[3]
        shown = tab.js("() => gdDashboard.map.getBounds().getNorth()")
        assert shown < city.sewer_story.lonlat[1]  # 舒兰 lies beyond the top of the wall
        tab.shot("dashboard-admin")
    finally:
        tab.close()
