"""Teams (positions and status from their devices) and the normal/emergency switch."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends

from api import deps, schemas
from geo.casework.dispatch import get_mode, set_mode, update_team
from geo.casework.scope import AREA_ROLES, Actor
from geo.store import Store
from geo.store.sql import Tx, as_dt

router = APIRouter(prefix="/api/v1", tags=["teams"])


def visible_teams(tx: Tx, actor: Actor, where: str = "1 = 1", params: dict | None = None
                  ) -> list[dict]:
    """Teams the actor may see: those serving a street of their jurisdiction; a team member
    sees their own team; admins see all."""
    d = tx.dialect
    params = dict(params or {})
    if actor.role == "team":
        cond = "t.id = :own"
        params["own"] = actor.team_id or ""
    elif actor.role in AREA_ROLES:
        streets = [c for c in actor.jurisdiction if len(c) == 9]
        districts = [c for c in actor.jurisdiction if len(c) == 6]
        cond = d.list_in_areas("t.jurisdiction", "streets", "districts")
        params.update(streets=streets, districts=districts)
    elif actor.role == "admin":
        cond = "1 = 1"
    else:
        cond = "1 = 0"
    rows = tx.rows(f"SELECT t.id, t.name, t.kind, t.status, t.roster, t.position_at, "
                   f"{d.team_point('t')} FROM team t WHERE {cond} AND {where} ORDER BY t.id",
                   params)
    return [{**r, "position_at": as_dt(r["position_at"])} for r in rows]


@router.get("/teams", response_model=list[schemas.TeamOut])
def list_teams(actor: Actor = deps.actor("layers:read"), store: Store = Depends(deps.store)):
    with store.snapshot() as tx:
        return visible_teams(tx, actor)


@router.patch("/teams/{team_id}", response_model=schemas.TeamOut)
def patch_team(team_id: str, body: schemas.TeamUpdateIn,
               actor: Actor = deps.actor("teams:update"), store: Store = Depends(deps.store),
               now: datetime = Depends(deps.now)):
    """A team's device reports where it is and whether it is available. The time stamp is
    the server's."""
    return update_team(store, actor, team_id, now, body.lon, body.lat, body.crs, body.status)


@router.get("/mode", response_model=schemas.ModeOut)
def read_mode(actor: Actor = deps.actor("issues:read"), store: Store = Depends(deps.store)):
    """Normal or emergency mode (平急结合): in an emergency the B roster is dispatched too."""
    return get_mode(store)


@router.put("/mode", response_model=schemas.ModeOut)
def write_mode(body: schemas.ModeIn, actor: Actor = deps.actor("mode:write"),
               store: Store = Depends(deps.store), now: datetime = Depends(deps.now)):
    return set_mode(store, actor, body.mode, body.reason, now)
