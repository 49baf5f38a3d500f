"""Compounds (小区) and buildings (楼栋) as map layers, one compound with its buildings, units,
heads (三长) and property company, and the heads of an area by roster (A normal, B emergency).
Heads' phones are given only to callers holding `people:read`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query

from api import deps
from api.deps import Bbox
from api.geojson import MEDIA_TYPE, collection
from geo.casework import read
from geo.casework.scope import Actor
from geo.compounds.read import (
    MAX_FEATURES,
    compound_detail,
    emergency_heads,
    heads_of_area,
    in_box,
)
from geo.store import Store

router = APIRouter(prefix="/api/v1", tags=["compounds"])
GEOJSON = {200: {"content": {MEDIA_TYPE: {}}, "description": "a GeoJSON FeatureCollection"}}
EVERYWHERE = (-180.0, -90.0, 180.0, 90.0)
FeatureLimit = Annotated[int, Query(ge=1, le=MAX_FEATURES, description="the most polygons "
                                                                        "returned, by code")]
CompoundCode = Annotated[str, Path(pattern=r"^[0-9]{12}XQ[0-9]{3}$",
                                   description="e.g. 220204001001XQ003")]
AreaCode = Annotated[str | None, Query(pattern=r"^([0-9]{6}|[0-9]{9}|[0-9]{12})$",
                                       description="a district, street or community code; "
                                                   "none: the whole city (admins)")]


def _page(table: str, bbox: str | None, limit: int, store: Store):
    page = in_box(store, table, read.parse_bbox(bbox) or EVERYWHERE, limit)
    return collection(page.ids, page.geoms, page.props, numberMatched=page.matched,
                      numberReturned=len(page.ids), limit=limit)


@router.get("/compounds", responses=GEOJSON)
def compounds(bbox: Bbox = None, limit: FeatureLimit = 1000,
              actor: Actor = deps.actor("layers:read"), store: Store = Depends(deps.store)):
    """Compounds whose polygons meet the box: code, name, community, property company,
    households, year built."""
    return _page("compound", bbox, limit, store)


@router.get("/buildings", responses=GEOJSON)
def buildings(bbox: Bbox = None, limit: FeatureLimit = 1000,
              actor: Actor = deps.actor("layers:read"), store: Store = Depends(deps.store)):
    """Building footprints that meet the box: code, compound, name, floors, households."""
    return _page("building", bbox, limit, store)


@router.get("/compounds/{code}", response_model=dict,
            responses={404: {"description": "no such compound"}})
def compound(code: CompoundCode, actor: Actor = deps.actor("layers:read"),
             phones: bool = Depends(deps.phones), store: Store = Depends(deps.store)):
    """A compound with its property company, buildings and their units, and its heads
    (小区长, 楼栋长, 单元长) on rosters A and B; phones only with scope people:read, in your
    jurisdiction."""
    return compound_detail(store, actor, code, phones)


@router.get("/heads/emergency", responses=GEOJSON)
def heads_in_emergency(bbox: Bbox = None, actor: Actor = deps.actor("people:read"),
                       phones: bool = Depends(deps.phones), store: Store = Depends(deps.store)):
    """The B roster's heads where their street is in emergency (the city, its district or
    the street switched), one point per compound of your jurisdiction in the box, for the
    live map."""
    page = emergency_heads(store, actor, read.parse_bbox(bbox) or EVERYWHERE, phones)
    return collection(page.ids, page.geoms, page.props, live=True, numberMatched=page.matched,
                      numberReturned=len(page.ids))


@router.get("/heads", response_model=list[dict],
            responses={404: {"description": "no such area"}})
def heads(area: AreaCode = None, roster: Literal["A", "B"] | None = None,
          actor: Actor = deps.actor("people:read"), phones: bool = Depends(deps.phones),
          store: Store = Depends(deps.store)):
    """The heads of the compounds in an area of your jurisdiction (the whole city: admins),
    of roster A (normal times), B (emergency, from assigned agencies) or both."""
    return heads_of_area(store, actor, area, roster, phones)
