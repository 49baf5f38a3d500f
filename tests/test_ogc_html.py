"""The OGC API's HTML encoding: every resource as a page for a browser (text/html asked for
first, or f=html) and JSON for GIS clients, each linking to the other; a page of items matching
the JSON page it stands for, with its map; in Chromium, logged in through the maps' login."""

from __future__ import annotations

import json
import re

import pytest

from tests.http import Server
from tests.pages import Tab, browser

COLLECTION_IDS = ("grids", "communities", "streets", "districts", "cameras", "sites", "teams",
                  "issues", "roads", "compounds", "buildings")
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def ok(r, kind: str):
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(kind), r.headers
    return r


def embedded(text: str) -> dict:
    found = re.search(r'<script type="application/json" id="gd-ogc-features">(.*?)</script>',
                      text, re.S)
    return json.loads(found.group(1))


def test_a_browser_gets_pages_and_a_client_gets_json(api):
    with api.client("admin") as c:
        landing = ok(c.get("/ogc", headers=BROWSER), "text/html").text
        assert '<html lang="zh-CN">' in landing and "OGC API - Features 要素服务" in landing
        assert "/ogc/collections?f=html" in landing and "/ogc/conformance?f=html" in landing
        # GIS clients ask for JSON or anything: JSON, with the page as an alternate.
        doc = ok(c.get("/ogc"), "application/json").json()
        assert ok(c.get("/ogc", headers={"Accept": "application/json"}),
                  "application/json").json() == doc
        assert ok(c.get("/ogc", params={"f": "json"}, headers=BROWSER),
                  "application/json").json() == doc
        assert {"rel": "alternate", "type": "text/html"}.items() <= next(
            link for link in doc["links"] if link["rel"] == "alternate").items()
        bad = c.get("/ogc", params={"f": "xml"})
        assert bad.status_code == 400 and "f" in bad.json()["detail"]

        classes = ok(c.get("/ogc/conformance"), "application/json").json()["conformsTo"]
        html_class = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html"
        assert html_class in classes
        page = ok(c.get("/ogc/conformance", params={"f": "html"}), "text/html").text
        assert all(f"<code>{uri}</code>" in page for uri in classes)

        listed = ok(c.get("/ogc/collections"), "application/json").json()["collections"]
        page = ok(c.get("/ogc/collections", headers=BROWSER), "text/html").text
        assert [m for m in re.findall(r"<td><code>([a-z]+)</code></td>", page)] == [
            x["id"] for x in listed]
        assert ">小区</a>" in page and "小区数" not in page  # a title, not a count's heading
        grids = ok(c.get("/ogc/collections/grids", params={"f": "html"}), "text/html").text
        assert "/ogc/collections/grids/items?f=html" in grids and "EPSG/0/4551" in grids


def test_a_page_of_items_is_the_json_page_it_stands_for(api, city):
    query = {"limit": 7, "offset": 7}
    with api.client("admin") as c:
        data = ok(c.get("/ogc/collections/grids/items", params=query), "application/geo+json")
        data = data.json()
        page = ok(c.get("/ogc/collections/grids/items", params={**query, "f": "html"}),
                  "text/html").text
        code = data["features"][0]["id"]
        one = ok(c.get(f"/ogc/collections/grids/items/{code}", headers=BROWSER),
                 "text/html").text
        english = ok(c.get("/ogc/collections/grids/items",
                           params={**query, "f": "html", "lang": "en"}), "text/html").text
    ids = [f["id"] for f in data["features"]]
    rows = re.findall(r'<tr><td><a href="[^"]*/items/([0-9A-Za-z@]+)\?f=html">', page)
    assert rows == ids and len(ids) == 7
    assert f"第 8–14 个要素，共 {data['numberMatched']} 个" in page
    assert f"features 8 to 14 of {data['numberMatched']}" in english
    assert data["numberMatched"] == len(city.grids)
    prev = re.search(r'<a rel="prev" href="([^"]+)"', page).group(1)
    after = re.search(r'<a rel="next" href="([^"]+)"', page).group(1)
    assert "offset=0" in prev and "offset=14" in after and "f=html" in after
    # The map draws the same features, to about a centimetre.
    drawn = embedded(page)["features"]
    assert [f["id"] for f in drawn] == ids
    stored = data["features"][0]["geometry"]["coordinates"][0][0][0]
    assert drawn[0]["geometry"]["coordinates"][0][0][0] == pytest.approx(stored, abs=1e-7)
    # One feature: its properties, its shape, the JSON a click away.
    assert f"<th>编码</th><td data-field=\"code\">{code}</td>" in one
    assert f"/ogc/collections/grids/items/{code}?f=json" in one
    assert [f["id"] for f in embedded(one)["features"]] == [code]


