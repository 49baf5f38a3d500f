"""Every map page in Chinese by default and in English on request, in Chromium against the
real service on the demo SQLite city: `<html lang>`, no string left untranslated on a
Chinese page, the language switch that goes to the other language and stays there, times in
the command centre's zone and the page's format, a legend that fits the screen, the hotspot
form's dates. And the message table the pages load.

Screenshots of each page in each language: test-artifacts/maps/i18n-*.png."""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest

from fixtures.jilin import REFERENCE_TIME
from geo.i18n import messages
from maps.messages import url as messages_url
from tests.http import Server
from tests.pages import Tab, browser, untranslated

SCHOOL = "电东胡同小学门口"  # in the demo dispatcher's street
COMMUNITY = "220204002001"
LOCAL = ZoneInfo("Asia/Shanghai")
HOTSPOTS = "/maps/hotspots?category=L01"
DRAWN = "() => window.griddispatch && griddispatch.drawn === true"
DISPATCH_READY = ("() => window.griddispatch && griddispatch.ready() && griddispatch.dispatch.issue"
                  " && griddispatch.dispatch.placed > 0")
EDITOR_READY = "() => window.griddispatch && griddispatch.editor && griddispatch.editor.loaded > 0"
OTHER = {"zh-CN": ("English", "en"), "en": ("中文", "zh-CN")}


@pytest.fixture(scope="module")
def chromium():
    with browser() as b:
        yield b


@pytest.fixture
def server(sqlite_store):
    s = Server(sqlite_store, map_refresh_seconds=2.0)
    yield s
    s.stop()


def _issue(server: Server, city) -> dict:
    lon, lat = city.landmarks[SCHOOL]
    with server.client("dispatcher") as c:
        r = c.post("/api/v1/issues", json={"category_code": "L01", "lon": lon, "lat": lat,
                                           "description": "校门口流动摊贩占道经营"})
        assert r.status_code == 201, r.text
        iid = r.json()["issue"]["id"]
        r = c.post(f"/api/v1/issues/{iid}/accept", json={})
        assert r.status_code == 200, r.text
        return r.json()


def _draft(server: Server) -> int:
    with server.client("planner") as c:
        r = c.post("/api/v1/plans", json={"area_code": COMMUNITY})
        assert r.status_code in (200, 201), r.text
        return r.json()["draft"]["id"]


