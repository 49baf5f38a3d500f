"""The live map in Chromium: a click on the ground shows the place (its grid by name) and draws
the view sectors of the cameras that see it; an alarm a device posts flashes until its issue
is accepted. Screenshots in test-artifacts/maps/."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from fixtures.timeline import REFERENCE_TIME
from geo.crs import GEOD
from tests.http import Server
from tests.pages import Tab, browser

SCHOOL_SITE = "电东胡同小学校门"
JS_MESSAGES = ("Cameras that can see this point: {n}", "Open issues within {radius} m: {n}",
               "Street", "Community", "District", "{n} teams serve this street", "Responsible: {people}")


@pytest.fixture
def server(sqlite_store):
    s = Server(sqlite_store, map_refresh_seconds=1.0)
    s.now = REFERENCE_TIME
    yield s
    s.stop()


def clear_pixel(tab, cam) -> tuple[float, float, float, float]:
    """A point in the story camera's view whose pixel shows no marker (a click there reaches
    the map), as (x, y, lon, lat)."""
    for metres in range(30, 140, 10):
        for side in (-20, 0, 20):
            lon, lat, _ = GEOD.fwd(cam.lon, cam.lat, cam.heading_deg + side, metres)
            x, y, free = tab.js("""([lon, lat]) => {
                const p = griddispatch.map.latLngToContainerPoint([lat, lon]);
                const box = griddispatch.map.getContainer().getBoundingClientRect();
                const x = box.left + p.x, y = box.top + p.y;
                const hit = document.elementFromPoint(x, y);
                const free = hit && !hit.closest('.leaflet-marker-icon, .leaflet-popup, .leaflet-control');
                return [x, y, !!free];
            }""", [lon, lat])
            if free:
                return x, y, lon, lat
    raise AssertionError("no clear pixel in the story camera's view")


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_click_a_point_and_watch_an_alarm_flash(server, city, lang):
    store = server.store
    cams = store.read_layer("cameras")
    sites = store.read_layer("sites")
    school = sites[sites.name == SCHOOL_SITE].iloc[0].geometry
    # The story camera 60 m south of the school gate, facing it.
    near = cams[(cams.kind == "fixed")]
    _a, _b, dist = GEOD.inv(near.geometry.x.to_numpy(), near.geometry.y.to_numpy(),
                            [school.x] * len(near), [school.y] * len(near))
    cam = near.iloc[int(np.argmin(dist))]
    cam = cam.to_dict() | {"lon": cam.geometry.x, "lat": cam.geometry.y}

    class Cam:
        lon, lat, heading_deg = cam["lon"], cam["lat"], cam["heading_deg"]

    with browser() as b:
        tab = Tab(b, server, "operator", "/maps/live", lang=lang)
        assert tab.lang() == lang
        # The alarms have their layer in the layer control and their section in the legend.
        named = "Alarms" if lang == "en" else "告警"
        assert named in tab.page.locator(".leaflet-control-layers-overlays").inner_text()
        assert named in tab.page.locator("#gd-legend details[data-section='alarms']").inner_text()
        tab.js("([lon, lat]) => { griddispatch.map.setView([lat, lon], 18, {animate: false}); }",
               [school.x, school.y])
        tab.wait("() => griddispatch.settled()")
        x, y, lon, lat = clear_pixel(tab, Cam)
        tab.page.mouse.click(x, y)
        tab.wait("() => gdPlaces.last !== null")
        answer = tab.js("gdPlaces.last")
        where = store.locate(answer["point"]["lon"], answer["point"]["lat"])
        assert answer["grid"]["code"] == where.grid_code
        popup = tab.page.locator(".gd-place-panel")
        popup.wait_for()
        assert where.grid_name in popup.inner_text()
        assert where.street_name in popup.inner_text()
        # who answers for the place (四级包保), named level by level
        named = [p["name"] for lv in ("grid", "community", "street", "district")
                 for p in answer[lv]["responsible"]]
        assert named and all(n in popup.inner_text() for n in named)
        assert ("Responsible:" if lang == "en" else "包保责任人") in popup.inner_text()
        assert cam["id"] in {c["id"] for c in answer["cameras"]}
        drawn = tab.page.locator("path.gd-place-sector")
        assert drawn.count() == len(answer["cameras"]) >= 1
        assert ("Cameras that can see this point" if lang == "en" else "可看到此处的摄像头") in \
            popup.inner_text()
        assert not set(JS_MESSAGES) & set(tab.js("gdI18n.missing"))
        tab.page.mouse.move(1300, 600)  # over the legend: no grid tooltip in the picture
        # the popup has faded in (Leaflet's 0.2 s transition): the picture shows it as read
        tab.wait("() => getComputedStyle(document.querySelector('.gd-place')).opacity === '1'")
        tab.shot(f"places-click-{lang}")
        # The next click clears the sectors of the last one.
        # (the popup closed and the view set back first: opening it panned the map to fit it)
        tab.js("() => { gdPlaces.last = null; griddispatch.map.closePopup(); }")
        tab.wait("() => !document.querySelector('.gd-place')")
        tab.js("([lon, lat]) => { griddispatch.map.setView([lat, lon], 18, {animate: false}); }",
               [school.x, school.y])
        tab.wait("() => griddispatch.settled()")
        far_x, far_y, _lon, _lat = clear_pixel(tab, type("Far", (), {
            "lon": cam["lon"], "lat": cam["lat"], "heading_deg": (cam["heading_deg"] + 180) % 360}))
        tab.page.mouse.click(far_x, far_y)
        tab.wait("() => gdPlaces.last !== null")
        assert tab.page.locator("path.gd-place-sector").count() == tab.js("gdPlaces.sectors")
        assert cam["id"] not in {c["id"] for c in tab.js("gdPlaces.last.cameras")}

        # An alarm from the school gate flashes until its issue is accepted.
        site_id = sites[sites.name == SCHOOL_SITE].iloc[0].id
        r = server.client("device").post("/api/v1/alarms", json={
            "site_id": site_id, "kind": "vendor_detected",
            "observed_at": (REFERENCE_TIME - timedelta(minutes=2)).isoformat()})
        assert r.status_code == 201, r.text
        alarm_id, issue_id = r.json()["alarm"]["id"], r.json()["issue"]["id"]
        tab.page.keyboard.press("Escape")
        tab.wait("(id) => gdAlarms.shown.includes(id)", alarm_id)
        ring = tab.page.locator(".gd-alarm-ring")
        assert ring.count() >= 1
        # (any ring in the page: a refresh may have just replaced the one first found)
        tab.wait("() => [...document.querySelectorAll('.gd-alarm-ring')].some("
                 "e => e.isConnected && getComputedStyle(e).animationName === 'gd-alarm-flash')")
        box = ring.first.bounding_box()
        assert box and box["width"] > 10, box
        tab.page.mouse.move(1300, 600)  # over the legend: no tooltip in the picture
        tab.shot(f"alarm-flashing-{lang}")
        r = server.client("operator").post(f"/api/v1/issues/{issue_id}/accept", json={})
        assert r.status_code == 200, r.text
        tab.wait("(id) => !gdAlarms.shown.includes(id)", alarm_id)
        assert tab.page.locator(".gd-alarm-ring").count() == len(tab.js("gdAlarms.shown"))
        tab.shot(f"alarm-accepted-{lang}")
        assert tab.console_errors == []
        assert tab.untranslated() == []
        tab.close()
