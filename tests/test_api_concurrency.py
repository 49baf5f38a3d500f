"""One heavy request must not stall the others. The test server is one uvicorn worker with
one event loop: while it draws a hotspot map (seconds of work), health checks and intake
reports sent meanwhile must still be answered, which they are only if the map's work runs
off the event loop."""

from __future__ import annotations

import statistics
import threading
import time

import httpx

from fixtures.jilin import REFERENCE_TIME

HEAVY = "/maps/hotspots"  # the whole city's hotspot map for the admin: seconds of analysis
SCHOOL = "电东胡同小学门口"
ROUNDS = 10  # light pairs at most, so that they do not slow the map down for long


def _light_requests_during(api, city, heavy_path: str) -> tuple[dict, list[dict]]:
    """Send `heavy_path` from one thread and, from this one, light requests one after another
    until it is answered (ROUNDS pairs at most); each request's start and end on one
    monotonic clock."""
    lon, lat = city.landmarks[SCHOOL]
    light = api.client("grid_worker")
    heavy_client = api.client("admin")
    heavy_client.timeout = httpx.Timeout(600)  # the machine may be busy; no timing is asserted
    heavy: dict = {}
    done = threading.Event()

    def run_heavy():
        heavy["start"] = time.monotonic()
        try:
            heavy["status"] = heavy_client.get(heavy_path).status_code
        finally:
            heavy["end"] = time.monotonic()
            done.set()

    lights = []
    with light, heavy_client:
        light.get("/healthz").raise_for_status()  # both tokens and connections are ready
        heavy_client.get("/healthz").raise_for_status()
        thread = threading.Thread(target=run_heavy)
        thread.start()
        while not done.is_set() and len(lights) < 2 * ROUNDS:
            for kind in ("healthz", "intake"):
                start = time.monotonic()
                if kind == "healthz":
                    status = light.get("/healthz").status_code
                else:
                    status = light.post("/api/v1/issues", json={
                        "category_code": "L01", "description": "摊贩占道", "lon": lon,
                        "lat": lat}).status_code
                lights.append({"kind": kind, "status": status, "start": start,
                               "end": time.monotonic()})
        thread.join()
    return heavy, lights


def test_light_requests_are_answered_while_a_hotspot_map_is_drawn(api, city):
    api.now = REFERENCE_TIME
    heavy, lights = _light_requests_during(api, city, HEAVY)
    assert heavy["status"] == 200
    assert {(r["kind"], r["status"]) for r in lights} <= {("healthz", 200), ("intake", 201)}
    during = [r for r in lights if heavy["start"] < r["start"] and r["end"] < heavy["end"]]
    for kind in ("healthz", "intake"):
        ms = [1000 * (r["end"] - r["start"]) for r in during if r["kind"] == kind]
        print(f"{api.store.backend}: {len(ms)} {kind} answered during the "
              f"{heavy['end'] - heavy['start']:.1f} s map" + (
                  f", median {statistics.median(ms):.0f} ms, max {max(ms):.0f} ms" if ms else ""))
        assert len(ms) >= 3, (kind, len(ms))
