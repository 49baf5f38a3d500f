"""Planners' drafts over HTTP on both backends: If-Match (428, 412), split, merge, moving a
shared boundary, importing a file, validation, publishing with history and re-located issues."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import mapping, shape

from fixtures.jilin import REFERENCE_TIME
from geo.chinacoords import wgs84_to_gcj02
from geo.crs import from_metric, to_metric

COMMUNITY = "220204002001"  # in 向阳街道, the demo staff's street; 船营区 is the planner's


def _metric(g):
    return shapely.transform(g, lambda c: np.column_stack(to_metric(c[:, 0], c[:, 1])))


def _lonlat(g):
    return shapely.transform(g, lambda c: np.column_stack(from_metric(c[:, 0], c[:, 1])))


def _open(c):
    r = c.post("/api/v1/plans", json={"area_code": COMMUNITY, "title": "test"})
    assert r.status_code == 201, r.text
    return r.json()


def _grids(doc):
    return {f["id"]: f for f in doc["features"]}


def _cut_across(geom):
    """A north-south line through the middle of a grid, reaching beyond it."""
    x0, y0, x1, y1 = geom.bounds
    mid = (x0 + x1) / 2
    return {"type": "LineString", "coordinates": [[mid, y0 - 0.01], [mid, y1 + 0.01]]}


def test_changes_need_the_current_etag(api):
    with api.client("planner") as c:
        doc = _open(c)
        key, feature = next(iter(_grids(doc).items()))
        body = {"key": key, "line": _cut_across(shape(feature["geometry"]))}
        url = f"/api/v1/plans/{doc['draft']['id']}/split"
        missing = c.post(url, json=body)
        assert missing.status_code == 428 and "If-Match" in missing.json()["detail"]
        stale = c.post(url, json=body, headers={"If-Match": '"g1.nothing.9"'})
        assert stale.status_code == 412
        ok = c.post(url, json=body, headers={"If-Match": feature["properties"]["etag"]})
        assert ok.status_code == 200, ok.text
        again = c.post(url, json=body, headers={"If-Match": feature["properties"]["etag"]})
        assert again.status_code == 412  # the split moved the grid's version on


def test_two_planners_cannot_overwrite_each_other(api):
    with api.client("planner") as first, api.client("admin") as second:
        doc = _open(first)
        seen_by_second = second.get(f"/api/v1/plans/{doc['draft']['id']}").json()
        grids = _grids(doc)
        a, b = list(grids)[:2]
        moved = shapely.affinity.translate(shape(grids[a]["geometry"]), xoff=0.0001)
        r = first.put(f"/api/v1/plans/{doc['draft']['id']}/grids/{a}",
                      json={"geometry": mapping(moved)},
                      headers={"If-Match": grids[a]["properties"]["etag"]})
        assert r.status_code == 200, r.text
        old = _grids(seen_by_second)
        r = second.post(f"/api/v1/plans/{doc['draft']['id']}/merge", json={"keys": [a, b]},
                        headers={"If-Match": f"{old[a]['properties']['etag']}, "
                                             f"{old[b]['properties']['etag']}"})
        assert r.status_code == 412
        now = _grids(second.get(f"/api/v1/plans/{doc['draft']['id']}").json())
        assert shape(now[a]["geometry"]).equals_exact(moved, 1e-9)  # the first change stands


def test_split_validate_publish_relocates_open_issues_and_keeps_history(api, store):
    opened = REFERENCE_TIME  # the demo city's "now"
    api.now = opened
    with api.client("planner") as c:
        doc = _open(c)
        draft = doc["draft"]["id"]
        key, feature = max(_grids(doc).items(),
                           key=lambda kv: _metric(shape(kv[1]["geometry"])).area)
        geom = shape(feature["geometry"])
        x0, y0, x1, y1 = geom.bounds
        east = ((x0 + x1) / 2 + x1) / 2, (y0 + y1) / 2  # will fall in the new grid
    with api.client("grid_worker") as w:
        r = w.post("/api/v1/issues", json={"category_code": "L08", "lon": east[0], "lat": east[1]})
        assert r.status_code == 201, r.text
        issue = r.json()["issue"]
    assert issue["grid_code"] == key
    api.now = opened + timedelta(hours=1)  # published an hour later
    with api.client("planner") as c:
        r = c.post(f"/api/v1/plans/{draft}/split", json={"key": key, "line": _cut_across(geom)},
                   headers={"If-Match": feature["properties"]["etag"]})
        assert r.status_code == 200, r.text
        doc = r.json()
        assert len(doc["features"]) == len(_grids(doc))
        report = c.get(f"/api/v1/plans/{draft}/validation").json()
        assert report["valid"] is True and report["features"] == []
        r = c.post(f"/api/v1/plans/{draft}/publish", headers={"If-Match": doc["draft"]["etag"]})
        assert r.status_code == 200, r.text
        result = r.json()
        assert result["changed"] == [key] and len(result["added"]) == 1
        new_code = result["added"][0]
        assert new_code.startswith(COMMUNITY) and new_code not in _grids(doc)
        assert result["relocated_issues"] >= 1
        again = c.post(f"/api/v1/plans/{draft}/publish", headers={"If-Match": doc["draft"]["etag"]})
        assert again.status_code in (409, 412)
    with api.client("admin") as a:
        moved = a.get(f"/api/v1/issues/{issue['id']}").json()
        events = a.get(f"/api/v1/issues/{issue['id']}/events").json()
    assert moved["grid_code"] == new_code
    relocation = [e for e in events if e["action"] == "relocate"]
    assert relocation and relocation[0]["details"] == {"from_grid": key, "to_grid": new_code}
    assert store.locate(*east).grid_code == new_code
    assert store.locate(*east, at=opened + timedelta(minutes=30)).grid_code == key
    assert store.locate(*east, at=opened + timedelta(hours=2)).grid_code == new_code
    history = store.read_layer("issues")
    closed_east = history[(history.state == "closed") & (history.geometry.x > (x0 + x1) / 2 + 1e-4)
                          & (history.geometry.within(geom))]
    assert len(closed_east) and set(closed_east.grid_code) == {key}  # closed issues kept it


def test_merge_and_move_a_shared_boundary(api):
    with api.client("planner") as c:
        r = c.post("/api/v1/plans", json={"area_code": COMMUNITY[:9]})  # the whole street
        assert r.status_code == 201, r.text
        doc = r.json()
        draft = doc["draft"]["id"]
        grids = _grids(doc)
        geoms = {k: shape(f["geometry"]) for k, f in grids.items()}
        a, b = next((p, q) for p in geoms for q in geoms
                    if p < q and p[:12] == q[:12] and geoms[p].intersection(geoms[q]).length > 0)
        union = shapely.union_all([geoms[a], geoms[b]])
        shared = shapely.line_merge(geoms[a].intersection(geoms[b]))
        edge = max(shapely.get_parts(shared), key=lambda g: g.length)
        (sx0, sy0), (sx1, sy1) = edge.coords[0], edge.coords[-1]
        mx, my = to_metric([sx0, sx1], [sy0, sy1])
        direction = np.array([mx[1] - mx[0], my[1] - my[0]])
        direction /= np.hypot(*direction)
        normal = np.array([-direction[1], direction[0]]) * 40  # the boundary moves 40 m
        start = np.array([mx[0], my[0]]) - direction * 3000 + normal
        end = np.array([mx[1], my[1]]) + direction * 3000 + normal
        line = _lonlat(shapely.LineString([start, end]))
        r = c.post(f"/api/v1/plans/{draft}/boundary",
                   json={"a": a, "b": b, "line": mapping(line)},
                   headers={"If-Match": f"{grids[a]['properties']['etag']}, "
                                        f"{grids[b]['properties']['etag']}"})
        assert r.status_code == 200, r.text
        after = {k: shape(f["geometry"]) for k, f in _grids(r.json()).items()}
        assert _metric(shapely.union_all([after[a], after[b]])).area == pytest.approx(
            _metric(union).area, rel=1e-6)
        assert not after[a].equals(geoms[a]) and not after[b].equals(geoms[b])
        report = c.get(f"/api/v1/plans/{draft}/validation").json()
        assert report["valid"] is True, report  # no sliver, no gap, no overlap
        grids = _grids(r.json())
        r = c.post(f"/api/v1/plans/{draft}/merge", json={"keys": [a, b]},
                   headers={"If-Match": f"{grids[a]['properties']['etag']}, "
                                        f"{grids[b]['properties']['etag']}"})
        assert r.status_code == 200, r.text
        merged = _grids(r.json())
        assert b not in merged
        assert _metric(shape(merged[a]["geometry"])).area == pytest.approx(_metric(union).area,
                                                                           rel=1e-6)
        assert c.get(f"/api/v1/plans/{draft}/validation").json()["valid"] is True


def test_import_a_gcj02_file_and_refuse_to_publish_an_invalid_draft(api, store, tmp_path):
    """A planner's file in GCJ-02, at full precision (rounded to 0.1 m, a kilometre of
    boundary would open gaps a 1 m² tolerance notices)."""
    grids = store.read_layer("grids")
    grids = grids[grids.community_code == COMMUNITY]
    with api.client("planner") as c:
        doc = _open(c)
        draft = doc["draft"]["id"]
        features = []
        for code, name, geom in zip(grids.code, grids.name, grids.geometry, strict=True):
            g = shapely.transform(geom,
                                  lambda xy: np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1])))
            features.append({"type": "Feature", "geometry": mapping(g),
                             "properties": {"code": code, "name": name}})
        assert len(features) > 1  # the community's grids: the comparisons below need some
        path = tmp_path / "plan.geojson"
        path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
        with path.open("rb") as fh:
            r = c.post(f"/api/v1/plans/{draft}/import", files={"file": ("plan.geojson", fh)},
                       data={"shifted": "gcj02"}, headers={"If-Match": doc["draft"]["etag"]})
        assert r.status_code == 200, r.text
        back = _grids(r.json())
        assert set(back) == set(_grids(doc))
        for k, f in _grids(doc).items():
            assert shapely.hausdorff_distance(_metric(shape(back[k]["geometry"])),
                                              _metric(shape(f["geometry"]))) < 0.05
        assert c.get(f"/api/v1/plans/{draft}/validation").json()["valid"] is True
        key, feature = next(iter(back.items()))
        x0, y0, x1, y1 = shape(feature["geometry"]).bounds
        bowtie = {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y1], [x1, y0], [x0, y1],
                                                      [x0, y0]]]}
        r = c.put(f"/api/v1/plans/{draft}/grids/{key}", json={"geometry": bowtie},
                  headers={"If-Match": feature["properties"]["etag"]})
        assert r.status_code == 200, r.text
        report = c.get(f"/api/v1/plans/{draft}/validation").json()
        kinds = {f["properties"]["kind"] for f in report["features"]}
        assert report["valid"] is False and "invalid_geometry" in kinds and "gap" in kinds
        bowtie_etag = _grids(r.json())[key]["properties"]["etag"]
        r = c.post(f"/api/v1/plans/{draft}/publish", headers={"If-Match": r.json()["draft"]["etag"]})
        assert r.status_code == 422 and "invalid_geometry" in r.json()["detail"]
        assert r.json()["code"] == "draft_has_problems"
        # an invalid grid is not split (that would repair it behind the planner's back)
        r = c.post(f"/api/v1/plans/{draft}/split", headers={"If-Match": bowtie_etag},
                   json={"key": key, "line": _cut_across(shapely.box(x0, y0, x1, y1))})
        assert r.status_code == 422 and "不是有效的多边形" in r.json()["detail"]
        unclosed = {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1]]]}
        r = c.put(f"/api/v1/plans/{draft}/grids/{key}", json={"geometry": unclosed},
                  headers={"If-Match": '"x"', "Accept-Language": "en"})
        assert r.status_code == 422 and "not where it began" in r.json()["detail"]
        assert r.json()["code"] == "invalid_geometry"


def test_a_whole_district_sent_back_unchanged_stays_unchanged(api):
    """GET a district's draft and PUT every grid back as it came: validation stays clean and
    publishing keeps every grid, vertex for vertex (coordinates rounded on the way out would
    leave overlaps and gaps of square metres along the shared edges, and new versions)."""
    district = COMMUNITY[:6]
    with api.client("planner") as c:
        r = c.post("/api/v1/plans", json={"area_code": district})
        assert r.status_code == 201, r.text
        draft = r.json()["draft"]["id"]
        doc = c.get(f"/api/v1/plans/{draft}").json()
        grids = _grids(doc)
        assert len(grids) > 50
        for key, f in grids.items():
            r = c.put(f"/api/v1/plans/{draft}/grids/{key}", json={"geometry": f["geometry"]},
                      headers={"If-Match": f["properties"]["etag"]})
            assert r.status_code == 200, r.text
            doc = r.json()
        report = c.get(f"/api/v1/plans/{draft}/validation").json()
        assert report["valid"] is True and report["features"] == [], report["features"][:3]
        after = _grids(doc)
        assert {k: after[k]["geometry"] for k in grids} == {k: grids[k]["geometry"]
                                                           for k in grids}
        r = c.post(f"/api/v1/plans/{draft}/publish", headers={"If-Match": doc["draft"]["etag"]})
        assert r.status_code == 200, r.text
        result = r.json()
    assert result["changed"] == [] and result["added"] == [] and result["retired"] == []
    assert len(result["kept"]) == len(grids)


def test_only_planners_of_the_area(api):
    with api.client("operator") as c:
        assert c.post("/api/v1/plans", json={"area_code": COMMUNITY}).status_code == 403
    with api.client("planner") as c:
        r = c.post("/api/v1/plans", json={"area_code": "220203001001"})  # 龙潭区: not theirs
        assert r.status_code == 404
        draft = _open(c)["draft"]["id"]
    with api.client("admin") as c:
        assert c.get(f"/api/v1/plans/{draft}").status_code == 200


def test_impact_preview_against_brute_force(api, store):
    """After a split: per-grid workload and what changes grid, each checked by testing every
    point against every polygon; and a balancing cut suggested for the school-gate grid."""
    api.now = REFERENCE_TIME
    school_community = "220204001001"
    with api.client("planner") as c:
        r = c.post("/api/v1/plans", json={"area_code": school_community})
        doc = r.json()
        draft = doc["draft"]["id"]
        untouched = c.get(f"/api/v1/plans/{draft}/impact").json()
        key, feature = max(_grids(doc).items(),
                           key=lambda kv: _metric(shape(kv[1]["geometry"])).area)
        r = c.post(f"/api/v1/plans/{draft}/split",
                   json={"key": key, "line": _cut_across(shape(feature["geometry"]))},
                   headers={"If-Match": feature["properties"]["etag"]})
        after_doc = r.json()
        result = c.get(f"/api/v1/plans/{draft}/impact").json()
    assert untouched["changed"] == untouched["added"] == untouched["removed"] == []
    assert untouched["changes_hands"] == []
    # the school-gate grid is overloaded: a cut balancing its issues is suggested
    busiest = max(untouched["after"], key=lambda k: untouched["after"][k]["issues_90d"])
    cuts = {c["grid"]: c for c in untouched["suggested_cuts"]}
    assert busiest in cuts, untouched["workload"]
    cut = cuts[busiest]
    assert cut["line"]["type"] == "LineString"
    assert sum(cut["issues"]) == untouched["after"][busiest]["issues_90d"]
    assert min(cut["issues"]) >= 0.25 * sum(cut["issues"])
    assert result["changed"] == [key] and len(result["added"]) == 1 and result["removed"] == []
    issues = store.read_layer("issues")
    reported = pd.to_datetime(issues.reported_at, utc=True)
    recent = issues[(issues.grid_code.fillna("").str.startswith(school_community))
                    & (reported >= pd.Timestamp(REFERENCE_TIME - timedelta(days=90)))]

    def brute(features):
        out = {}
        for f in sorted(features, key=lambda f: f["id"]):
            out[f["id"]] = 0
        for p in recent.geometry:
            for f in sorted(features, key=lambda f: f["id"]):
                if shape(f["geometry"]).covers(p):
                    out[f["id"]] += 1
                    break
        return out
    assert {k: v["issues_90d"] for k, v in result["after"].items()} == brute(after_doc["features"])
    assert {k: v["issues_90d"] for k, v in result["before"].items()} == brute(doc["features"])
    assert sum(v["issues_90d"] for v in result["after"].values()) == len(recent)
    new_key = result["added"][0]
    assert result["changes_hands"], "the split moves nothing to the new grid: the checks below see nothing"
    for change in result["changes_hands"]:
        assert change["from_grid"] == key and change["to_grid"] == new_key
        assert shape(_grids(after_doc)[new_key]["geometry"]).covers(
            shapely.Point(change["lon"], change["lat"]))
    kinds = {c["kind"] for c in result["changes_hands"]}
    assert kinds <= {"issue", "camera", "site", "team"}
    assert len(result["after"]) == len(after_doc["features"]) > 1
    for v in result["after"].values():
        assert 0 < v["compactness"] <= 1 and v["area_m2"] > 0
    assert result["workload"]["after"]["grids"] == len(after_doc["features"])


def test_a_draft_opened_before_another_publish_cannot_undo_it(api, store):
    """Two drafts of one community: the first splits a grid and is published; publishing the
    second, opened before that and still holding the old grids, would retire the new grid
    and bring the old outline back. It is refused, and the live grids stay as published —
    also when the second publish's clock is behind the first's."""
    api.now = REFERENCE_TIME
    with api.client("planner") as c:
        first, second = _open(c), _open(c)
        key, feature = next(iter(_grids(first).items()))
        r = c.post(f"/api/v1/plans/{first['draft']['id']}/split",
                   json={"key": key, "line": _cut_across(shape(feature["geometry"]))},
                   headers={"If-Match": feature["properties"]["etag"]})
        assert r.status_code == 200, r.text
        api.now = REFERENCE_TIME + timedelta(hours=1)
        published = c.post(f"/api/v1/plans/{first['draft']['id']}/publish",
                           headers={"If-Match": r.json()["draft"]["etag"]})
        assert published.status_code == 200, published.text
        new_code = published.json()["added"][0]
        api.now = REFERENCE_TIME + timedelta(minutes=30)  # another process's slower clock
        stale = c.post(f"/api/v1/plans/{second['draft']['id']}/publish",
                       headers={"If-Match": second["draft"]["etag"]})
        assert stale.status_code == 409, stale.text
        assert stale.json()["code"] == "draft_stale" and "又发布过" in stale.json()["detail"]
        fresh = _open(c)
        grids = {f["properties"]["code"]: f for f in fresh["features"]}
        assert new_code in grids
        cut = c.post(f"/api/v1/plans/{fresh['draft']['id']}/split",
                     json={"key": grids[new_code]["id"],
                           "line": _cut_across(shape(grids[new_code]["geometry"]))},
                     headers={"If-Match": grids[new_code]["properties"]["etag"]})
        assert cut.status_code == 200, cut.text
        again = c.post(f"/api/v1/plans/{fresh['draft']['id']}/publish",
                       headers={"If-Match": cut.json()["draft"]["etag"]})
        assert again.status_code == 200, again.text  # the clock behind, the history in order
    with store.snapshot() as tx:
        live = {r["code"] for r in tx.rows("SELECT code FROM grid WHERE valid_to IS NULL AND "
                                           "community_code = :c", {"c": COMMUNITY})}
        bad = tx.one("SELECT count(*) AS n FROM grid WHERE valid_to <= valid_from")["n"]
    assert new_code in live and bad == 0


def test_clearing_the_store_takes_the_drafts_with_the_grids(api, store):
    """A draft names areas of the city it was drawn in: `demo-data --replace` (Store.clear)
    must not leave it behind over a city without them."""
    with api.client("planner") as c:
        _open(c)
    with store.snapshot() as tx:
        assert tx.one("SELECT count(*) AS n FROM plan_draft")["n"] >= 1
    store.clear()
    with store.snapshot() as tx:
        assert tx.one("SELECT count(*) AS n FROM plan_draft")["n"] == 0
        assert tx.one("SELECT count(*) AS n FROM plan_grid")["n"] == 0
        assert tx.one("SELECT count(*) AS n FROM grid")["n"] == 0
