"""A published plan for tests of what publishing leaves behind (history, locate at a past
moment, OGC API datetime): the planner splits the largest grid of a community in two."""

from __future__ import annotations

import shapely
from shapely.geometry import shape

COMMUNITY = "220204002001"  # in 船营区, the planner's district


def publish_a_split(api, published_at):
    """Split the community's largest grid at its middle; (grid code, new code, a point in the
    new part, the outline before, the draft's id)."""
    api.now = published_at
    with api.client("planner") as c:
        doc = c.post("/api/v1/plans", json={"area_code": COMMUNITY, "title": "东西分开"}).json()
        draft = doc["draft"]["id"]
        grids = {f["id"]: f for f in doc["features"]}
        key = max(grids, key=lambda k: shape(grids[k]["geometry"]).area)
        before = shape(grids[key]["geometry"])
        x0, y0, x1, y1 = before.bounds
        mid = (x0 + x1) / 2
        line = {"type": "LineString", "coordinates": [[mid, y0 - 0.01], [mid, y1 + 0.01]]}
        r = c.post(f"/api/v1/plans/{draft}/split", json={"key": key, "line": line},
                   headers={"If-Match": grids[key]["properties"]["etag"]})
        assert r.status_code == 200, r.text
        r = c.post(f"/api/v1/plans/{draft}/publish", headers={"If-Match": r.json()["draft"]["etag"]})
        assert r.status_code == 200, r.text
        (added,) = r.json()["added"]
    east = shapely.Point((mid + x1) / 2, (y0 + y1) / 2)
    if not before.contains(east):  # a concave grid: any point of the new part
        east = before.intersection(shapely.box(mid, y0, x1, y1)).representative_point()
    return key, added, (east.x, east.y), before, draft
