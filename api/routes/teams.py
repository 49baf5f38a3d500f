"""Teams (positions and status from their devices) and the normal/emergency switch."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends

from api import deps, schemas
from geo.casework.dispatch import get_mode, list_teams, set_mode, update_team
from geo.casework.scope import Actor
from geo.store import Store

router = APIRouter(prefix="/api/v1", tags=["teams"])


@router.get("/teams", response_model=list[schemas.TeamOut])
def teams(actor: Actor = deps.actor("layers:read"), store: Store = Depends(deps.store)):
    return list_teams(store, actor)


@router.patch("/teams/{team_id}", response_model=schemas.TeamOut)
def patch_team(team_id: str, body: schemas.TeamUpdateIn,
               actor: Actor = deps.actor("teams:update"), store: Store = Depends(deps.store),
               now: datetime = Depends(deps.now)):
    """A team's device reports where it is and whether it is available. The time stamp is
    the server's."""
    return update_team(store, actor, team_id, now, body.lon, body.lat, body.crs, body.status)


@router.get("/mode", response_model=schemas.ModeOut)
def mode(actor: Actor = deps.actor("issues:read"), store: Store = Depends(deps.store)):
    """Normal or emergency mode (平急结合): in an emergency the B roster is dispatched too."""
    return get_mode(store)


@router.put("/mode", response_model=schemas.ModeOut,
            responses={404: {"description": "no such district or street"}})
def switch_mode(body: schemas.ModeIn, actor: Actor = deps.actor("mode:write"),
               store: Store = Depends(deps.store), now: datetime = Depends(deps.now)):
    """Switch the whole city, or with `area` one district or street of your jurisdiction,
    between normal and emergency mode: a street is in emergency when the city, its district
    or itself is, and then its issues' candidates include the B roster."""
    return set_mode(store, actor, body.mode, body.reason, now, body.area)
