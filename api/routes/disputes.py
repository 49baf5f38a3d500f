"""Disputes (矛盾纠纷) and their mediation: register, sessions, outcome, follow-up visit, the
risk flag (民转刑) with its notice to the police station, resolution rates, and the notices a
department receives. Parties' personal data only with `disputes:parties`, for disputes in the
reader's jurisdiction; everyone else reads them masked."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from api import deps
from api.deps import Id, Offset
from api.schemas import MAX_ID, Reason, Strict
from geo.casework.scope import Actor
from geo.mediation import actions, rates, reading
from geo.mediation.workflow import (
    PARTY_ROLES,
    REFERRED_TO,
    SESSION_RESULTS,
    STATES,
    TYPES,
)
from geo.store import Store
from geo.store.base import utc

router = APIRouter(prefix="/api/v1/disputes", tags=["disputes"])

Text = Annotated[str, Field(max_length=2000)]
AreaCode = Annotated[str, Field(pattern=r"^[0-9]{12}$")]
Moment = Annotated[datetime, Field(strict=False, description="ISO 8601 with a time zone")]
PARTIES = "disputes:parties"


class PartyIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=50)]
    role: Literal[PARTY_ROLES] = "applicant"  # type: ignore[valid-type]
    phone: Annotated[str, Field(max_length=20)] = ""
    id_number: Annotated[str, Field(max_length=18)] | None = None


class DisputeIn(Strict):
    type: Literal[TYPES]  # type: ignore[valid-type]
    summary: Annotated[str, Field(min_length=1, max_length=2000)]
    found_at: Moment
    found_by: Annotated[str, Field(min_length=1, max_length=64)]
    parties: Annotated[list[PartyIn], Field(min_length=1, max_length=actions.MAX_PARTIES)]
    community_code: AreaCode | None = None
    compound_code: Annotated[str, Field(max_length=40)] | None = None
    issue_id: Annotated[int, Field(ge=1, le=MAX_ID)] | None = None


class SessionIn(Strict):
    at: Moment
    mediators: Annotated[list[Annotated[int, Field(ge=1, le=MAX_ID)]],
                         Field(min_length=1, max_length=actions.MAX_MEDIATORS)]
    result: Literal[SESSION_RESULTS]  # type: ignore[valid-type]
    notes: Text = ""


class OutcomeIn(Strict):
    outcome: Literal["resolve", "refer", "withdraw"]
    agreement: Text = ""
    referred_to: Literal[REFERRED_TO] | None = None  # type: ignore[valid-type]
    note: Text = ""


class FollowUpIn(Strict):
    at: Moment
    satisfied: bool
    notes: Text = ""


class RiskIn(Strict):
    reason: Annotated[Reason, Field(min_length=1)]


def _parties(request: Request) -> bool:
    """Whether the request's token holds the parties' scope (the jurisdiction is the query's)."""
    return PARTIES in request.state.session.scopes


# What an action on one dispute may answer besides success.
CASE_ANSWERS = {404: {"description": "no such dispute in your jurisdiction"},
                409: {"description": "the dispute's state does not allow this action"}}


@router.get("")
def get_disputes(request: Request,
                 state: Annotated[list[Literal[STATES]] | None, Query()] = None,  # type: ignore[valid-type]
                 type: Annotated[list[Literal[TYPES]] | None, Query()] = None,  # type: ignore[valid-type]  # noqa: A002
                 area: Annotated[str | None, Query(pattern=r"^([0-9]{6}|[0-9]{9}|[0-9]{12})$")] = None,
                 risk: bool | None = None, since: deps.Timestamp | None = None,
                 until: deps.Timestamp | None = None,
                 limit: Annotated[int, Query(ge=1, le=reading.MAX_PAGE)] = 100,
                 offset: Offset = 0, actor: Actor = deps.actor("disputes:read"),
                 store: Store = Depends(deps.store)) -> dict:
    """Disputes in your jurisdiction, the latest found first (no parties: see one dispute)."""
    q = reading.DisputeQuery(tuple(state or ()), tuple(type or ()), area, risk, utc(since),
                             utc(until), limit, offset)
    return reading.list_disputes(store, actor, q)


@router.post("", status_code=201, responses={
    403: {"description": "the community lies outside your jurisdiction"},
    409: {"description": "the issue already has its dispute"},
    422: {"description": "an unknown community or issue, a bad phone or id number ..."}})
def post_dispute(body: DisputeIn, request: Request, actor: Actor = deps.actor("disputes:work"),
                 store: Store = Depends(deps.store), now: datetime = Depends(deps.now)) -> dict:
    """Register a dispute found in a community of your jurisdiction, or from a dispute issue
    (S02) you may see (its community then comes from the issue)."""
    r = actions.Registration(
        body.type, body.summary, body.found_at, body.found_by,
        tuple(actions.Party(p.name, p.role, p.phone, p.id_number) for p in body.parties),
        body.community_code, body.compound_code, body.issue_id)
    return actions.register(store, actor, r, now, _parties(request))


@router.get("/rates")
def get_rates(level: Literal[tuple(rates.LEVELS)] = "community",  # type: ignore[valid-type]
              since: deps.Timestamp | None = None, until: deps.Timestamp | None = None,
              actor: Actor = deps.actor("disputes:read"), store: Store = Depends(deps.store),
              now: datetime = Depends(deps.now)) -> dict:
    """Resolution rates (化解率) per community, street or district of your jurisdiction:
    of the disputes found in [since, until) (default: the year to now), those resolved by
    agreement before `until`."""
    return rates.resolution_rates(store, actor, level, now, utc(since), utc(until))


@router.get("/notices")
def get_notices(request: Request, limit: Annotated[int, Query(ge=1, le=reading.MAX_PAGE)] = 100,
                actor: Actor = deps.actor("issues:read"),
                store: Store = Depends(deps.store)) -> dict:
    """Risk notices (民转刑): a department's account (a police station) reads those sent to it;
    staff who read disputes, those of the disputes of their jurisdiction."""
    items = reading.list_notices(store, actor, limit,
                                 "disputes:read" in request.state.session.scopes)
    return {"items": items, "returned": len(items)}


@router.get("/{dispute_id}", responses={404: CASE_ANSWERS[404]})
def get_dispute(dispute_id: Id, request: Request, actor: Actor = deps.actor("disputes:read"),
                store: Store = Depends(deps.store)) -> dict:
    """One dispute with its parties (whole for its mediators, else masked), sessions,
    follow-up visits, notices and audit trail; 404 outside your jurisdiction."""
    return reading.get_dispute(store, actor, dispute_id, _parties(request))


@router.post("/{dispute_id}/sessions", status_code=201, responses=CASE_ANSWERS)
def post_session(dispute_id: Id, body: SessionIn, request: Request,
                 actor: Actor = deps.actor("disputes:work"), store: Store = Depends(deps.store),
                 now: datetime = Depends(deps.now)) -> dict:
    """Record a mediation session (its mediators are squad members' ids)."""
    s = actions.Session(body.at, tuple(body.mediators), body.result, body.notes)
    return actions.record_session(store, actor, dispute_id, s, now, _parties(request))


@router.post("/{dispute_id}/outcome", responses=CASE_ANSWERS)
def post_outcome(dispute_id: Id, body: OutcomeIn, request: Request,
                 actor: Actor = deps.actor("disputes:work"), store: Store = Depends(deps.store),
                 now: datetime = Depends(deps.now)) -> dict:
    """Finish the dispute: `resolve` (with the agreement's terms, after a session that reached
    it), `refer` (to `referred_to`) or `withdraw` (with a `note` saying why)."""
    o = actions.Outcome(body.outcome, body.agreement, body.referred_to, body.note)
    return actions.record_outcome(store, actor, dispute_id, o, now, _parties(request))


@router.post("/{dispute_id}/follow-ups", status_code=201, responses=CASE_ANSWERS)
def post_follow_up(dispute_id: Id, body: FollowUpIn, request: Request,
                   actor: Actor = deps.actor("disputes:work"),
                   store: Store = Depends(deps.store),
                   now: datetime = Depends(deps.now)) -> dict:
    """Record a follow-up visit (回访) to a resolved dispute."""
    f = actions.FollowUp(body.at, body.satisfied, body.notes)
    return actions.record_follow_up(store, actor, dispute_id, f, now, _parties(request))


@router.post("/{dispute_id}/risk", responses=CASE_ANSWERS)
def post_risk(dispute_id: Id, body: RiskIn, request: Request,
              actor: Actor = deps.actor("disputes:work"), store: Store = Depends(deps.store),
              now: datetime = Depends(deps.now)) -> dict:
    """Flag a risk of the dispute turning criminal (民转刑): it goes up to the street, and the
    police station serving the street receives a notice (`notice`)."""
    return actions.flag_risk(store, actor, dispute_id, body.reason, now, _parties(request))
