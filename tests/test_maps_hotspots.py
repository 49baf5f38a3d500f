"""The hotspot map in Chromium: served at /maps/hotspots and saved by `griddispatch hotspots`;
the demo city's vendor stories on it, nothing loaded from elsewhere, filters that explain a
refusal. Screenshots go to test-artifacts/maps/."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime, time, timedelta
from urllib.parse import urlsplit

import pytest

from fixtures.jilin import REFERENCE_TIME
from geo.casework.errors import InvalidInput
from geo.hotspots.emerging import slice_edges
from geo.hotspots.reports import HotspotQuery, day, epoch
from geo.i18n import TIMEZONE, local
from maps.hotspots import whole_slices
from tests.pages import ARTIFACTS
from tests.test_cli import EXE
from tests.test_maps import _references, _session, chromium, maps_api, visit  # noqa: F401

VENDORS = "/maps/hotspots?category=L01"
DRAWN = "() => window.griddispatch && griddispatch.drawn === true"  # results are embedded


@pytest.fixture
def hot_maps(maps_api):  # noqa: F811 - the imported fixture
    maps_api.now = REFERENCE_TIME
    return maps_api


def _drawn(page) -> dict:
    """What the map holds (vectors are drawn on a canvas, so counted as Leaflet layers)."""
    return page.evaluate("""() => {
        const out = {arrows: 0, clusters: 0};
        griddispatch.map.eachLayer((l) => {
            if (l.options && l.options.className === 'gd-displacement') out.arrows += 1;
            if (l.feature && l.feature.properties.dominant_category) out.clusters += 1;
        });
        out.summary = griddispatch.hotspots;
        out.legend = document.getElementById('gd-legend').innerText;
        out.date = document.querySelector('.timecontrol-date').innerText;
        out.heat = document.querySelectorAll('canvas').length;
        return out;
    }""")


def test_hotspot_page_shows_the_vendor_stories(visit, hot_maps):  # noqa: F811
    """The operator (长春路 and 向阳 streets) sees the school-gate cluster, the night market
    and 岭北胡同, and one arrow from the market to 岭北胡同; the slider steps through months."""
    v = visit("operator", VENDORS, ready=DRAWN)
    drawn = _drawn(v.page)
    assert v.console_errors == [] and v.failed == [] and v.foreign_requests() == []
    assert drawn["summary"]["reports"] > 0
    assert drawn["summary"]["clusters"] >= 3 and drawn["clusters"] == drawn["summary"]["clusters"]
    assert drawn["summary"]["displacement"] == 1 and drawn["arrows"] == 1
    assert "热点" in drawn["legend"] and "聚集区" in drawn["legend"]
    assert drawn["heat"] >= 1
    first = drawn["date"]
    v.page.click("a.timecontrol-forward")
    v.wait("(d) => document.querySelector('.timecontrol-date').innerText !== d", first)
    v.page.click("a.timecontrol-backward")
    v.wait("(d) => document.querySelector('.timecontrol-date').innerText === d", first)
    v.shot("hotspots-operator")
    # the tooltip of the arrow tells the story
    x, y = v.js("""() => {
        let line = null;
        griddispatch.map.eachLayer((l) => {
            if (l.options && l.options.className === 'gd-displacement') line = l;
        });
        const m = griddispatch.map;
        m.fitBounds(line.getBounds(), {animate: false, padding: [200, 200]});
        const [a, b] = line.getLatLngs();
        const p = m.latLngToContainerPoint([(a.lat * 2 + b.lat) / 3, (a.lng * 2 + b.lng) / 3]);
        const r = m.getContainer().getBoundingClientRect();
        return [r.left + p.x, r.top + p.y];
    }""")
    v.page.mouse.move(x, y)
    v.wait("() => document.querySelector('.leaflet-tooltip') !== null")
    assert "热点转移" in v.js("() => document.querySelector('.leaflet-tooltip').innerText")


def test_hotspot_filters_explain_a_refusal(visit, hot_maps):  # noqa: F811
    v = visit("planner", VENDORS, ready=DRAWN)
    v.page.fill("input[name=since]", "2026-10-01")
    v.page.fill("input[name=until]", "2026-10-20")
    v.page.select_option("select[name=slice]", "week")
    v.page.click(".gd-filters button[type=submit]")
    v.page.wait_for_url(re.compile(r".*since=2026-10-01.*"))
    body = v.page.inner_text("body")
    assert "无法按这些条件分析" in body and "4" in body
    assert urlsplit(v.page.url).path == "/maps/hotspots"


def test_hotspot_page_refuses_other_roles_and_areas(hot_maps):
    with _session(hot_maps, "citizen") as c:
        assert c.get(VENDORS).status_code == 403
    with _session(hot_maps, "operator") as c:
        r = c.get(VENDORS + "&area=220203001")  # 山前街道: not the operator's
        assert r.status_code == 404 and "220203001" in r.text
        r = c.get(VENDORS + "&since=yesterday")
        assert r.status_code == 422 and "YYYY-MM-DD" in r.text and 'lang="zh-CN"' in r.text
        page = c.get(VENDORS)
    assert page.status_code == 200
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", page.text)
    for ref in _references(page.text):
        assert not urlsplit(ref).netloc, ref


def test_saved_hotspot_map_works_with_no_server(chromium, sqlite_url, tmp_path):  # noqa: F811
    """`griddispatch hotspots` writes one file; Chromium opens it from disk with every other
    request refused, and draws the same story (on the embedded backend: the analysis reads
    the reports as tests/test_api_hotspots.py checks on both)."""
    out = tmp_path / "vendors.html"
    done = subprocess.run([EXE, "--db", sqlite_url, "hotspots", "-o", str(out), "--category", "L01",
                           "--until", "2026-11-22"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert re.search(r"\d+ 件上报", done.stdout), done.stdout  # the CLI speaks Chinese by default
    text = out.read_text(encoding="utf-8")
    # every script, style and icon is written in (scripts may mention URLs in their text)
    assert not re.search(r'<(script|link)[^>]+(src|href)="(?!data:)', text)
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    asked = []

    def only_the_file(route):
        asked.append(route.request.url)
        if route.request.url.startswith(("file://", "data:")):
            route.continue_()
        else:
            route.abort()
    context.route("**/*", only_the_file)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.goto(out.as_uri())
    page.wait_for_function("() => window.griddispatch && griddispatch.drawn", timeout=20_000)
    drawn = _drawn(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "hotspots-saved.png"))
    context.close()
    assert errors == []
    assert [u for u in asked if not u.startswith(("file://", "data:"))] == []
    assert drawn["summary"]["displacement"] >= 1 and drawn["arrows"] >= 1
    assert drawn["summary"]["clusters"] >= 4  # the whole city: all four story places
    assert "件上报" in re.sub(r"<[^>]+>", " ", text)  # the summary, in Chinese
    assert '<html lang="zh-CN">' in text and "window.GD_MESSAGES" in text  # its messages too


# 156 weekly heat maps of the city; the page reaches back to whole weeks ending at "to" (so
# that its slider starts at "from"): 157.
COSTLY = "/maps/hotspots?since=2023-11-25&slice=week"


def test_hotspot_page_refuses_a_costly_analysis_as_its_other_filters(hot_maps):
    """Priced before it runs, with the same page as any other refusal of the filters."""
    with _session(hot_maps, "admin") as c:
        pages = [c.get(COSTLY), c.get(COSTLY + "&bins=h3"), c.get(VENDORS + "&since=yesterday")]
    for r in pages:
        assert r.status_code == 422
        assert "<h1>无法按这些条件分析</h1>" in r.text
    for r in pages[:2]:
        assert "157" in r.text and "100,000,000" in r.text, r.text


def test_saved_hotspot_map_refuses_a_costly_analysis(sqlite_url, tmp_path):
    """The same refusal as the page's (the API's tests price the reports on both backends)."""
    out = tmp_path / "weekly.html"
    done = subprocess.run([EXE, "--db", sqlite_url, "hotspots", "-o", str(out), "--since", "2023-11-25",
                           "--until", "2026-11-22", "--slice", "week"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 2, done.stderr
    assert "157" in done.stderr and "100,000,000" in done.stderr  # as the page: whole weeks
    assert not out.exists()


def test_the_window_reaches_back_to_whole_slices_once():
    """The page's window is whole slices ending at "to", so that the first slice, where the
    slider starts, begins on the "from" day it shows; sent again with that day, it stays."""
    until = datetime(2026, 11, 20, tzinfo=UTC)
    asked = HotspotQuery(since=datetime(2026, 1, 1, tzinfo=UTC), until=until)
    window = whole_slices(asked, "month")
    edges = slice_edges(epoch(window.since), epoch(window.until), "month")
    assert edges[0] == pytest.approx(epoch(window.since))  # the first slice starts at "from"
    assert timedelta(0) < asked.since - window.since < timedelta(days=31)
    assert window.until == until and len(edges) - 1 == 11
    # unaligned, the slider would have started about three weeks after "from"
    assert slice_edges(epoch(asked.since), epoch(until), "month")[0] > epoch(asked.since) + 18 * 86400
    shown = datetime.combine(local(window.since).date(), time(), TIMEZONE)  # what the form says
    again = whole_slices(HotspotQuery(since=shown, until=until), "month")
    assert again.since == shown
    # a window the analysis refuses is left to be refused in its own words
    short = HotspotQuery(since=datetime(2026, 10, 1, tzinfo=UTC), until=datetime(2026, 10, 20, tzinfo=UTC))
    assert whole_slices(short, "week") == short


def test_a_typed_day_is_the_command_centre_s_day():
    """"2026-10-01" on the page or the command line starts at midnight in Beijing (16:00 UTC
    the day before), not at 08:00; a time with an offset is taken as it says."""
    assert day("2026-10-01", "since") == datetime(2026, 9, 30, 16, 0, tzinfo=UTC)
    assert day("2026-10-01T09:30", "since") == datetime(2026, 10, 1, 1, 30, tzinfo=UTC)
    assert day("2026-10-01T00:00+00:00", "since") == datetime(2026, 10, 1, tzinfo=UTC)
    assert local(day("2026-10-01", "since")).date().isoformat() == "2026-10-01"
    assert day("", "since") is None
    with pytest.raises(InvalidInput, match="YYYY-MM-DD"):
        day("yesterday", "since")
