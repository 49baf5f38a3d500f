"""What publishing a draft would change: grids added, removed and changed; the open issues,
cameras, key sites and teams that would change grid; per grid before and after its area,
households, issues of the last 90 days and compactness; the spread of that workload; and for
each overloaded grid a suggested cut that balances it (k-means on its issues, the two
groups' perpendicular bisector, kept only when it cuts the grid in two)."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import shapely
import shapely.ops
from sklearn.cluster import KMeans

from geo.casework.read import is_open
from geo.casework.scope import Actor, visible_issues
from geo.crs import area_m2, from_metric, geoms_to_metric, to_metric
from geo.gridindex import GridIndex
from geo.planning.drafts import get_draft
from geo.planning.publish import unchanged
from geo.store import Store

WINDOW = timedelta(days=90)
OVERLOADED = 1.5  # times the median workload of the area's grids
MIN_TO_SPLIT = 20  # issues: fewer make no pattern worth cutting for


def assign(labels: list[str], geoms: list, lon, lat) -> np.ndarray:
    """The label of the geometry covering each point, or None: the batch locate (GridIndex,
    with its tie rule) over the geometries a draft can measure (missing, empty or NaN ones
    cover nothing)."""
    shapes = np.array(geoms, dtype=object)
    names = np.array(labels, dtype=object)
    usable = ~shapely.is_missing(shapes) & ~shapely.is_empty(shapes)
    usable[usable] = ~np.isnan(shapely.bounds(shapes[usable])).any(axis=1)
    return GridIndex(names[usable].astype(str), shapes[usable]).locate_codes(lon, lat)


def compactness(geom) -> float:
    """Polsby-Popper: 4πA/P², 1 for a circle, near 0 for a long thin shape."""
    m = geoms_to_metric(geom)
    return float(4 * np.pi * m.area / m.length**2) if m.length > 0 else 0.0


def _stats(values) -> dict:
    v = np.asarray(list(values), float)
    if v.size == 0:
        return {"grids": 0}
    mean = float(v.mean())
    return {"grids": int(v.size), "min": float(v.min()), "max": float(v.max()),
            "mean": round(mean, 2), "cv": round(float(v.std() / mean), 3) if mean else None}


def _suggest_cut(label: str, geom, lon, lat) -> dict | None:
    """A line splitting the grid's issues into two balanced groups, or None."""
    x, y = to_metric(lon, lat)
    km = KMeans(n_clusters=2, n_init=10, random_state=0).fit(np.column_stack([x, y]))
    (ax, ay), (bx, by) = km.cluster_centers_
    mx, my = (ax + bx) / 2, (ay + by) / 2
    dx, dy = -(by - ay), bx - ax
    norm = np.hypot(dx, dy)
    if norm == 0:
        return None
    metric = geoms_to_metric(geom)
    reach = 2 * np.hypot(metric.bounds[2] - metric.bounds[0], metric.bounds[3] - metric.bounds[1])
    ends_x = np.array([mx - dx / norm * reach, mx + dx / norm * reach])
    ends_y = np.array([my - dy / norm * reach, my + dy / norm * reach])
    lon_e, lat_e = from_metric(ends_x, ends_y)
    line = shapely.LineString(np.column_stack([lon_e, lat_e]))
    pieces = shapely.get_parts(shapely.ops.split(geom, line))
    if len(pieces) != 2:
        return None
    sides = np.bincount(km.labels_, minlength=2)
    return {"grid": label, "line": line, "issues": sorted(int(s) for s in sides)}


