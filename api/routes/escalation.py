"""Escalation (升级/上报): an issue's owning level, the suggestion a red step makes, the move
up, and the issues solved at each level (小事不出楼栋、大事不出社区)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Response
from pydantic import BaseModel, Field

from api import deps, schemas
from api.deps import Id, Timestamp
from geo.casework.errors import Forbidden, InvalidInput
from geo.casework.scope import Actor
from geo.escalation.escalate import escalate
from geo.escalation.status import escalation_status
from geo.i18n import _
from geo.indicators.levels import solved_by_level
from geo.store import Store

router = APIRouter(prefix="/api/v1", tags=["escalation"])
DEFAULT_PERIOD = timedelta(days=30)
IfMatch = Annotated[str | None, Header(
    alias="If-Match", max_length=100,
    description='the ETag of the issue the escalation was decided on ("7"); a stale one is '
                "refused with 412 and nothing is written")]


class EscalateIn(schemas.Strict):
    reason: schemas.Reason = Field(description="why this level cannot solve it (required)")
    to_level: Annotated[str, Field(max_length=20)] | None = Field(
        None, description="building, community, street, district or city; the next level up "
                          "when absent")


class Move(BaseModel):
    at: datetime
    actor: str
    reason: str
    from_level: str | None
    from_level_name: str | None
    to_level: str | None
    to_level_name: str | None
    suggested: bool


class Escalation(BaseModel):
    issue_id: int
    state: str
    version: int
    level: str
    level_name: str
    default_level: str
    default_level_name: str
    suggested_level: str | None
    suggested_level_name: str | None
    why: str
    escalations: list[Move]


def _version(if_match: str | None) -> int | None:
    """The version an If-Match names (a quoted version, as GET /issues/{id} sends it)."""
    if if_match is None or if_match.strip() in ("", "*"):
        return None
    text = if_match.strip()
    digits = text[1:-1] if len(text) > 2 and text[0] == text[-1] == '"' else text
    if not digits.isdigit():
        raise InvalidInput(_("If-Match must be the issue's ETag as GET /issues/{{id}} sends it "
                             '(a quoted version such as "7"), not {value}').format(
                                 value=if_match[:40]), code="invalid_if_match")
    return int(digits)


def _staff(actor: Actor) -> None:
    if actor.role == "citizen":
        raise Forbidden(_("owning levels are for staff; your report's state is on the issue"))


@router.post("/issues/{issue_id}/escalate", response_model=Escalation,
             responses={409: {"description": "finished case, already at the city, or a level "
                                             "that is not higher"},
                        412: {"description": "If-Match names an older version"}})
def post_escalate(issue_id: Id, body: EscalateIn, response: Response, if_match: IfMatch = None,
                  actor: Actor = deps.actor("issues:escalate"),
                  store: Store = Depends(deps.store), now: datetime = Depends(deps.now)):
    """Escalate the issue's owning level (to the next level by default), with a reason; the
    audit trail gets an `escalate` entry with the levels."""
    out = escalate(store, actor, issue_id, body.reason, now, body.to_level,
                   _version(if_match))
    response.headers["ETag"] = f'"{out["version"]}"'
    return out


@router.get("/issues/{issue_id}/escalation", response_model=Escalation,
            responses={404: {"description": "no such issue that you can see"}})
def get_escalation(issue_id: Id, response: Response, actor: Actor = deps.actor("issues:read"),
                   store: Store = Depends(deps.store), now: datetime = Depends(deps.now)):
    """The level owning the issue, where it started, whether a step gone red at that level
    suggests the next one (and why), and its escalations so far."""
    _staff(actor)
    out = escalation_status(store, actor, issue_id, now)
    response.headers["ETag"] = f'"{out["version"]}"'
    return out


@router.get("/escalation/levels", response_model=schemas.SolvedByLevel)
def levels(since: Timestamp | None = None, until: Timestamp | None = None,
           actor: Actor = deps.actor("issues:read"), store: Store = Depends(deps.store),
           now: datetime = Depends(deps.now)):
    """Issues closed in [since, until) (the last 30 days by default) that you may see, per
    level that owned them when they were closed."""
    _staff(actor)
    until = until or now
    return solved_by_level(store, actor, since or until - DEFAULT_PERIOD, until)