def test_the_message_table_is_a_cacheable_script(server):
    """At the address the pages use (named by its content) it is kept for good; at any other
    it is revalidated. It says its own language, and depends on nothing of the request."""
    with httpx.Client(base_url=server.url, timeout=30) as c:
        r = c.get("/i18n/zh_CN.js", headers={"Accept-Language": "en", "Cookie": "gd_lang=en"})
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/javascript")
        assert r.text.startswith("window.GD_MESSAGES = {")
        assert '"Log out": "退出登录"' in r.text
        assert r.headers["cache-control"] == "no-cache"
        assert r.headers["content-language"] == "zh-CN"  # the file's, not the request's "en"
        assert "cookie" not in r.headers.get("vary", "").lower()
        again = c.get("/i18n/zh_CN.js", headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        versioned = messages_url("zh_CN")
        assert versioned == "/i18n/zh_CN.js?v=" + r.headers["etag"].strip('"')
        kept = c.get(versioned)
        assert kept.text == r.text
        assert kept.headers["cache-control"] == "public, max-age=31536000, immutable"
        stale = c.get("/i18n/zh_CN.js?v=0123")  # a page of an older release: revalidate
        assert stale.headers["cache-control"] == "no-cache" and stale.text == r.text
        english = c.get("/i18n/en.js")
        assert english.status_code == 200 and english.text.strip() == "window.GD_MESSAGES = {};"
        assert english.headers["etag"] != r.headers["etag"]
        assert english.headers["content-language"] == "en"
        for wrong in ("/i18n/fr.js", "/i18n/zh-CN.js", "/i18n/..%2Fsecret.js"):
            assert c.get(wrong).status_code == 404, wrong
        refused = c.get("/i18n/fr.js").json()
        assert refused["code"] == "not_found" and "zh_CN" in refused["detail"], refused
        static = c.get("/static/app/i18n.js", headers={"Cookie": "gd_lang=en"})
        assert static.status_code == 200
        assert "content-language" not in static.headers
        assert "cookie" not in static.headers.get("vary", "").lower()
        assert not any(p.startswith("/i18n") for p in c.get("/openapi.json").json()["paths"])
    assert len(messages("zh_CN")) > 100


def _pages(server: Server, city) -> dict[str, tuple[str, str, str]]:
    """name → (user, path, what shows the page is ready)."""
    server.now = REFERENCE_TIME  # the demo's history ends there (the hotspot page's year)
    iid = _issue(server, city)["id"]
    return {"live": ("operator", "/maps/live", "() => window.griddispatch && griddispatch.ready()"),
            "dispatch": ("dispatcher", f"/maps/issues/{iid}", DISPATCH_READY),
            "hotspots": ("operator", HOTSPOTS, DRAWN),
            "editor": ("planner", f"/maps/editor/{_draft(server)}", EDITOR_READY)}


# The language each page is first opened in (the browser's); its switch then shows the other,
# so every page is seen in both and both kinds of browser are met.
FIRST_LANGUAGE = {"live": "zh-CN", "dispatch": "en", "hotspots": "en", "editor": "zh-CN"}


def test_every_page_speaks_the_browsers_language_and_switches(chromium, server, city):
    pages = _pages(server, city)
    left = {}  # page → its untranslated text, asserted last so that every page is seen
    for name, (user, path, ready) in pages.items():
        lang = FIRST_LANGUAGE[name]
        label, other = OTHER[lang]
        tab = Tab(chromium, server, user, path, lang=lang, ready=ready)
        try:
            tab.shot(f"i18n-{name}-{lang}")
            assert tab.lang() == lang, name
            if name == "live":
                _open_a_tooltip_of_each_kind(tab)
            left[f"{name} {lang}"] = tab.untranslated()
            assert tab.js("() => gdI18n.missing") == [], name
            switch = tab.page.locator("a.gd-lang")
            assert switch.count() == 1 and switch.inner_text() == label, name
            assert switch.is_visible(), name
            # the switch goes to the other language, and the page stays in it when opened
            # again without asking (the cookie), whatever the browser prefers
            assert tab.switch_language(ready) == other, name
            assert urlsplit_path(tab.page.url) == urlsplit_path(server.url + path)
            tab.page.goto(server.url + path)
            tab.wait(ready)
            assert tab.lang() == other, name
            left[f"{name} {other}"] = tab.untranslated()
            assert tab.console_errors == [] and tab.foreign_requests() == [], name
        finally:
            tab.close()
    assert {page: texts for page, texts in left.items() if texts} == {}


def _open_a_tooltip_of_each_kind(tab: Tab) -> None:
    """The live map's tooltips are written by its script when shown: write one of each kind
    into the page, where `untranslated` reads it."""
    shown = tab.js("""() => {
        const out = document.createElement('div');
        out.id = 'gd-test-tooltips';
        out.style = 'position: fixed; top: 0; left: 0; z-index: 5000; background: #fff';
        document.body.appendChild(out);
        const kinds = [];
        const tiled = Object.values(griddispatch.gridTiles.features())[0];
        if (tiled) {  // grids drawn from tiles have their tooltip written on hover
            const div = document.createElement('div');
            div.innerHTML = griddispatch.areaTooltipHtml(tiled);
            out.appendChild(div);
            kinds.push('grid tiles');
        }
        for (const name of ['grids', 'issues', 'teams', 'sites']) {
            const one = griddispatch.layers[name]._container.getLayers()
                .find(l => l.getTooltip && l.getTooltip());
            if (!one) continue;
            const content = one.getTooltip()._content;
            const div = document.createElement('div');
            div.innerHTML = typeof content === 'function' ? content(one) : content;
            out.appendChild(div);
            kinds.push(name);
        }
        return kinds;
    }""")
    assert {"issues", "teams", "sites"} <= set(shown) and {"grids", "grid tiles"} & set(shown), shown
    assert len(tab.page.inner_text("#gd-test-tooltips")) > 20


def urlsplit_path(url: str) -> str:
    return re.sub(r"[?#].*$", "", url)


def test_login_and_refusal_pages_in_chinese_and_english(chromium, server):
    context = chromium.new_context(locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(server.url + "/maps/live")
        page.wait_for_url(re.compile(r".*/maps/login\?next=.*"))
        assert page.evaluate("() => document.documentElement.lang") == "zh-CN"
        assert "用户名" in page.inner_text("form") and page.inner_text("button") == "登录"
        assert untranslated(page) == []
        page.screenshot(path=str(_artifact("i18n-login-zh-CN")))
        page.fill("input[name=username]", "citizen")
        page.fill("input[name=password]", "wrong")
        page.click("button[type=submit]")
        page.wait_for_function("() => document.getElementById('message').textContent !== ''")
        assert untranslated(page) == []
        # a citizen may not see the live map: the refusal says so in Chinese
        page.fill("input[name=password]", "demo")
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: urlsplit(url).path == "/maps/live")
        assert page.evaluate("() => document.documentElement.lang") == "zh-CN"
        assert page.inner_text("h1") == "无权查看"
        assert untranslated(page, ["citizen"]) == []
        page.screenshot(path=str(_artifact("i18n-refusal-zh-CN")))
        page.click("a.gd-lang")
        page.wait_for_function("() => document.documentElement.lang === 'en'")
        assert page.inner_text("h1") == "Not allowed"
        assert "Log in as someone else" in page.inner_text("body")
        page.screenshot(path=str(_artifact("i18n-refusal-en")))
    finally:
        context.close()
    with httpx.Client(base_url=server.url, timeout=30) as c:
        assert '<html lang="zh-CN">' in c.get("/maps/login").text
        english = c.get("/maps/login", headers={"Accept-Language": "en-US,en;q=0.9"}).text
        assert '<html lang="en">' in english and ">Log in</button>" in english
        assert f'<script src="{messages_url("en")}"></script>' in english


def _artifact(name: str):
    from tests.pages import ARTIFACTS
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{name}.png"


def _local(iso: str, lang: str) -> str:
    t = datetime.fromisoformat(iso).astimezone(LOCAL)
    return t.strftime("%Y/%m/%d %H:%M") if lang == "zh-CN" else t.strftime("%d/%m/%Y, %H:%M")


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_times_are_local_in_the_pages_format(chromium, server, city, lang):
    issue = _issue(server, city)
    tab = Tab(chromium, server, "dispatcher", f"/maps/issues/{issue['id']}", lang=lang,
              ready=DISPATCH_READY)
    try:
        panel = tab.page.inner_text("#gd-candidates")
        assert _local(issue["reported_at"], lang) in panel, panel
        assert _local(issue["due_at"], lang) in panel, panel
        assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", panel)
        if lang == "en":
            assert "Accepted" in panel or "accepted" in panel
        else:
            assert "已受理" in panel and "绿灯" in panel
    finally:
        tab.close()


LEGEND_SECTIONS = ("areas", "outlines", "issues", "lights", "teams", "cameras", "sites")


@pytest.mark.parametrize("size", [(1366, 768), (1600, 900)])
def test_the_live_legend_covers_every_layer_and_fits(chromium, server, size):
    tab = Tab(chromium, server, "operator", "/maps/live", viewport=size)
    try:
        sections = tab.js("() => [...document.querySelectorAll('#gd-legend details')]"
                          ".map(d => d.dataset.section)")
        assert set(LEGEND_SECTIONS) <= set(sections)
        legend = tab.page.locator("#gd-legend")
        # every section unfolded, the legend names every layer, still ends inside the window
        # and scrolls
        tab.js("() => document.querySelectorAll('#gd-legend details').forEach(d => d.open = true)")
        text = legend.inner_text()
        for word in ("重点部位", "摄像头", "在线", "视域", "空闲", "红灯", "社区", "L01 流动摊贩占道经营"):
            assert word in text, word
        box = legend.bounding_box()
        assert box["x"] >= 0 and box["y"] >= 0
        assert box["x"] + box["width"] <= size[0] and box["y"] + box["height"] <= size[1], box
        scroll = tab.js("() => { const e = document.getElementById('gd-legend');"
                        " return [e.scrollHeight, e.clientHeight]; }")
        assert scroll[0] > scroll[1]  # all open, it does not fit: it scrolls instead
        # and it does not cover the controls above it
        above = tab.js("""() => {
            const l = document.getElementById('gd-legend').getBoundingClientRect();
            return [...document.querySelectorAll('.leaflet-top.leaflet-right .leaflet-control')]
                .map(c => c.getBoundingClientRect()).filter(r => r.bottom > l.top && r.left < l.right
                    && l.left < r.right).length;
        }""")
        assert above == 0
        tab.shot(f"i18n-live-legend-{size[0]}x{size[1]}")
        assert tab.untranslated() == []
    finally:
        tab.close()


def test_the_hotspot_form_writes_dates_as_in_china_and_the_slider_starts_at_from(chromium,
                                                                                 server):
    server.now = REFERENCE_TIME
    tab = Tab(chromium, server, "operator", HOTSPOTS + "&since=2026-01-01&until=2026-11-20",
              ready=DRAWN)
    try:
        since = tab.page.locator("input[name=since]")
        shown = since.input_value()
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", shown)
        # the window reaches back to whole months ending at "to": the form says from when
        y, m, d = (int(x) for x in shown.split("-"))
        assert (y, m) == (2025, 12) or (y, m, d) == (2026, 1, 1)
        words = tab.page.locator("input[name=since] + output").inner_text()
        assert words == f"{y}年{m}月{d}日"
        first = tab.js("() => document.querySelector('.timecontrol-date').innerText")
        assert first == words
        assert not re.search(r"\d\d/\d\d/\d{4}", tab.page.inner_text("body"))
        since.fill("2026-03-05")
        assert tab.page.locator("input[name=since] + output").inner_text() == "2026年3月5日"
        assert tab.untranslated() == []
    finally:
        tab.close()
