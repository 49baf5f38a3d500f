"""The red/black list page (/maps/property) in Chromium against the real service (SQLite, with
the complaints of tests/test_property.py planted): the list shown is the API's, in its order
and with its marks; every compound is drawn in its company's standing colour; nothing is left
untranslated in Chinese or in English; nothing is asked of another host.

Screenshots: test-artifacts/maps/property-zh.png and property-en.png."""

from __future__ import annotations

import shutil

import pytest

from geo.store import open_store
from maps.palette import PALETTE, closest_pair
from maps.property import STANDING_COLOURS
from tests.http import Server
from tests.pages import Tab, browser
from tests.test_property import MONTH, plant

READY = "() => window.gdProperty && gdProperty.ready()"
SHOWN = """() => ({
  rows: [...document.querySelectorAll('#ranking-rows tr[data-company]')].map(tr => ({
    id: tr.getAttribute('data-company'), standing: tr.getAttribute('data-standing'),
    rank: tr.querySelector('.gd-place').textContent, trend: tr.querySelector('.gd-trend').textContent})),
  talks: [...document.querySelectorAll('#talk-rows li[data-company]')].map(
    li => li.getAttribute('data-company')),
  rule: document.querySelectorAll('#rule-rows li').length,
  painted: (() => { const out = {}; Object.values(gdProperty.compoundLayers()).forEach(
    l => { out[l.feature.properties.code] = l.options.fillColor; }); return out; })(),
})"""


@pytest.fixture(scope="module")
def server(sqlite_template, tmp_path_factory):
    path = tmp_path_factory.mktemp("property_page") / "city.sqlite"
    shutil.copy(sqlite_template, path)
    store = open_store(f"sqlite:///{path}")
    plant(store)
    s = Server(store)
    yield s
    s.stop()
    store.close()


def test_the_page_shows_the_api_list_and_colours_the_compounds(server):
    with server.client("admin") as c:
        answer = c.get("/api/v1/property/ranking", params={"period": MONTH}).json()
        compounds = c.get("/api/v1/property/compounds", params={"period": MONTH}).json()
    assert compounds["features"] and answer["talk_proposals"]
    assert closest_pair(STANDING_COLOURS.values())[0] > 9  # apart for colour-blind readers too
    assert set(STANDING_COLOURS.values()) <= set(PALETTE)
    with browser() as b:
        for lang in ("zh-CN", "en"):
            tab = Tab(b, server, "admin", f"/maps/property?period={MONTH}", lang=lang,
                      ready=READY)
            shown = tab.js(SHOWN)
            assert [r["id"] for r in shown["rows"]] == [c["company_id"] for c in answer["companies"]]
            assert [r["standing"] for r in shown["rows"]] == [c["standing"] for c in
                                                             answer["companies"]]
            assert [r["rank"] for r in shown["rows"]] == [
                "—" if c["rank"] is None else str(c["rank"]) for c in answer["companies"]]
            ups = [r for r, c in zip(shown["rows"], answer["companies"], strict=True)
                   if (c["rank_change"] or 0) > 0]
            assert ups and all(r["trend"].startswith("▲") for r in ups)
            assert shown["talks"] == answer["talk_proposals"] and shown["rule"] == 5
            standing = {f["id"]: f["properties"]["standing"] for f in compounds["features"]}
            assert shown["painted"] == {k: STANDING_COLOURS[v] for k, v in standing.items()}
            assert tab.lang() == lang and tab.untranslated() == []
            assert tab.console_errors == [] and tab.failed == [] and tab.foreign_requests() == []
            tab.shot(f"property-{lang[:2]}")
            tab.close()
        # a company's account: its own line and compounds, and no basemap it may not read
        with server.client("property") as c:
            own = c.get("/api/v1/property/ranking", params={"period": MONTH}).json()["companies"]
        tab = Tab(b, server, "property", f"/maps/property?period={MONTH}", ready=READY)
        shown = tab.js(SHOWN)
        assert [r["id"] for r in shown["rows"]] == [own[0]["company_id"]] and shown["painted"]
        assert tab.failed == [] and tab.console_errors == [] and tab.untranslated() == []
        tab.close()
