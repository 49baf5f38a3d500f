"""Nothing from the internet: Chromium opens every kind of page (the front door, the API
reference, the login, the maps) against the real service with the demo city, intercepting
every request, and fails on any request to another host and on any console error; the files
the pages were served are read for addresses a browser would fetch. The offline basemap is
checked where it matters: on the live map at street zoom by 劳动路, the road's name and the
river. Screenshots go to test-artifacts/maps/."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.http import Server
from tests.pages import MAP_READY, Tab, browser, log_in

ROOT = Path(__file__).resolve().parents[1]
OWN_STATIC = ROOT / "maps" / "static"
COMMUNITY = "220204002001"  # a community of the demo planner's district
LAODONG = "劳动路"

# ---- addresses a browser would fetch, found in served HTML, CSS and JavaScript ----------
#
# A bundle is full of URLs no browser loads: XML namespaces, JSON-Schema identifiers, links
# in error messages, the license text. What gets fetched is a URL where a fetch happens: in a
# CSS url() or @import (also in CSS that a script writes), in the src/href of an element that
# loads it (script, link, img, iframe, ...), or handed to fetch, XMLHttpRequest, a worker or
# an element's src. A host that serves only things to load (CDNs, web fonts, the online
# validators) is a finding wherever it appears outside a comment.
_URL = r"""https?://[^\s'"`)<>\\]+"""
FETCHED = [
    re.compile(r"""url\(\s*['"]?(""" + _URL + ")", re.I),
    re.compile(r"""@import\s+(?:url\()?\s*['"]?(""" + _URL + ")", re.I),
    re.compile(r"""<(?:script|link|img|iframe|source|audio|video|embed|object|image|use)\b"""
               r"""[^>]*?\b(?:src|href|data|srcset)\s*=\s*\\?['"]?(""" + _URL + ")", re.I),
    re.compile(r"""\b(?:fetch|importScripts|Worker|SharedWorker|EventSource|WebSocket|"""
               r"""sendBeacon|open)\(\s*(?:['"]GET['"],\s*)?['"`](""" + _URL + ")", re.I),
    # an element's src set by a script (an href set so is almost always a link's)
    re.compile(r"""\bsrc\s*[:=]\s*['"`](""" + _URL + ")", re.I),
]
LOAD_ONLY_HOSTS = ("fonts.googleapis.com", "fonts.gstatic.com", "cdn.jsdelivr.net",
                   "unpkg.com", "cdnjs.cloudflare.com", "ajax.googleapis.com",
                   "validator.swagger.io", "cdn.redoc.ly", "www.googletagmanager.com",
                   "www.google-analytics.com", "tile.openstreetmap.org", "api.mapbox.com",
                   "webapi.amap.com", "api.map.baidu.com")
# Anchors only navigate when clicked: <a href> and the like are not fetches.
_ANCHOR = re.compile(r"""<a\b[^>]*>""", re.I)
_COMMENTS = [
    re.compile(r"/\*[!*][\s\S]*?\*/"),              # license and doc blocks
    re.compile(r"^[ \t]*//[^\n]*$", re.M),          # whole-line comments
    re.compile(r"//[#@] source(?:Mapping)?URL=\S*"),  # source maps (developer tools only)
]
# validatorUrl's default in Swagger UI: /docs sets it to null (checked below).
ALLOWED = {("swagger-ui-bundle.js", "validator.swagger.io")}


def fetched_urls(text: str, kind: str, name: str = "") -> list[str]:
    """The remote URLs in a served file (`kind` "html", "css" or "js") that a browser would
    fetch."""
    for comment in _COMMENTS + ([re.compile(r"/\*[\s\S]*?\*/")] if kind == "css" else []):
        text = comment.sub(" ", text)
    if kind == "html":
        text = re.sub(r"<!--[\s\S]*?-->", " ", text)
    text = _ANCHOR.sub(" ", text)
    found = [m.group(1) for pattern in FETCHED for m in pattern.finditer(text)]
    found += [m.group(0) for m in re.finditer(_URL, text)
              if urlsplit(m.group(0)).hostname in LOAD_ONLY_HOSTS]
    return sorted({u for u in found
                   if (name, urlsplit(u).hostname) not in ALLOWED})