def impact(store: Store, actor: Actor, draft_id: int, now: datetime) -> dict:
    """The impact preview of a draft (see the module's docstring)."""
    draft = get_draft(store, actor, draft_id)
    area = draft.area_code
    grids = store.read_layer("grids")
    grids = grids[grids.code.str.startswith(area)]
    before_labels, before_geoms = list(grids.code), list(grids.geometry.values)
    after_labels = [g.code or g.key for g in draft.grids]
    after_geoms = [g.geom for g in draft.grids]
    with store.snapshot() as tx:
        d = tx.dialect
        where, params = visible_issues(actor, d)
        params.update({"n": len(area), "a": area, "since": now - WINDOW})
        recent = tx.rows(f"SELECT i.id, {d.lon('i')} AS lon, {d.lat('i')} AS lat FROM issue i "
                         f"WHERE {where} AND substr(i.grid_code, 1, :n) = :a "
                         "AND i.reported_at >= :since", params)
        open_rows = tx.rows(f"SELECT i.id, {d.lon('i')} AS lon, {d.lat('i')} AS lat FROM issue i "
                            f"WHERE {where} AND {is_open('i')} AND substr(i.grid_code, 1, :n) = :a",
                            params)
    rlon = np.array([r["lon"] for r in recent], float)
    rlat = np.array([r["lat"] for r in recent], float)
    load_before = assign(before_labels, before_geoms, rlon, rlat)
    load_after = assign(after_labels, after_geoms, rlon, rlat)

    def per_grid(labels, geoms, households, loads):
        found, n = np.unique(loads[loads != None].astype(str), return_counts=True)  # noqa: E711
        counts = dict.fromkeys(labels, 0) | dict(zip(found.tolist(), n.tolist(), strict=True))
        return {lab: {"area_m2": round(float(area_m2(g)), 1) if g is not None and not g.is_empty
                      else 0.0, "households": h, "issues_90d": counts[lab],
                      "compactness": round(compactness(g), 3) if g is not None and not g.is_empty
                      else 0.0} for lab, g, h in zip(labels, geoms, households, strict=True)}

    households = [None if h is None or h != h else int(h) for h in grids.households]  # NULL
    before = per_grid(before_labels, before_geoms, households, load_before)
    after = per_grid(after_labels, after_geoms, [g.households for g in draft.grids], load_after)
    current = {c: (geom, name, h) for c, geom, name, h
               in zip(grids.code, grids.geometry, grids.name, households, strict=True)}
    changed = [g.code for g in draft.grids if g.code in current
               and not unchanged(*current[g.code], g)]  # as publishing will judge it
    added = [g.code or g.key for g in draft.grids if not g.code or g.code not in current]
    removed = sorted(set(before_labels) - {g.code for g in draft.grids if g.code})

    def moves(kind, ids, lon, lat):
        lon, lat = np.asarray(lon, float), np.asarray(lat, float)
        old = assign(before_labels, before_geoms, lon, lat)
        new = assign(after_labels, after_geoms, lon, lat)
        return [{"kind": kind, "id": i, "from_grid": o, "to_grid": n, "lon": float(x),
                 "lat": float(y)} for i, o, n, x, y in zip(ids, old, new, lon, lat, strict=True)
                if o != n and (o is not None or n is not None)]

    changes = moves("issue", [r["id"] for r in open_rows], [r["lon"] for r in open_rows],
                    [r["lat"] for r in open_rows])
    for kind, layer in (("camera", "cameras"), ("site", "sites"), ("team", "teams")):
        frame = store.read_layer(layer)
        points = frame.geometry.representative_point()
        changes += moves(kind, list(frame["id"]), points.x.to_numpy(), points.y.to_numpy())
    median = float(np.median([v["issues_90d"] for v in after.values()])) if after else 0.0
    suggestions = []
    for g, label in zip(draft.grids, after_labels, strict=True):
        n = after[label]["issues_90d"]
        if n >= MIN_TO_SPLIT and n > OVERLOADED * max(median, 1.0) and g.geom.is_valid:
            mine = load_after == label
            cut = _suggest_cut(label, g.geom, rlon[mine], rlat[mine])
            if cut:
                suggestions.append(cut)
    return {"draft": draft.id, "etag": draft.etag, "area_code": area,
            "added": sorted(added), "removed": removed, "changed": sorted(changed),
            "unchanged": len(draft.grids) - len(added) - len(changed),
            "before": before, "after": after,
            "workload": {"before": _stats(v["issues_90d"] for v in before.values()),
                         "after": _stats(v["issues_90d"] for v in after.values())},
            "changes_hands": changes, "suggested_cuts": suggestions}
