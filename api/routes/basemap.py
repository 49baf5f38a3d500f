"""The offline basemap's layers (roads with names, water, area names), for map pages with no
tile server: GeoJSON like the other layers, bounded per answer and coarser zoomed out."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from api import deps
from api.deps import Bbox
from api.geojson import MEDIA_TYPE, collection
from geo.casework import read
from geo.casework.scope import Actor
from geo.layers.basemap import MAX_ROADS, labels_in_box, roads_in_box, water_in_box
from geo.store import Store

router = APIRouter(prefix="/api/v1/layers", tags=["layers"])
GEOJSON = {200: {"content": {MEDIA_TYPE: {}}, "description": "a GeoJSON FeatureCollection"}}
EVERYWHERE = (-180.0, -90.0, 180.0, 90.0)
Simplify = Annotated[float, Query(ge=0, le=500, description=(
    "simplification tolerance, metres (about a metre per pixel of the view): served at the "
    "nearest power of two from 0.125 to 512, none below 0.09"))]
RoadLimit = Annotated[int, Query(ge=1, le=MAX_ROADS,
                                 description="the most roads returned (the most important, "
                                             "then the longest, are kept)")]


def _members(page, limit: int | None = None) -> dict:
    members = {"numberMatched": page.matched, "numberReturned": len(page.ids)}
    return members | ({"limit": limit} if limit is not None else {})


@router.get("/roads", responses=GEOJSON)
def roads(bbox: Bbox = None, simplify_m: Simplify = 0.0, limit: RoadLimit = MAX_ROADS,
          actor: Actor = deps.actor("layers:read"), store: Store = Depends(deps.store)):
    """Roads in the box with their names and classes, cut to it, for a basemap. `simplify_m`
    (about a metre per pixel of the view) also coarsens: at 8 m and less, secondary roads
    are included; at 4 m, local streets; at 2 m, service lanes; above 8 m only expressways,
    bridges and arterials."""
    page = roads_in_box(store, read.parse_bbox(bbox) or EVERYWHERE, simplify_m, limit)
    return collection(page.ids, page.geoms, page.props, **_members(page, limit))


@router.get("/water", responses=GEOJSON)
def water(bbox: Bbox = None, simplify_m: Simplify = 0.0,
          actor: Actor = deps.actor("layers:read"), store: Store = Depends(deps.store)):
    """Rivers and lakes in the box (name, kind), simplified and cut to it."""
    page = water_in_box(store, read.parse_bbox(bbox) or EVERYWHERE, simplify_m)
    return collection(page.ids, page.geoms, page.props, **_members(page))


@router.get("/labels", responses=GEOJSON)
def labels(level: Literal["districts", "streets", "communities"], bbox: Bbox = None,
           actor: Actor = deps.actor("layers:read"), store: Store = Depends(deps.store)):
    """The names of districts, streets or communities as points inside each area (never
    outside it, as a centroid can be), with `width_m`, the width of the largest circle that
    fits in the area: a name is shown where it fits in that width at the map's scale."""
    page = labels_in_box(store, read.parse_bbox(bbox), level)
    return collection(page.ids, page.geoms, page.props, **_members(page))