def test_the_check_finds_what_a_browser_would_fetch_and_nothing_else():
    fetches = {
        "css": ["a{background:url(https://x.example/a.png)}",
                "@import url('https://fonts.googleapis.com/css?family=Roboto');"],
        "html": ['<link rel="stylesheet" href="https://cdn.jsdelivr.net/x.css">',
                 "<script src='http://evil.example/a.js'></script>", '<img src="https://i/x">'],
        "js": ['fetch("https://api.example/x")', 'e.src="https://t.example/x.js"',
               'createElement("img",{src:"https://cdn.redoc.ly/redoc/logo-mini.svg"})',
               'var css = "body{background:url(https://x.example/b.png)}"',
               'validatorUrl:"https://validator.swagger.io/validator"'],
    }
    harmless = {
        "css": ["a{background:url(\"data:image/svg+xml;charset=utf-8,<svg xmlns='http://www.w3"
                ".org/2000/svg'/>\")}", "/* see https://example.org/licence */ a{color:red}"],
        "html": ['<a href="https://redocly.com/redoc/">docs</a>', "<!-- https://x.example -->"],
        # (in js) a link a script renders: followed only when clicked
        "js": ['createElementNS("http://www.w3.org/2000/svg","path")',
               '"$schema":"https://json-schema.org/draft/2020-12/schema"',
               "/*! lib v1 | https://github.com/lib/lib/LICENSE */", "//# sourceMappingURL=a.map",
               'throw Error("see https://reactjs.org/docs/error-decoder.html?invariant=" + n)',
               'createElement("a",{target:"_blank",href:"https://redocly.com/redoc/"})'],
    }
    for kind, snippets in fetches.items():
        for snippet in snippets:
            assert fetched_urls(snippet, kind), snippet
    for kind, snippets in harmless.items():
        for snippet in snippets:
            assert fetched_urls(snippet, kind) == [], snippet
    # the one default the docs page switches off is passed over in its own file only
    assert fetched_urls('validatorUrl:"https://validator.swagger.io/validator"', "js",
                        "swagger-ui-bundle.js") == []


# ---- the browser ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def chromium():
    with browser() as b:
        yield b


@pytest.fixture
def served(sqlite_store):
    server = Server(sqlite_store)
    yield server
    server.stop()


def offline_tab(b, server: Server) -> tuple[Tab, dict[str, tuple[str, str]]]:
    """A tab that lets through only requests to the server, not yet logged in, and every
    text file the server sends it (URL → (kind, text))."""
    tab = Tab(b, server, None, None, offline=True)
    files: dict[str, tuple[str, str]] = {}

    def keep(response):
        kind = {"text/html": "html", "text/css": "css", "text/javascript": "js",
                "application/javascript": "js"}.get(
            response.headers.get("content-type", "").split(";")[0])
        if kind and response.status == 200:
            try:
                files[response.url] = (kind, response.text())
            except Exception:  # a body that went with a navigation away
                pass

    tab.page.on("response", keep)
    return tab, files


def settle(tab: Tab, ready: str | None = None) -> None:
    if ready:
        tab.wait(ready, timeout_s=30)
    tab.page.wait_for_load_state("networkidle")


DASHBOARD_READY = "() => window.gdDashboard && gdDashboard.ready()"
DOCS_READY = "() => document.querySelectorAll('.swagger-ui .opblock').length > 10"
REDOC_READY = "() => document.querySelectorAll('[role=menuitem], li[data-item-id]').length > 10"


def test_no_page_fetches_anything_from_another_host(chromium, served, sqlite_store):
    with served.client("planner") as c:
        draft = c.post("/api/v1/plans", json={"area_code": COMMUNITY}).json()["draft"]["id"]
    issue = int(sqlite_store.read_layer("issues").id.max())
    tab, files = offline_tab(chromium, served)
    # Not logged in, the front door leads to the login.
    tab.open("/")
    settle(tab)
    assert urlsplit(tab.page.url).path == "/maps/login"
    tab.open("/docs", DOCS_READY)
    settle(tab)
    assert tab.lang() == "zh-CN" and "接口" in tab.page.title()
    tab.shot("docs")
    tab.open("/redoc", REDOC_READY)
    settle(tab)
    assert tab.lang() == "zh-CN"
    tab.shot("redoc")
    tab.open("/maps/live")
    log_in(tab.page, served.url, "admin")
    # Each page with what says it has drawn.
    pages = {"/maps/live": MAP_READY,
             "/maps/hotspots": "() => window.griddispatch && griddispatch.drawn === true",
             f"/maps/issues/{issue}": MAP_READY,
             f"/maps/editor/{draft}": "() => window.griddispatch && griddispatch.editor "
                                      "&& griddispatch.editor.loaded > 0",
             "/maps/dashboard": DASHBOARD_READY}
    for path, ready in pages.items():
        tab.open(path)
        settle(tab, ready)
    tab.shot("crawl-dashboard")
    tab.open("/")  # the admin's front door: the reference
    settle(tab)
    assert urlsplit(tab.page.url).path == "/docs"
    assert tab.blocked == [] and tab.foreign_requests() == []
    assert tab.console_errors == [] and tab.failed == []
    # What the pages were served, and our own files whether or not these pages used them.
    served_files = dict(files)
    for path in OWN_STATIC.glob("*"):
        kind = {".js": "js", ".css": "css", ".html": "html", ".svg": "html"}.get(path.suffix)
        if kind:
            served_files[f"{served.url}/static/app/{path.name}"] = (kind, path.read_text())
    assert any("/static/swagger/swagger-ui-bundle.js" in u for u in served_files)
    assert any("/static/redoc/redoc.standalone.js" in u for u in served_files)
    assert any("/static/app/dashboard.js" in u for u in files)  # the dashboard was crawled
    found = {url: fetched_urls(text, kind, url.rsplit("/", 1)[-1])
             for url, (kind, text) in served_files.items()}
    assert {url: urls for url, urls in found.items() if urls} == {}
    docs_html = next(t for u, (k, t) in served_files.items() if urlsplit(u).path == "/docs")
    assert '"validatorUrl": null' in docs_html  # the one allowance above holds
    tab.close()


