"""What is at a point: its grid and areas with the people responsible, the cameras that can
see it and the open issues nearby (the live map's click)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api import deps
from api.schemas import Crs
from geo.casework.scope import Actor
from geo.places.lookup import DEFAULT_LIMIT, DEFAULT_RADIUS_M, MAX_LIMIT, MAX_RADIUS_M, place_at
from geo.store import Store

router = APIRouter(prefix="/api/v1/places", tags=["places"])
Coordinate = Annotated[float, Query(allow_inf_nan=False, description="in the given crs")]


@router.get("", responses={422: {"description": "bad coordinates, or outside the area where "
                                                 "distances in metres hold"}})
def place(lon: Coordinate, lat: Coordinate, crs: Crs = "wgs84",
          radius_m: Annotated[float, Query(gt=0, le=MAX_RADIUS_M)] = DEFAULT_RADIUS_M,
          limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
          actor: Actor = deps.actor("layers:read"), phones: bool = Depends(deps.phones),
          store: Store = Depends(deps.store), now: datetime = Depends(deps.now)) -> dict:
    """The grid, community, street and district at the point (grid null and a `message` when
    it lies outside every grid), their responsible people (四级包保), staff and teams, the
    compound and building below the grid with their heads (三长; phones with scope
    people:read), the cameras that can see it (each with its view `sector` as GeoJSON) and
    the open issues you may see within `radius_m`, nearest first."""
    return place_at(store, actor, lon, lat, now, crs, radius_m, limit, phones)
