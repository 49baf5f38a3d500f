"""Four-level responsibility (四级包保): the named people of a place's district, street,
community and grid. Phones only for callers holding `people:read`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from api import deps
from geo.casework.scope import Actor
from geo.responsibility.chain import responsibility_for
from geo.store import Store

router = APIRouter(prefix="/api/v1", tags=["responsibility"])
AreaCode = Annotated[str | None, Query(pattern=r"^([0-9]{6}|[0-9]{9}|[0-9]{12}|[0-9]{15})$",
                                       description="a district, street, community or grid code")]
Lon = Annotated[float | None, Query(ge=-180, le=180, description="longitude (WGS84)")]
Lat = Annotated[float | None, Query(ge=-90, le=90, description="latitude (WGS84)")]


class Person(BaseModel):
    name: str
    title: str
    since: str
    phone: str | None = None


class Level(BaseModel):
    level: str
    level_name: str
    area_code: str
    area_name: str
    people: list[Person]


class Chain(BaseModel):
    code: str
    phones: bool
    levels: list[Level]


@router.get("/responsibility", response_model=Chain, response_model_exclude_none=True,
            responses={404: {"description": "no such area, or the point lies outside the grids"}})
def responsibility(code: AreaCode = None, lon: Lon = None, lat: Lat = None,
                   actor: Actor = deps.actor("layers:read"), phones: bool = Depends(deps.phones),
                   store: Store = Depends(deps.store)):
    """The responsible people from the district down to the area (or to the grid covering the
    point): 区级包保领导, 街道包保干部, 社区书记, 网格长; phones with scope people:read."""
    return responsibility_for(store, code, lon, lat, phones)
