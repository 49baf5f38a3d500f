"""The whistle (吹哨、报到、会商、落实、反馈、评价): a street calls named departments to one open
issue; each reports in and reports its part done; the caller records the consultation and
evaluates, which closes it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Response
from pydantic import Field

from api import deps
from api.deps import Id
from api.schemas import Strict
from geo.casework.errors import InvalidInput
from geo.casework.scope import Actor
from geo.i18n import _
from geo.store import Store
from geo.whistle import loop, rules
from geo.whistle.read import MAX_LIST, get_whistle, list_whistles

router = APIRouter(prefix="/api/v1", tags=["whistles"])

Text = Annotated[str, Field(max_length=rules.MAX_TEXT)]
DepartmentId = Annotated[str, Path(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9_.-]+$")]
DepartmentKey = Annotated[str, Field(min_length=1, max_length=60)]
IfMatch = Annotated[str | None, Header(
    alias="If-Match", max_length=100,
    description='the ETag of the whistle the step was decided on ("3", as GET /whistles/{id} '
                "sends it); a stale one is refused with 412 and nothing is written")]
REFUSALS = {403: {"description": "not your unit, or outside your jurisdiction"},
            404: {"description": "no such whistle that you may see, or a unit it did not call"},
            409: {"description": "the whistle is not at this step (closed, already done ...)"},
            412: {"description": "If-Match names an older version of the whistle"}}


class CallIn(Strict):
    department_ids: Annotated[list[DepartmentKey], Field(min_length=1,
                                                         max_length=rules.MAX_UNITS)]
    report_in_minutes: Annotated[int, Field(ge=1, le=rules.MAX_REPORT_IN_MINUTES)] = (
        rules.REPORT_IN_MINUTES)
    part_hours: Annotated[int, Field(ge=1, le=rules.MAX_PART_HOURS)] = rules.PART_HOURS
    reason: Text = ""


class NoteIn(Strict):
    note: Text = ""


class ConsultIn(Strict):
    plan: Annotated[str, Field(min_length=1, max_length=rules.MAX_TEXT)]
    tasks: Annotated[dict[DepartmentKey, Text], Field(max_length=rules.MAX_UNITS)] = {}


class DoneIn(Strict):
    feedback: Text = ""


class EvaluateIn(Strict):
    rating: Annotated[int, Field(ge=1, le=5)]
    unit_ratings: Annotated[dict[DepartmentKey, Annotated[int, Field(ge=1, le=5)]],
                            Field(min_length=1, max_length=rules.MAX_UNITS)]
    comment: Text = ""


def _etag(whistle: dict, response: Response) -> dict:
    response.headers["ETag"] = f'"{whistle["version"]}"'
    return whistle


def _version(if_match: str | None) -> int | None:
    """The version an If-Match names ("3"); `*` or none means any."""
    if if_match is None or if_match.strip() in ("", "*"):
        return None
    text = if_match.strip()
    digits = text[1:-1] if len(text) > 2 and text[0] == text[-1] == '"' else text
    if not digits.isdigit():
        raise InvalidInput(_("If-Match must be the whistle's ETag as GET /whistles/{{id}} sends "
                             'it (a quoted version such as "3"), not {value}').format(
                                 value=if_match[:40]), code="invalid_if_match")
    return int(digits)


@router.post("/issues/{issue_id}/whistle", status_code=201, responses={
    **REFUSALS, 422: {"description": "an unknown department, or one that does not serve the "
                                     "issue's street or district"}})
def blow(issue_id: Id, body: CallIn, response: Response,
         actor: Actor = deps.actor("whistles:call"), store: Store = Depends(deps.store),
         now: datetime = Depends(deps.now)) -> dict:
    """Blow the whistle (吹哨) on an open issue: call departments serving its street or its
    district, each to report in within `report_in_minutes` and to do its part within
    `part_hours`. One whistle may be open per issue (409 `whistle_open`)."""
    call = loop.Call(tuple(body.department_ids), body.report_in_minutes, body.part_hours,
                     body.reason)
    return _etag(loop.call(store, actor, issue_id, call, now), response)


@router.get("/whistles")
def whistles(state: Literal["open", "closed", "all"] = "open",
             limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 100,
             actor: Actor = deps.actor("issues:read"), store: Store = Depends(deps.store),
             now: datetime = Depends(deps.now)) -> dict:
    """Whistles of the issues you may see (a department: those that called it), newest
    first, each with its units' lights; `units_missed_report_in` counts the called units still
    not reported in past their deadline."""
    return list_whistles(store, actor, state, now, limit)


@router.get("/whistles/{whistle_id}", responses={404: REFUSALS[404]})
def whistle(whistle_id: Id, response: Response, actor: Actor = deps.actor("issues:read"),
            store: Store = Depends(deps.store), now: datetime = Depends(deps.now)) -> dict:
    """One whistle, its units and its audit trail; its version as ETag."""
    return _etag(get_whistle(store, actor, whistle_id, now), response)


@router.post("/whistles/{whistle_id}/units/{department_id}/report-in", responses=REFUSALS)
def report_in(whistle_id: Id, department_id: DepartmentId, response: Response,
              body: NoteIn | None = None, actor: Actor = deps.actor("whistles:work"),
              store: Store = Depends(deps.store), now: datetime = Depends(deps.now)) -> dict:
    """A called unit reports in (报到); after its deadline the report-in is recorded as late."""
    note = body.note if body else ""
    return _etag(loop.report_in(store, actor, whistle_id, department_id, now, note), response)


@router.post("/whistles/{whistle_id}/consult", responses=REFUSALS)
def consult(whistle_id: Id, body: ConsultIn, response: Response, if_match: IfMatch = None,
            actor: Actor = deps.actor("whistles:call"), store: Store = Depends(deps.store),
            now: datetime = Depends(deps.now)) -> dict:
    """Record the consultation (会商): the plan and each unit's task."""
    return _etag(loop.consult(store, actor, whistle_id, body.plan, dict(body.tasks), now,
                              _version(if_match)), response)


@router.post("/whistles/{whistle_id}/units/{department_id}/done", responses=REFUSALS)
def done(whistle_id: Id, department_id: DepartmentId, response: Response,
         body: DoneIn | None = None, actor: Actor = deps.actor("whistles:work"),
         store: Store = Depends(deps.store), now: datetime = Depends(deps.now)) -> dict:
    """A unit reports its part done (落实) with its feedback (反馈)."""
    feedback = body.feedback if body else ""
    return _etag(loop.done(store, actor, whistle_id, department_id, feedback, now), response)


@router.post("/whistles/{whistle_id}/evaluate", responses=REFUSALS)
def evaluate(whistle_id: Id, body: EvaluateIn, response: Response, if_match: IfMatch = None,
             actor: Actor = deps.actor("whistles:call"), store: Store = Depends(deps.store),
             now: datetime = Depends(deps.now)) -> dict:
    """Evaluate (评价) each unit and the whole (1-5) once every part is done: the whistle
    closes."""
    e = loop.Evaluation(body.rating, dict(body.unit_ratings), body.comment)
    return _etag(loop.evaluate(store, actor, whistle_id, e, now, _version(if_match)), response)
