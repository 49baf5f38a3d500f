"""GeoJSON layers for maps and other systems: grids (with open and overdue counts), areas,
cameras, key sites, teams and issues; filtered by bbox, paged, live layers never cached."""

from __future__ import annotations

import threading
import time
import weakref
from datetime import datetime
from itertools import compress
from typing import Annotated, Literal

import numpy as np
import shapely
from fastapi import APIRouter, Depends, Query

from api import deps
from api.geojson import MEDIA_TYPE, collection, simplified
from api.routes.issues import Bbox, Category, Code, Id, Network, State, issue_query
from geo.cameras import view_sectors
from geo.casework import read
from geo.casework.dispatch import list_teams
from geo.casework.dispatchview import MAX_NEARBY_M, dispatch_view
from geo.casework.scope import Actor
from geo.store import Store

router = APIRouter(prefix="/api/v1/layers", tags=["layers"])
GEOJSON = {200: {"content": {MEDIA_TYPE: {}}, "description": "a GeoJSON FeatureCollection"}}
LayerLimit = Annotated[int, Query(ge=1, le=read.MAX_PAGE)]
Simplify = Annotated[float, Query(ge=0, le=500, description="simplification tolerance, metres")]


_NO_LOAD = {"open": 0, "yellow": 0, "overdue": 0, "worst_light": None}
_AREA_LEVEL = {"districts": "district", "streets": "street", "communities": "community"}


def _paging(limit: int, offset: int, returned: int, matched: int) -> dict:
    return {"numberMatched": matched, "numberReturned": returned, "limit": limit,
            "offset": offset}


@router.get("/grids", responses=GEOJSON)
def grids(bbox: Bbox = None, street: Code = None, simplify_m: Simplify = 0.0,
          limit: LayerLimit = 1000, offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
          actor: Actor = deps.actor("layers:read"), store: Store = Depends(deps.store),
          now: datetime = Depends(deps.now)):
    """Current grids in the box, with the open issues in each that you may see: open, yellow
    (80% of a step's time used), overdue and the worst light."""
    box = read.parse_bbox(bbox)
    with store.snapshot() as tx:
        d = tx.dialect
        cond, params = ["g.valid_to IS NULL"], {}
        if box:
            cond.append(d.polygon_in_bbox("g"))
            params.update(zip(("bbox_minx", "bbox_miny", "bbox_maxx", "bbox_maxy"), box,
                              strict=True))
        if street:
            cond.append("substr(g.code, 1, 9) = :street")
            params["street"] = street
        where = " AND ".join(cond)
        matched = tx.one(f"SELECT count(*) AS n FROM grid g WHERE {where}", params)["n"]
        rows = tx.rows(f"SELECT g.code, g.name, g.community_code, g.households, "
                       f"{d.wkb('g.geom')} AS wkb FROM grid g WHERE {where} ORDER BY g.code "
                       "LIMIT :limit OFFSET :offset", {**params, "limit": limit, "offset": offset})
        load = read.open_load(tx, actor, "grid", [r["code"] for r in rows], now)
    geoms = simplified(shapely.from_wkb([bytes(r["wkb"]) for r in rows]), simplify_m)
    props = [{"code": r["code"], "name": r["name"], "community_code": r["community_code"],
              "street_code": r["code"][:9], "district_code": r["code"][:6],
              "households": r["households"],
              **load.get(r["code"], _NO_LOAD)} for r in rows]
    return collection([r["code"] for r in rows], geoms, props, live=True,
                      **_paging(limit, offset, len(rows), int(matched)))