def test_the_basemap_names_laodong_road_and_draws_the_river(chromium, served, city):
    tab = Tab(chromium, served, "operator", "/maps/live", offline=True)
    lon, lat = city.landmarks[LAODONG]
    settled = "() => griddispatch.basemapSettled() && griddispatch.settled()"
    tab.js("([lon, lat]) => { griddispatch.map.setView([lat, lon], 16, {animate: false}); }",
           [lon, lat])
    tab.page.wait_for_timeout(300)  # past the debounce
    tab.wait(settled, timeout_s=30)
    labels = tab.page.locator(".gd-bm-label", has_text=LAODONG)
    assert labels.count() >= 1
    box = labels.first.bounding_box()
    assert box and 0 <= box["x"] <= 1400 - box["width"] and 0 <= box["y"] <= 900 - box["height"]
    assert labels.first.is_visible()
    tab.shot("basemap")
    # The river, in a view of the city's centre where it winds through.
    centre = city.river.representative_point()
    tab.js("([lon, lat]) => { griddispatch.map.setView([lat, lon], 14, {animate: false}); }",
           [centre.x, centre.y])
    tab.page.wait_for_timeout(300)
    tab.wait(settled, timeout_s=30)
    drawn = tab.js("() => griddispatch.basemapLayers.water.getLayers().filter("
                   "l => griddispatch.map.hasLayer(l)).length")
    assert drawn >= 1
    # Blue on the canvas where the river is: the pixel under its own label point.
    colour = tab.js("""() => {
        const f = griddispatch.basemapState.water.features[0];
        const at = griddispatch.map.latLngToContainerPoint([f.properties.label_at[1],
                                                            f.properties.label_at[0]]);
        const canvas = griddispatch.map.getPane('gdWater').querySelector('canvas');
        const r = canvas.getBoundingClientRect(), m = griddispatch.map.getContainer()
            .getBoundingClientRect();
        const x = (at.x + m.left - r.left) * canvas.width / r.width;
        const y = (at.y + m.top - r.top) * canvas.height / r.height;
        return Array.from(canvas.getContext('2d').getImageData(x, y, 1, 1).data);
    }""")
    red, green, blue, alpha = colour
    assert alpha > 200 and blue > red + 40, colour
    assert "松花江" in tab.js("() => griddispatch.basemapState.shown")
    # The legend explains it, in Chinese: the road classes, the water, the names.
    tab.page.click("#gd-legend details[data-section=basemap] summary")
    legend = tab.page.locator("#gd-legend details[data-section=basemap]")
    legend.scroll_into_view_if_needed()
    assert legend.locator("summary").inner_text() == "底图"
    assert all(word in legend.inner_text() for word in ("快速路", "主干路", "支路", "河流、湖泊",
                                                        "街道名称", "社区名称"))
    assert tab.untranslated() == []
    tab.shot("basemap-river")
    assert tab.blocked == [] and tab.console_errors == [] and tab.failed == []
    # An answer that does not come is said in the reader's words in the status line.
    tab.page.route("**/api/v1/layers/roads*", lambda route: route.abort())
    tab.js("() => { griddispatch.map.panBy([200, 0], {animate: false}); }")
    tab.wait("() => griddispatch.basemapState.failures > 0", timeout_s=30)
    tab.wait("() => document.querySelector('#gd-status .gd-failure')")
    assert tab.page.inner_text("#gd-status .gd-failure") == "底图：无法连接服务器"
    tab.close()
