"""GeoJSON layers for maps and other systems: grids (with open and overdue counts), areas,
cameras, key sites, teams and issues; filtered by bbox, paged, live layers never cached."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import numpy as np
import shapely
from fastapi import APIRouter, Depends, Query

from api import deps
from api.deps import Bbox, Category, Code, Id, Limit, Network, Offset, State, issue_query
from api.geojson import MEDIA_TYPE, collection
from geo.casework import read
from geo.casework.dispatchview import MAX_NEARBY_M, dispatch_features, dispatch_view
from geo.casework.scope import Actor
from geo.codes import LENGTHS
from geo.layers.areas import areas_in_box
from geo.layers.grids import grid_page
from geo.layers.points import CLUSTER_FROM, in_box, team_clusters, teams_in_box
from geo.model import Policy
from geo.store import Store

router = APIRouter(prefix="/api/v1/layers", tags=["layers"])
GEOJSON = {200: {"content": {MEDIA_TYPE: {}}, "description": "a GeoJSON FeatureCollection"}}
Simplify = Annotated[float, Query(ge=0, le=500, description="simplification tolerance, metres")]


_NO_LOAD = {"open": 0, "yellow": 0, "overdue": 0, "worst_light": None}


def _paging(limit: int, offset: int, returned: int, matched: int) -> dict:
    return {"numberMatched": matched, "numberReturned": returned, "limit": limit,
            "offset": offset}


@router.get("/grids", responses=GEOJSON)
def grids(bbox: Bbox = None, street: Code = None, simplify_m: Simplify = 0.0,
          limit: Limit = 1000, offset: Offset = 0,
          actor: Actor = deps.actor("layers:read"), store: Store = Depends(deps.store),
          now: datetime = Depends(deps.now)):
    """Current grids in the box, with the open issues in each that you may see: open, yellow
    (80% of a step's time used), overdue and the worst light."""
    page = grid_page(store, actor, read.parse_bbox(bbox), street, limit, offset, now, simplify_m)
    street_len, district_len = LENGTHS["street"], LENGTHS["district"]
    props = [{"code": r["code"], "name": r["name"], "community_code": r["community_code"],
              "street_code": r["code"][:street_len], "district_code": r["code"][:district_len],
              "households": r["households"],
              **page.load.get(r["code"], _NO_LOAD)} for r in page.rows]
    return collection([r["code"] for r in page.rows], page.geoms, props, live=True,
                      **_paging(limit, offset, len(page.rows), page.matched))


@router.get("/areas/{level}", responses=GEOJSON)
def areas(level: Literal["districts", "streets", "communities"], bbox: Bbox = None,
          simplify_m: Simplify = 0.0, actor: Actor = deps.actor("layers:read"),
          store: Store = Depends(deps.store), now: datetime = Depends(deps.now)):
    """District, street or community outlines, with the open issues in each that you may see
    (open, yellow, overdue and the worst light), as on the grids layer."""
    found = areas_in_box(store, actor, level, read.parse_bbox(bbox), simplify_m, now)
    return collection(found.codes, found.geoms,
                      [p | found.load.get(p["code"], _NO_LOAD) for p in found.props])


@router.get("/{layer}", responses=GEOJSON)
def points(layer: Literal["cameras", "sites"], bbox: Bbox = None,
           geometry: Literal["point", "view"] = "point",
           actor: Actor = deps.actor("layers:read"), store: Store = Depends(deps.store)):
    """Cameras (kind, heading, field of view, range, status) or key monitored sites.

    `geometry=view` gives cameras as the area they see (a sector, or a circle for domes)."""
    frame = in_box(store, layer, read.parse_bbox(bbox), view=geometry == "view")
    props = [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
             for r in frame.drop(columns="geometry").to_dict("records")]
    return collection(list(frame.id), frame.geometry.values, props)


@router.get("/live/teams", responses=GEOJSON)
def teams(bbox: Bbox = None,
          cluster_m: Annotated[float | None, Query(ge=10, le=20_000, description=(
              f"with more than {CLUSTER_FROM} teams in the box, answer clusters of teams, one "
              "per square of this side (metres, EPSG:4551), each with its count per status"
          ))] = None,
          actor: Actor = deps.actor("layers:read"),
          store: Store = Depends(deps.store), now: datetime = Depends(deps.now)):
    """Teams at their last reported positions (home base if none), with status; or, zoomed
    out (`cluster_m`), their clusters."""
    rows = teams_in_box(store, actor, read.parse_bbox(bbox))
    if cluster_m is not None and len(rows) > CLUSTER_FROM:
        clusters = team_clusters(rows, cluster_m)
        geoms = shapely.points([c["lon"] for c in clusters], [c["lat"] for c in clusters])
        props = [{k: v for k, v in c.items() if k not in ("id", "lon", "lat")} for c in clusters]
        return collection([c["id"] for c in clusters], geoms, props, live=True,
                          numberMatched=len(rows), clustered=True)
    geoms = shapely.points([r["lon"] for r in rows], [r["lat"] for r in rows]) if rows else []
    props = [{k: v for k, v in r.items() if k not in ("id", "lon", "lat")} |
             {"position_age_s": None if r["position_at"] is None
              else round((now - r["position_at"]).total_seconds())} for r in rows]
    return collection([r["id"] for r in rows], geoms, props, live=True)


@router.get("/live/issues", responses=GEOJSON)
def issues(state: State = None, category: Category = None, grid: Code = None,
           since: deps.Timestamp | None = None, until: deps.Timestamp | None = None,
           bbox: Bbox = None, open_only: bool = True, limit: Limit = 1000,
           offset: Offset = 0, network: Network = None,
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
             now: datetime = Depends(deps.now), policy: Policy = Depends(deps.ranking_policy)):
    """One issue for a dispatcher's map: the issue, its grid, the ranked candidate teams with a
    line to each, the cameras that can see the spot (with their view) and open issues of the
    same category within `nearby_m`. Each feature's `kind` says which it is."""
    view = dispatch_view(store, actor, issue_id, now, k, nearby_m, policy)
    ids, geoms, props = dispatch_features(view)
    return collection(ids, geoms, props, live=True)