@router.get("/areas/{level}", responses=GEOJSON)
def areas(level: Literal["districts", "streets", "communities"], bbox: Bbox = None,
          simplify_m: Simplify = 0.0, actor: Actor = deps.actor("layers:read"),
          store: Store = Depends(deps.store), now: datetime = Depends(deps.now)):
    """District, street or community outlines, with the open issues in each that you may see
    (open, yellow, overdue and the worst light), as on the grids layer."""
    codes, geoms, props = _outlines(store, level, simplify_m)
    box = read.parse_bbox(bbox)
    if box is not None:
        keep = shapely.intersects(geoms, shapely.box(*box))
        codes, geoms, props = list(compress(codes, keep)), geoms[keep], list(compress(props, keep))
    with store.snapshot() as tx:
        load = read.open_load(tx, actor, _AREA_LEVEL[level], codes, now)
    return collection(codes, geoms, [p | load.get(p["code"], _NO_LOAD) for p in props])


_OUTLINE_TTL_S = 60.0  # area outlines change only when planners publish
_outline_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_outline_lock = threading.Lock()


def _outlines(store: Store, level: str, simplify_m: float):
    """Codes, simplified geometries and properties of one level's areas, kept for a minute:
    simplifying street outlines costs far more than serving them, and map clients ask for a
    handful of tolerances (one per zoom level)."""
    key = (level, simplify_m)
    with _outline_lock:
        cache = _outline_cache.setdefault(store, {})
        hit = cache.get(key)
    if hit and time.monotonic() - hit[0] < _OUTLINE_TTL_S:
        return hit[1]
    frame = store.read_layer(level)
    value = (list(frame.code), simplified(frame.geometry.values, simplify_m),
             frame.drop(columns="geometry").to_dict("records"))
    with _outline_lock:
        if len(cache) > 64:
            cache.clear()
        cache[key] = (time.monotonic(), value)
    return value


def _in_box(frame, box):
    if box is None:
        return frame
    return frame[frame.intersects(shapely.box(*box))]


@router.get("/{layer}", responses=GEOJSON)
def points(layer: Literal["cameras", "sites"], bbox: Bbox = None,
           geometry: Literal["point", "view"] = "point",
           actor: Actor = deps.actor("layers:read"), store: Store = Depends(deps.store)):
    """Cameras (kind, heading, field of view, range, status) or key monitored sites.

    `geometry=view` gives cameras as the area they see (a sector, or a circle for domes)."""
    frame = _in_box(store.read_layer(layer), read.parse_bbox(bbox))
    if geometry == "view" and layer == "cameras" and len(frame):
        frame = frame.set_geometry(view_sectors(frame.geometry.x, frame.geometry.y,
                                                frame.heading_deg, frame.fov_deg, frame.range_m))
    frame = frame.drop(columns=[c for c in ("stream_ref",) if c in frame])  # opaque, internal
    props = [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
             for r in frame.drop(columns="geometry").to_dict("records")]
    return collection(list(frame.id), frame.geometry.values, props)


@router.get("/live/teams", responses=GEOJSON)
def teams(bbox: Bbox = None, actor: Actor = deps.actor("layers:read"),
          store: Store = Depends(deps.store), now: datetime = Depends(deps.now)):
    """Teams at their last reported positions (home base if none), with status."""
    box = read.parse_bbox(bbox)
    rows = list_teams(store, actor)
    if box:
        rows = [r for r in rows if box[0] <= r["lon"] <= box[2] and box[1] <= r["lat"] <= box[3]]
    geoms = shapely.points([r["lon"] for r in rows], [r["lat"] for r in rows]) if rows else []
    props = [{k: v for k, v in r.items() if k not in ("id", "lon", "lat")} |
             {"position_age_s": None if r["position_at"] is None
              else round((now - r["position_at"]).total_seconds())} for r in rows]
    return collection([r["id"] for r in rows], geoms, props, live=True)


