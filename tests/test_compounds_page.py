"""The live map in Chromium draws compounds and buildings zoomed in, and the B roster's heads
(B岗三长) once their street is switched to emergency, in Chinese, with nothing from another
host. Screenshot in test-artifacts/maps/."""

from __future__ import annotations

from fixtures.timeline import REFERENCE_TIME
from tests.http import Server
from tests.pages import Tab, browser

SCHOOL = "电东胡同小学门口"


def test_live_map_draws_compounds_and_the_b_roster_in_emergency(sqlite_store, city):
    server = Server(sqlite_store, map_refresh_seconds=1.0)
    server.now = REFERENCE_TIME
    try:
        street = server.store.locate(*city.landmarks[SCHOOL]).street_code
        near = city.compounds[city.compounds.code.str[:9] == street]
        with_buildings = near[near.code.isin(city.buildings.compound_code)].iloc[0]
        spot = with_buildings.geometry.representative_point()
        with browser() as b:
            tab = Tab(b, server, "operator", "/maps/live")
            tab.js("([lon, lat]) => { griddispatch.map.setView([lat, lon], 17, {animate: false}); }",
                   [spot.x, spot.y])
            tab.wait("() => gdCompounds.counts.compounds > 0 && gdCompounds.counts.buildings > 0")
            assert tab.js("() => gdCompounds.counts.bHeads") == 0  # normal times
            with server.client("supervisor") as c:
                r = c.put("/api/v1/mode", json={"mode": "emergency", "area": street,
                                                "reason": "暴雨"})
                assert r.status_code == 200, r.text
            tab.wait("() => gdCompounds.counts.bHeads > 0", timeout_s=15)
            legend = tab.js("() => document.getElementById('gd-legend').textContent")
            assert "小区与楼栋" in legend
            control = tab.js("() => document.querySelector('.leaflet-control-layers').textContent")
            assert "B岗三长（应急）" in control
            tab.shot("live-compounds-emergency")
            assert tab.untranslated() == []
            assert tab.console_errors == [] and tab.foreign_requests() == []
            tab.close()
    finally:
        server.stop()