def test_pages_keep_to_the_reader_jurisdiction(api):
    with api.client("operator") as c:
        data = ok(c.get("/ogc/collections/issues/items", params={"limit": 1000}),
                  "application/geo+json").json()
        page = ok(c.get("/ogc/collections/issues/items", params={"limit": 1000, "f": "html"}),
                  "text/html").text
    assert 0 < data["numberReturned"] < 1000
    assert f"共 {data['numberMatched']} 个" in page
    assert [f["id"] for f in embedded(page)["features"]] == [f["id"] for f in data["features"]]
    mine = ("220204001", "220204002")  # the demo operator's streets
    assert all(f["properties"]["street_code"] in mine for f in data["features"])
    # States in words, not codes.
    assert "<td>closed</td>" not in page and "<td>accepted</td>" not in page


def test_chromium_pages_through_the_grids_logged_in_through_the_maps(sqlite_store):
    server = Server(sqlite_store)
    try:
        with browser() as b:
            tab = Tab(b, server, "planner", "/maps/live")
            tab.open("/ogc/collections/grids/items?limit=20", ready="() => window.gdOgc")
            assert tab.lang() == "zh-CN" and tab.js("() => gdOgc.count") == 20
            first = tab.js("() => document.querySelector('tbody td a').textContent")
            tab.shot("ogc-items")
            tab.page.click("a[rel=next]")
            tab.wait(f"() => window.gdOgc && document.querySelector('tbody td a')"
                     f".textContent !== {json.dumps(first)}")
            assert tab.js("() => gdOgc.count") == 20
            assert tab.untranslated(allow=("JSON", "OGC", "Features")) == []
            tab.page.click("tbody td a")
            tab.wait("() => window.gdOgc && gdOgc.count === 1")
            assert tab.js("() => gdOgc.map.getZoom()") >= 14  # fitted to the one grid
            tab.shot("ogc-item")
            for path, name in (("/ogc", "ogc-landing"), ("/ogc/collections", "ogc-collections")):
                tab.open(path, ready="() => document.querySelector('h1') !== null")
                # identifiers a client types (collection ids, the datetime parameter) are data
                words = ("JSON", "OGC", "Features", "OpenAPI", "datetime", *COLLECTION_IDS)
                assert tab.untranslated(allow=words) == []
                tab.shot(name)
            assert tab.failed == [], tab.failed
            assert tab.foreign_requests() == []
            tab.close()
    finally:
        server.stop()


MARKUP = '<b>x</b><img src="x" onerror="window.pwned = 1">'


def test_a_name_with_markup_stays_text_in_the_page_and_its_map(sqlite_store, city):
    """Names are data: a grid named with markup shows as that text, in the table, the title
    and the map's tooltip, and nothing in it runs."""
    code = city.grids.code.iloc[0]
    with sqlite_store.tx() as tx:
        tx.run("UPDATE grid SET name = :n WHERE code = :c", {"n": MARKUP, "c": code})
    server = Server(sqlite_store)
    try:
        with browser() as b:
            tab = Tab(b, server, "planner", "/maps/live")
            tab.open(f"/ogc/collections/grids/items/{code}", ready="() => window.gdOgc")
            assert tab.js("() => document.querySelectorAll('img[src=\"x\"]').length") == 0
            cell = tab.js("() => document.querySelector('td[data-field=name]').textContent")
            assert cell == MARKUP
            tip = "() => gdOgc.layer.getLayers()[0].getTooltip().getContent()"
            assert tab.js(f"() => ({tip[6:]}).nodeType") == 3  # a text node
            box = tab.page.locator("#gd-ogc-map").bounding_box()
            tab.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            tab.wait("() => document.querySelector('.leaflet-tooltip') !== null")
            assert tab.js("() => document.querySelector('.leaflet-tooltip').textContent") == MARKUP
            assert tab.js("() => window.pwned === undefined")
            tab.close()
    finally:
        server.stop()
