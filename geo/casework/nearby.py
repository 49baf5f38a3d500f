"""Open issues that may be the same as one already filed: those a report is warned of, those a
dispatcher sees around an issue, and the candidates a triage merges."""

from __future__ import annotations

import numpy as np

from geo.casework.read import fetch, is_open
from geo.casework.scope import Actor, visible_issues
from geo.crs import degree_box, to_metric
from geo.store import Store
from geo.store.sql import Tx, as_dt
from geo.taxonomy import CATEGORY_BY_CODE


def nearby_open(tx: Tx, actor: Actor, category_code: str, lon: float, lat: float,
                exclude: int | None = None, limit: int = 10,
                radius_m: float | None = None) -> list[dict]:
    """Open issues of the same category within `radius_m` (default: the category's duplicate
    radius), nearest first (FixMyStreet's "is this already reported?"). Only issues the actor
    may see."""
    radius = radius_m or CATEGORY_BY_CODE[category_code].duplicate_radius_m
    d = tx.dialect
    # A generous box; the exact test in metres is below.
    west, south, east, north = degree_box(lon, lat, 1.5 * radius)
    where, params = visible_issues(actor, d)
    rows = tx.rows(
        f"SELECT i.id, i.state, i.reported_at, {d.lon('i')} AS lon, {d.lat('i')} AS lat "
        f"FROM issue i WHERE {where} AND i.category_code = :cat AND i.id <> :exclude AND "
        f"{is_open('i')} AND {d.in_bbox('i')}",
        {**params, "cat": category_code, "exclude": exclude or -1,
         "bbox_minx": west, "bbox_maxx": east, "bbox_miny": south, "bbox_maxy": north})
    if not rows:
        return []
    px, py = to_metric([lon], [lat])
    qx, qy = to_metric([r["lon"] for r in rows], [r["lat"] for r in rows])
    dist = np.hypot(qx - px[0], qy - py[0])
    found = [{"id": r["id"], "state": r["state"], "reported_at": as_dt(r["reported_at"]),
              "distance_m": round(float(m), 1), "lon": r["lon"], "lat": r["lat"]}
             for r, m in zip(rows, dist, strict=True) if m <= radius]
    return sorted(found, key=lambda f: (f["distance_m"], f["id"]))[:limit]


def merge_candidates(store: Store, actor: Actor, issue_id: int) -> list[dict]:
    """Open issues of the same category within its duplicate radius that `actor` may see,
    nearest first (NotFound when the issue itself is not one they may see)."""
    with store.snapshot() as tx:
        issue = fetch(tx, actor, issue_id)
        return nearby_open(tx, actor, issue["category_code"], issue["lon"], issue["lat"],
                           exclude=issue_id)