@router.get("/live/issues", responses=GEOJSON)
def issues(state: State = None, category: Category = None, grid: Code = None,
           since: deps.Timestamp | None = None, until: deps.Timestamp | None = None,
           bbox: Bbox = None, open_only: bool = True, limit: LayerLimit = 1000,
           offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0, network: Network = None,
           actor: Actor = deps.actor("issues:read"), store: Store = Depends(deps.store),
           now: datetime = Depends(deps.now)):
    """Issues you may see as points, with state, light and category; open ones by default."""
    if state and open_only:
        open_only = False  # an explicit state list wins
    q = issue_query(state, category, grid, None, since, until, bbox, limit, offset, open_only,
                    networks=network)
    items, total = read.list_issues(store, actor, q, now)
    geoms = shapely.points([i["lon"] for i in items], [i["lat"] for i in items]) if items else []
    keep = ("category_code", "category_name", "state", "light", "overdue", "reported_at",
            "due_at", "grid_code", "street_code", "description", "rating")
    props = [{k: i[k] for k in keep if k in i} for i in items]
    return collection([i["id"] for i in items], geoms, props, live=True,
                      **_paging(limit, offset, len(items), total))


@router.get("/dispatch/{issue_id}", responses=GEOJSON)
def dispatch(issue_id: Id, k: Annotated[int, Query(ge=1, le=50)] = 5,
             nearby_m: Annotated[float, Query(gt=0, le=MAX_NEARBY_M)] = 500.0,
             actor: Actor = deps.actor("issues:dispatch"), store: Store = Depends(deps.store),
             now: datetime = Depends(deps.now)):
    """One issue for a dispatcher's map: the issue, its grid, the ranked candidate teams with a
    line to each, the cameras that can see the spot (with their view) and open issues of the
    same category within `nearby_m`. Each feature's `kind` says which it is."""
    view = dispatch_view(store, actor, issue_id, now, k, nearby_m)
    issue = view["issue"]
    here = (issue["lon"], issue["lat"])
    ids, geoms, props = [f"issue:{issue_id}"], [shapely.Point(here)], [
        {"kind": "issue", "id": issue_id, **{k: issue[k] for k in (
            "category_code", "category_name", "state", "light", "description", "reported_at",
            "due_at", "grid_code", "address")}, "mode": view["mode"], "filter": view["filter"],
         "none_reason": view["none_reason"]}]
    if view["grid"]:
        ids.append(f"grid:{view['grid']['code']}")
        geoms.append(shapely.from_wkb(bytes(view["grid"]["wkb"])))
        props.append({"kind": "grid", "code": view["grid"]["code"], "name": view["grid"]["name"]})
    for c in view["candidates"]:
        there = (c["lon"], c["lat"])
        fields = {k: c[k] for k in ("rank", "team_id", "name", "distance_m", "status", "stale",
                                    "position_source", "reason")}
        ids += [f"team:{c['team_id']}", f"route:{c['team_id']}"]
        geoms += [shapely.Point(there), shapely.LineString([there, here])]
        props += [{"kind": "candidate", **fields}, {"kind": "route", **fields}]
    if view["cameras"]:
        cams = view["cameras"]
        sectors = view_sectors([c["lon"] for c in cams], [c["lat"] for c in cams],
                               [np.nan if c["heading_deg"] is None else c["heading_deg"]
                                for c in cams], [c["fov_deg"] for c in cams],
                               [c["range_m"] for c in cams])
        for c, sector in zip(cams, sectors, strict=True):
            fields = {k: v for k, v in c.items() if k not in ("lon", "lat", "kind")}
            fields["camera_kind"] = c["kind"]
            ids += [f"camera:{c['camera_id']}", f"view:{c['camera_id']}"]
            geoms += [shapely.Point(c["lon"], c["lat"]), sector]
            props += [{"kind": "camera", **fields}, {"kind": "camera_view", **fields}]
    for n in view["nearby"]:
        ids.append(f"nearby:{n['id']}")
        geoms.append(shapely.Point(n["lon"], n["lat"]))
        props.append({"kind": "nearby", **{k: n[k] for k in ("id", "state", "reported_at",
                                                              "distance_m")}})
    return collection(ids, geoms, props, live=True)
