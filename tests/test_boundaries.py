"""Boundaries through time on both backends: a community's plan splits a grid and is
published; GET /api/v1/locate (now, before and after the publish, in another CRS, outside the
city), a grid's versions (GET /api/v1/grids/{code}/history, vertex for vertex against the
store) and `griddispatch locate --at` all agree with the store's locate(at=...)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pandas as pd
from shapely.geometry import shape

from fixtures.jilin import GRIDS_VALID_FROM, REFERENCE_TIME
from geo.crs import from_storage
from geo.i18n.formats import TIMEZONE
from tests.plans import COMMUNITY, publish_a_split

EXE = str(Path(sys.executable).with_name("griddispatch"))


def test_locate_and_grid_history_through_a_publish(api, store):
    published = REFERENCE_TIME + timedelta(hours=2)
    key, added, (lon, lat), before, draft = publish_a_split(api, published)
    earlier, later = published - timedelta(minutes=30), published + timedelta(minutes=30)
    assert store.locate(lon, lat, at=earlier).grid_code == key
    assert store.locate(lon, lat).grid_code == added
    with api.client("operator") as c:
        def where(**params):
            r = c.get("/api/v1/locate", params={"lon": lon, "lat": lat, **params})
            assert r.status_code == 200, r.text
            return r.json()

        now, then = where(), where(at=earlier.isoformat())
        assert now["grid_code"] == added and now["at"] is None and now["inside"] is True
        assert then["grid_code"] == key and then["community_code"] == COMMUNITY
        assert where(at=later.isoformat())["grid_code"] == added
        # a naive time is UTC, as everywhere in the API
        assert where(at=earlier.replace(tzinfo=None).isoformat())["grid_code"] == key
        glon, glat = from_storage(lon, lat, "gcj02")
        shifted = where(lon=float(glon[0]), lat=float(glat[0]), crs="gcj02")
        assert shifted["grid_code"] == added
        assert abs(shifted["point"]["lon"] - lon) < 1e-8 and abs(shifted["point"]["lat"] - lat) < 1e-8
        a = store.locate(lon, lat)
        assert {k: now[k] for k in ("street_name", "district_name")} == {
            "street_name": a.street_name, "district_name": a.district_name}
        outside = c.get("/api/v1/locate", params={"lon": 126.2, "lat": 43.6}).json()
        assert outside["inside"] is False and outside["grid_code"] is None
        assert "网格" in outside["message"]
        bad = c.get("/api/v1/locate", params={"lon": lon, "lat": lat, "at": "yesterday"})
        assert bad.status_code == 422

        old = c.get(f"/api/v1/grids/{key}/history")
        assert old.status_code == 200 and old.headers["content-type"].startswith(
            "application/geo+json")
        first, second = old.json()["features"]
        new = c.get(f"/api/v1/grids/{added}/history").json()["features"]
        assert c.get("/api/v1/grids/220204002001999/history").status_code == 404
        assert c.get("/api/v1/grids/2202/history").status_code == 422

    p1, p2 = first["properties"], second["properties"]
    assert p1["valid_from"].startswith(GRIDS_VALID_FROM.date().isoformat())
    assert p1["valid_to"] == p2["valid_from"] and p2["valid_to"] is None
    assert pd.Timestamp(p2["valid_from"]) == pd.Timestamp(published)
    assert p1["plan_id"] is None and p1["retired_by_plan_id"] == draft and not p1["current"]
    assert p2["plan_id"] == draft and p2["plan_title"] == "东西分开"
    assert p2["published_by"] == "planner" and p2["current"]
    assert [f["properties"]["version"] for f in (first, second)] == [1, 2]
    # the outlines as stored, vertex for vertex: before the split and after it
    assert shape(first["geometry"]).equals_exact(before, 0)
    current = store.read_layer("grids").set_index("code").geometry
    assert shape(second["geometry"]).equals_exact(current[key], 0)
    assert len(new) == 1 and new[0]["properties"]["plan_id"] == draft
    assert shape(new[0]["geometry"]).equals_exact(current[added], 0)
    assert shape(second["geometry"]).union(shape(new[0]["geometry"])).symmetric_difference(
        before).area < 1e-12


def test_the_command_line_locates_at_a_past_moment(sqlite_store, tmp_path):
    """On the embedded backend: the store's locate(at=...) is checked on both above."""
    from tests.http import Server

    store = sqlite_store
    api = Server(store)
    try:
        _located_before_and_after(api, store, tmp_path)
    finally:
        api.stop()


def _located_before_and_after(api, store, tmp_path):
    published = REFERENCE_TIME + timedelta(hours=2)
    key, added, (lon, lat), _, _ = publish_a_split(api, published)
    src = tmp_path / "in.csv"
    src.write_text(f"id,lon,lat\neast,{lon},{lat}\n")
    url = f"sqlite:///{store.path}"
    local = (published - timedelta(minutes=30)).astimezone(TIMEZONE)
    answers = {}
    for at in (local.strftime("%Y-%m-%dT%H:%M"), None, "2026-13-01"):
        out = tmp_path / "out.csv"
        args = [EXE, "--db", url, "locate", str(src), "-o", str(out)] + (
            ["--at", at] if at else [])
        done = subprocess.run(args, capture_output=True, text=True, timeout=300,
                              env={**os.environ, "GRIDDISPATCH_LANG": "en"})
        if at == "2026-13-01":
            assert done.returncode == 2 and "--at must be a date or a time from 1900" in done.stderr
            continue
        assert done.returncode == 0, done.stderr
        answers[at] = pd.read_csv(out, dtype=str).grid_code[0]
    # Beijing time on the command line: half an hour before the publish, the grid it split
    assert answers == {local.strftime("%Y-%m-%dT%H:%M"): key, None: added}
