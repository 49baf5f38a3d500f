"""Boundaries through time for other systems: which grid answers for a point, now or at a past
moment (`at`), and every version a grid has had, with the plan that published each."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi import Path as PathParam

from api import deps
from api.geojson import MEDIA_TYPE, collection
from api.schemas import Crs, Located
from geo.casework.scope import Actor
from geo.codes import LENGTHS
from geo.ogc.items import version_id
from geo.places.locate import locate_point
from geo.planning.history import GridVersion, grid_history
from geo.store import Store

router = APIRouter(prefix="/api/v1", tags=["boundaries"])
Coordinate = Annotated[float, Query(allow_inf_nan=False, description="in the given crs")]
GridCode = Annotated[str, PathParam(pattern=f"^[0-9]{{{LENGTHS['grid']}}}$",
                                    description="a 15-digit grid code")]


@router.get("/locate", response_model=Located,
            responses={422: {"description": "bad coordinates or time, or outside the area "
                                            "where distances in metres hold"}})
def locate(lon: Coordinate, lat: Coordinate, crs: Crs = "wgs84",
           at: Annotated[deps.Timestamp | None, Query(
               description="ISO 8601; the grids valid at that moment (default: now)")] = None,
           actor: Actor = deps.actor("layers:read"), store: Store = Depends(deps.store)) -> dict:
    """The grid, community, street and district responsible for the point (null outside every
    grid, with a message), now or at the moment `at` (the grids valid then: valid_from <= at <
    valid_to); the compound and building below the grid as they are now."""
    return locate_point(store, lon, lat, crs, at)


def _version_properties(n: int, v: GridVersion) -> dict:
    made, retired = v.published_by_plan, v.retired_by_plan
    return {"version": n, "code": v.code, "name": v.name, "community_code": v.community_code,
            "households": v.households, "valid_from": v.valid_from, "valid_to": v.valid_to,
            "current": v.valid_to is None,
            "plan_id": made and made.id, "plan_title": made and made.title,
            "published_by": made and made.published_by,
            "retired_by_plan_id": retired and retired.id,
            "retired_by_plan_title": retired and retired.title}


@router.get("/grids/{code}/history",
            responses={200: {"content": {MEDIA_TYPE: {}},
                             "description": "a GeoJSON FeatureCollection, one feature per version"},
                       404: {"description": "no grid has ever had this code"}})
def history(code: GridCode, actor: Actor = deps.actor("layers:read"),
            store: Store = Depends(deps.store)):
    """Every version of the grid, oldest first (the current one's id is its code, the others'
    CODE@ROW, as in the OGC API): its outline at full precision, valid_from and
    valid_to (null for the current one; times in UTC), the plan whose publishing made it
    current (null for the city as loaded) and the plan that retired it."""
    versions = grid_history(store, code)
    return collection([v.code if v.valid_to is None else version_id(v.code, v.row)
                       for v in versions],
                      [v.geom for v in versions],
                      [_version_properties(n, v) for n, v in enumerate(versions, 1)],
                      decimals=None, code=code)
