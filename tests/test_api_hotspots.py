"""Hotspot endpoints over real HTTP on both backends: the demo city's street-vendor stories
show up, the caller's jurisdiction bounds reports and area, bad settings are 422s."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import shape

from fixtures.jilin import NIGHT_MARKET_CLOSED, REFERENCE_TIME
from geo.crs import to_metric
from geo.hotspots import budget
from geo.hotspots.study import STUDIES
from tests.test_api_layers import features

VENDORS = {"category": "L01"}
STORIES = ("电东胡同小学门口", "劳动路", "珲春街夜市", "岭北胡同")


@pytest.fixture
def hot_api(api):
    api.now = REFERENCE_TIME  # the demo city's year ends here
    return api


def _metres(lon, lat):
    x, y = to_metric([lon], [lat])
    return np.array([x[0], y[0]])


def _distance(city, place, lonlat):
    return float(np.hypot(*(_metres(*city.landmarks[place]) - _metres(*lonlat))))


def test_vendor_clusters_are_the_story_places(hot_api, city):
    with hot_api.client("admin") as c:
        doc = features(c.get("/api/v1/hotspots/clusters", params=VENDORS))
    assert doc["reports"] > 0 and doc["min_reports_chosen"] is True
    centres = [f["properties"]["centre"] for f in doc["features"]]
    for place in STORIES:
        nearest = min(_distance(city, place, c) for c in centres)
        assert nearest < 150, (place, nearest)
    by_place = {place: min(doc["features"], key=lambda f: _distance(city, place,
                                                                      f["properties"]["centre"]))
                for place in STORIES}
    market, lingbei = by_place["珲春街夜市"]["properties"], by_place["岭北胡同"]["properties"]
    closed = NIGHT_MARKET_CLOSED.isoformat().replace("+00:00", "Z")
    assert market["last_reported"] < closed <= lingbei["first_reported"]
    for f in by_place.values():
        assert f["properties"]["dominant_category"] == "L01"
        assert shape(f["geometry"]).area > 0


def test_night_market_displacement_is_drawn(hot_api, city):
    with hot_api.client("admin") as c:
        doc = features(c.get("/api/v1/hotspots/displacement", params=VENDORS))
    arrows = [f for f in doc["features"]
              if _distance(city, "珲春街夜市", f["geometry"]["coordinates"][0]) < 500
              and _distance(city, "岭北胡同", f["geometry"]["coordinates"][-1]) < 500]
    assert len(arrows) == 1, doc["features"]
    props = arrows[0]["properties"]
    closed = NIGHT_MARKET_CLOSED.isoformat().replace("+00:00", "Z")
    assert props["last_before"] < closed <= props["first_after"]
    assert "2026-04" <= props["cooled_after"] <= props["appeared_from"] <= "2026-06"
    assert props["distance_m"] > 0 and props["reports_before"] > 0 and props["reports_after"] > 0


def test_gistar_and_emerging_patterns_on_the_story_grids(hot_api, city):
    school = city.landmarks["电东胡同小学门口"]
    with hot_api.client("admin") as c:
        located = c.get("/api/v1/layers/grids", params={
            "bbox": f"{school[0] - 1e-4},{school[1] - 1e-4},{school[0] + 1e-4},{school[1] + 1e-4}"})
        school_grids = {f["id"] for f in features(located)["features"]}
        gi = features(c.get("/api/v1/hotspots/gistar", params=VENDORS))
        emerging = features(c.get("/api/v1/hotspots/emerging", params=VENDORS))
        hexes = features(c.get("/api/v1/hotspots/gistar",
                               params={**VENDORS, "bins": "h3", "h3_resolution": 8,
                                       "significant_only": "true"}))
    assert gi["units"] == len(gi["features"]) == len(city.grids)
    hot = {f["id"] for f in gi["features"] if f["properties"]["gi_bin"] >= 2}
    assert school_grids & hot
    assert gi["correction"] == "fdr"
    patterns = {f["id"]: f["properties"]["pattern"] for f in emerging["features"]}
    assert any(patterns.get(g, "").endswith("hot spot") for g in school_grids)
    assert emerging["patterns"]
    assert set(emerging["patterns"]) <= {f"{p} {s} spot" for p in (
        "new", "consecutive", "intensifying", "persistent", "diminishing", "sporadic",
        "oscillating", "historical") for s in ("hot", "cold")}
    assert len(emerging["slices"]) == 11
    hex_hot = [f for f in hexes["features"] if f["properties"]["gi_bin"] > 0]
    assert hex_hot and all(f["properties"]["gi_bin"] != 0 for f in hexes["features"])
    assert min(_distance(city, "电东胡同小学门口", shape(f["geometry"]).centroid.coords[0])
               for f in hex_hot) < 400


def test_density_and_repeats(hot_api, city):
    with hot_api.client("admin") as c:
        dens = features(c.get("/api/v1/hotspots/density", params={**VENDORS, "bandwidth_m": 80}))
        rep = features(c.get("/api/v1/hotspots/repeats", params={**VENDORS, "days": 30}))
    peak = dens["features"][0]
    assert peak["properties"]["density_km2"] == dens["max_density_km2"]
    assert min(_distance(city, p, peak["geometry"]["coordinates"]) for p in STORIES) < 150
    top = rep["features"][0]["properties"]
    assert top["repeats"] >= 1 and top["category"] == "L01"
    assert rep["repeat_reports"] == sum(f["properties"]["repeats"] for f in rep["features"])
    assert min(_distance(city, p, rep["features"][0]["geometry"]["coordinates"])
               for p in STORIES) < 150


def test_jurisdiction_bounds_reports_and_area(hot_api, city):
    with hot_api.client("admin", lang="en") as c:
        everyone = c.get("/api/v1/hotspots/clusters", params=VENDORS).json()
    with hot_api.client("operator", lang="en") as c:
        mine = features(c.get("/api/v1/hotspots/clusters", params=VENDORS))
        laodong_street = c.get("/api/v1/hotspots/clusters",
                               params={**VENDORS, "area": "220203001"})
        grids = c.get("/api/v1/hotspots/gistar", params=VENDORS).json()
    assert mine["reports"] < everyone["reports"]
    centres = [f["properties"]["centre"] for f in mine["features"]]
    assert min(_distance(city, "劳动路", c) for c in centres) > 1000
    assert min(_distance(city, "电东胡同小学门口", c) for c in centres) < 150
    assert laodong_street.status_code == 404
    assert "jurisdiction" in laodong_street.json()["detail"]
    assert grids["features"]
    assert {f["id"][:9] for f in grids["features"]} <= {"220204001", "220204002"}
    with hot_api.client("citizen", lang="en") as c:
        assert c.get("/api/v1/hotspots/clusters").status_code == 403


@pytest.mark.parametrize("params, words", [
    ({"since": "2026-05-01T00:00:00Z", "until": "2026-04-01T00:00:00Z"}, "earlier"),
    ({"category": "X99"}, "unknown category"),
    ({"eps_m": 1}, "eps_m"),
    ({"area": "12"}, "area"),
    ({"since": "2026-10-01T00:00:00Z", "until": "2026-10-20T00:00:00Z", "slice": "week"},
     "at least 4"),
    ({"since": "2020-01-01T00:00:00Z"}, "at most"),
])
def test_bad_settings_are_explained(hot_api, params, words):
    path = "/api/v1/hotspots/emerging" if "slice" in params else "/api/v1/hotspots/clusters"
    with hot_api.client("admin", lang="en") as c:
        r = c.get(path, params=params)
    assert r.status_code == 422, r.text
    assert words in r.text


THREE_YEARS = {"since": "2023-11-25T00:00:00Z"}  # 156 weeks before the city's "now"


COSTLY = [  # analysis, settings, what the refusal names, the advice it gives
    ("gistar", {"bins": "h3", "h3_resolution": 11}, "h3_resolution 11 gives about",
     "choose h3_resolution 10"),
    ("emerging", {"bins": "h3", "h3_resolution": 11, "slice": "week"},
     "h3_resolution 11 gives about", "choose h3_resolution 10"),
    ("emerging", {**THREE_YEARS, "bins": "h3", "h3_resolution": 10, "slice": "week"},
     "156 weekly slices make", "choose slice month"),
    ("emerging", {**THREE_YEARS, "bins": "h3", "h3_resolution": 10, "slice": "week"},
     "space-time cells: at most 4,000,000", "h3_resolution 9"),
    ("displacement", {**THREE_YEARS, "slice": "week"}, "DBSCAN in 156 weekly slices",
     "choose slice month"),
    ("displacement", {**THREE_YEARS, "slice": "week"}, "(eps_m 50)", "eps_m 85 or more"),
]


def test_too_costly_settings_are_refused_before_running(hot_api):
    """The outside test's costly settings, priced before any work: each refusal names the
    setting and a value that fits."""
    with hot_api.client("admin", lang="en") as c:
        for path, params, named, advice in COSTLY:
            r = c.get(f"/api/v1/hotspots/{path}", params={**VENDORS, **params})
            assert r.status_code == 422, (path, params, r.text)
            detail = r.json()["detail"]
            assert named in detail and advice in detail, (path, params, detail)


def test_window_with_too_many_reports_is_refused_before_reading(hot_api, monkeypatch):
    monkeypatch.setattr(budget, "LIMITS", budget.Limits(reports=100))
    with hot_api.client("operator", lang="en") as c:
        refused = c.get("/api/v1/hotspots/repeats", params=VENDORS)
        narrow = c.get("/api/v1/hotspots/repeats",
                       params={**VENDORS, "since": "2026-11-15T00:00:00Z"})
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    assert detail.startswith("your jurisdiction holds ") and "at most 100 per analysis" in detail
    assert "choose since 2026-" in detail and "fewer categories" in detail
    assert narrow.status_code == 200 and 0 < narrow.json()["reports"] <= 100


def test_gistar_answer_size_is_bounded(hot_api, monkeypatch):
    monkeypatch.setattr(budget, "LIMITS", budget.Limits(answer_bytes=50_000))
    with hot_api.client("admin", lang="en") as c:
        every = c.get("/api/v1/hotspots/gistar", params=VENDORS)
        significant = c.get("/api/v1/hotspots/gistar",
                            params={**VENDORS, "significant_only": "true"})
    assert every.status_code == 422, every.text
    assert "answer of about" in every.json()["detail"]
    assert "choose significant_only true" in every.json()["detail"]
    assert significant.status_code == 200
    assert 0 < len(significant.json()["features"]) < significant.json()["units"]


def test_an_analysis_out_of_time_stops_with_advice(hot_api, monkeypatch):
    monkeypatch.setattr(budget, "LIMITS", budget.Limits(seconds=0))
    with hot_api.client("admin", lang="en") as c:
        r = c.get("/api/v1/hotspots/displacement", params=VENDORS)
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith("the analysis took more than 0 s (stopped at ")
    assert "slice month" in r.json()["detail"]


def _cached(store, since: str):
    """The cached studies of `store` whose window starts at `since`."""
    return [study for study in STUDIES.values(store)
            if study.query.since.isoformat().startswith(since)]


def test_a_refused_analysis_reads_no_reports(hot_api):
    since = "2026-01-02T03:04:05"  # a window no other test asks for
    with hot_api.client("admin", lang="en") as c:
        refused = c.get("/api/v1/hotspots/gistar",
                        params={"since": since + "Z", "bins": "h3", "h3_resolution": 11})
        (study,) = _cached(hot_api.store, since)
        unread = study.loaded
        page = c.get("/maps/hotspots", params={"since": "2023-11-25", "slice": "week"})
        # the page reaches back to whole weeks ending at "to": up to one week before "from"
        (three_years,) = [s for s in STUDIES.values(hot_api.store)
                          if "2023-11-18" <= s.query.since.date().isoformat() <= "2023-11-25"]
        accepted = c.get("/api/v1/hotspots/gistar", params={"since": since + "Z"})
    assert refused.status_code == 422 and "h3_resolution 11" in refused.json()["detail"]
    assert page.status_code == 422 and "157 weekly" in page.text
    assert unread is False and three_years.loaded is False
    assert accepted.status_code == 200 and study.loaded
    assert accepted.json()["reports"] == study.count == len(study.reports)


def test_the_cached_studies_hold_a_bounded_number_of_reports(hot_api, monkeypatch):
    with hot_api.client("operator", lang="en") as c:
        first = c.get("/api/v1/hotspots/repeats", params={"since": "2026-01-01T00:00:00Z"})
        per_study = first.json()["reports"]
        monkeypatch.setattr(STUDIES, "max_weight", int(2.5 * per_study))
        totals = []
        for second in range(1, 5):
            r = c.get("/api/v1/hotspots/repeats",
                      params={"since": f"2026-01-01T00:00:0{second}Z"})
            assert r.status_code == 200 and r.json()["reports"] <= per_study
            totals.append(STUDIES.total_weight())
    assert max(totals) <= 2.5 * per_study
    kept = sorted(s.query.since.second for s in _cached(hot_api.store, "2026-01-01T00:00"))
    assert kept == [3, 4]  # the newest, the oldest dropped first


def test_a_costly_repeat_search_is_refused_with_advice(hot_api, monkeypatch):
    monkeypatch.setattr(budget, "LIMITS", budget.Limits(repeat_checks=2_000))
    with hot_api.client("admin", lang="en") as c:
        wide = c.get("/api/v1/hotspots/repeats", params={"radius_m": 1000, "days": 365})
        detail = wide.json()["detail"]
        radius = int(detail.split("choose radius_m ", 1)[1].split()[0])
        narrow = c.get("/api/v1/hotspots/repeats", params={"radius_m": radius, "days": 365})
    assert wide.status_code == 422, wide.text
    assert detail.startswith("repeat spots within radius_m 1000 and days 365 make about ")
    assert "comparisons in the whole city" in detail and "at most 2,000;" in detail
    assert 1 <= radius < 1000 and narrow.status_code == 200, narrow.text
