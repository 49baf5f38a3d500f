"""OGC API - Features Part 3 (Filtering) at /ogc on both backends: queryables, CQL2 text and
JSON filters whose answers equal the store's own rows filtered here, every operator class
declared, spatial filters in another CRS, the jurisdiction, the refusals; read by OWSLib."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import shape

from geo.ogc import filters

ITEMS = "/ogc/collections/{}/items"
PART3 = ("http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
         "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
         "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
         "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
         "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
         "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions")


def every(client, cid: str, **params) -> tuple[list, dict]:
    """All pages of a filtered collection, along the `next` links: the ids, the first page."""
    r = client.get(ITEMS.format(cid), params={"limit": 400, **params})
    assert r.status_code == 200, r.text
    first = page = r.json()
    ids = [f["id"] for f in page["features"]]
    while nxt := [link["href"] for link in page["links"] if link["rel"] == "next"]:
        page = client.get(nxt[0]).json()
        ids += [f["id"] for f in page["features"]]
    assert len(ids) == first["numberMatched"]
    return ids, first


def test_queryables_and_the_classes_declared(api, store):
    with api.client("planner") as c:
        assert set(PART3) <= set(c.get("/ogc/conformance").json()["conformsTo"])
        grids = c.get("/ogc/collections/grids").json()
        (link,) = [x for x in grids["links"]
                   if x["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/queryables"]
        r = c.get(link["href"])
        assert r.status_code == 200 and r.headers["content-type"] == "application/schema+json"
        schema = r.json()
        assert schema["$id"] == link["href"] and schema["type"] == "object"
        assert schema["properties"]["households"] == {"title": "households", "type": "integer"}
        assert schema["properties"]["valid_from"]["format"] == "date-time"
        assert schema["properties"]["geometry"]["x-ogc-role"] == "primary-geometry"
        cameras = c.get("/ogc/collections/cameras/queryables").json()["properties"]
        assert cameras["range_m"]["type"] == "number" and cameras["kind"]["type"] == "string"
        assert c.get("/ogc/collections/nothing/queryables").status_code == 404


def test_grid_filters_in_text_and_json_equal_the_stored_rows(api, store):
    grids = store.read_layer("grids")
    district = grids.district_code.value_counts().index[0]
    median = int(grids.households.median())
    want = sorted(grids[(grids.district_code == district) & (grids.households > median)].code)
    text = f"district_code = '{district}' AND households > {median}"
    as_json = json.dumps({"op": "and", "args": [
        {"op": "=", "args": [{"property": "district_code"}, district]},
        {"op": ">", "args": [{"property": "households"}, median]}]})
    with api.client("planner") as c:
        ids, first = every(c, "grids", filter=text)
        assert ids == want and 0 < len(want) < len(grids)
        assert all("filter=" in link["href"] for link in first["links"]
                   if link["rel"] in ("next", "self"))
        assert every(c, "grids", filter=as_json, **{"filter-lang": "cql2-json"})[0] == want
        # with a bbox too: both apply
        box = shapely.total_bounds(grids[grids.code.isin(want[:5])].geometry)
        inside = every(c, "grids", filter=text, bbox=",".join(map(str, box)))[0]
        near = grids[grids.intersects(shapely.box(*box))]
        assert inside == sorted(set(near.code) & set(want))


@pytest.mark.parametrize("expression, rows", [
    ("name LIKE '%网格%' AND NOT (households < 150)", lambda g: g.name.str.contains("网格")
     & ~(g.households < 150)),
    ("households BETWEEN 120 AND 180 OR code IN ('{first}', '{last}')",
     lambda g: g.households.between(120, 180) | g.code.isin([g.code.min(), g.code.max()])),
    ("CASEI(community_code) = CASEI('{community}') AND valid_to IS NULL",
     lambda g: g.community_code == g.community_code.min()),
])
def test_each_operator_class_declared(api, store, expression, rows):
    grids = store.read_layer("grids")
    text = expression.format(first=grids.code.min(), last=grids.code.max(),
                             community=grids.community_code.min())
    with api.client("planner") as c:
        assert every(c, "grids", filter=text)[0] == sorted(grids[rows(grids)].code)


def test_issue_filters_on_times_and_words_keep_the_jurisdiction(api, store):
    issues = store.read_layer("issues")
    issues["reported_at"] = pd.to_datetime(issues.reported_at, utc=True, format="ISO8601")
    since = issues.reported_at.quantile(0.8)
    text = (f"state IN ('accepted', 'dispatched', 'claimed') AND "
            f"reported_at > TIMESTAMP('{since.isoformat().replace('+00:00', 'Z')}')")
    mask = issues.state.isin(["accepted", "dispatched", "claimed"]) & (issues.reported_at > since)
    with api.client("admin") as c:
        ids, _ = every(c, "issues", filter=text)
        assert sorted(ids) == sorted(issues[mask].id.tolist()) and ids
    with api.client("dispatcher") as c:
        mine, _ = every(c, "issues")
        theirs, _ = every(c, "issues", filter=text)
        assert set(theirs) == set(mine) & set(ids) and len(theirs) < len(ids)


def test_spatial_filters_in_any_offered_crs(api, store):
    grids = store.read_layer("grids")
    g = grids.iloc[len(grids) // 2]
    x0, y0, x1, y1 = g.geometry.bounds
    ring = f"{x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0}"
    lonlat = f"S_INTERSECTS(geometry, POLYGON(({ring})))"
    latlon = "S_INTERSECTS(geometry, POLYGON(({})))".format(
        ", ".join(" ".join(p.split()[::-1]) for p in ring.split(", ")))
    inner = shapely.point_on_surface(g.geometry)
    with api.client("planner") as c:
        around = every(c, "grids", filter=lonlat)[0]
        assert around == sorted(grids[grids.intersects(shapely.box(x0, y0, x1, y1))].code)
        assert g.code in around and len(around) > 1  # its neighbours touch its box
        assert every(c, "grids", filter=latlon,
                     **{"filter-crs": "http://www.opengis.net/def/crs/EPSG/0/4326"})[0] == around
        point = f"S_INTERSECTS(geometry, POINT({inner.x} {inner.y}))"
        assert every(c, "grids", filter=point)[0] == [g.code]
        assert every(c, "grids", filter=f"S_INTERSECTS(geometry, BBOX({x0}, {y0}, {x1}, {y1}))"
                     )[0] == around
        cameras = every(c, "cameras", filter=lonlat)[0]
        held = store.read_layer("cameras")
        assert cameras == sorted(held[held.intersects(shapely.box(x0, y0, x1, y1))].id.astype(str))


def test_bad_filters_are_refused_with_what_is_wrong(api, store, monkeypatch):
    with api.client("planner", lang="en") as c:
        for params, words in (
                ({"filter": "colour = 'red'"}, "colour not queryable here; the queryables are"),
                ({"filter": "households >"}, "not valid cql2-text"),
                ({"filter": "{\"op\": \"=\"}", "filter-lang": "cql2-json"}, "not valid cql2-json"),
                ({"filter": "households = 'many'"}, "a value of its type"),
                ({"filter": "code = 'x'", "filter-crs": "EPSG:3857"}, "is not offered")):
            r = c.get(ITEMS.format("grids"), params=params)
            assert r.status_code == 400 and words in r.json()["detail"], (params, r.text)
        assert c.get(ITEMS.format("grids"), params={"filter": "code = 'x'",
                                                    "filter-lang": "ecql"}).status_code == 400
        monkeypatch.setattr(filters, "MAX_EXAMINED", 10)
        r = c.get(ITEMS.format("grids"), params={"filter": "households > 0"})
        assert r.status_code == 400 and r.json()["code"] == "filter_too_broad"
        assert "narrow it with bbox or datetime" in r.json()["detail"]
    with api.client("planner") as c:  # in Chinese first
        r = c.get(ITEMS.format("grids"), params={"filter": "colour = 'red'"})
        assert r.status_code == 400 and "不可查询" in r.json()["detail"]


def test_owslib_reads_queryables_and_filtered_pages(api, store):
    from owslib.ogcapi.features import Features

    ogc = Features(f"{api.url}/ogc", headers={"Authorization": f"Bearer {api.token('planner')}"})
    assert "households" in ogc.collection_queryables("grids")["properties"]
    grids = store.read_layer("grids")
    district = grids.district_code.min()
    page = ogc.collection_items("grids", limit=1000, filter=f"district_code = '{district}'",
                                **{"filter-lang": "cql2-text"})
    got = sorted(f["id"] for f in page["features"])
    assert got == sorted(grids[grids.district_code == district].code)
    assert all(shape(f["geometry"]).equals_exact(grids.set_index("code").geometry[f["id"]], 0)
               for f in page["features"][:20])
    assert np.all(np.array([f["properties"]["district_code"] for f in page["features"]])
                  == district)
