"""Issues: intake (step 1), the transitions of steps 2-6, reading, audit, photos, summaries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from api import deps, schemas
from api.deps import Bbox, Category, Code, Id, Limit, Network, Offset, State, issue_query
from geo.casework import photos, read
from geo.casework.dispatch import candidates
from geo.casework.errors import Forbidden, InvalidInput
from geo.casework.idempotency import IdempotencyKey, plain, replay
from geo.casework.intake import Report, report
from geo.casework.nearby import merge_candidates
from geo.casework.scope import Actor
from geo.casework.transitions import Move, apply
from geo.i18n import _
from geo.model import Policy
from geo.store import Store
from geo.store.base import utc
from geo.store.sql import Conflict

router = APIRouter(prefix="/api/v1", tags=["issues"])

IdemHeader = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255,
                                          description="retry-safe creation: same key, same "
                                                      "request → the first response, verbatim "
                                                      "(in the first request's language)")]


IfMatch = Annotated[str | None, Header(
    alias="If-Match", max_length=100,
    description='the ETag of the issue the action was decided on ("7", as GET /issues/{id} '
                "sends it); a stale one is refused with 412 and nothing is written")]
ETAG = {"ETag": {"description": 'the issue\'s version, "7": send it back as If-Match',
                 "schema": {"type": "string"}}}


def etag(issue: dict) -> dict:
    """The ETag header of an issue as its reader sees it (citizens see no version)."""
    return {"ETag": f'"{issue["version"]}"'} if issue.get("version") is not None else {}


def expected_version(if_match: str | None) -> int | None:
    """The version an If-Match names: one strong ETag as `etag` writes it; `*` or none
    means any."""
    if if_match is None or if_match.strip() in ("", "*"):
        return None
    text = if_match.strip()
    digits = text[1:-1] if len(text) > 2 and text[0] == text[-1] == '"' else text
    if not digits.isdigit():
        raise InvalidInput(_("If-Match must be the issue's ETag as GET /issues/{{id}} sends it "
                             '(a quoted version such as "7"), not {value}').format(
                                 value=if_match[:40]), code="invalid_if_match")
    return int(digits)


def created(body: dict, status: int = 201, replayed: bool = False) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return JSONResponse(body, status_code=status, headers=headers)


def idempotent(store: Store, actor: Actor, key: str | None, request: Request, payload, make):
    """Run `make(idem)` once per (user, key); replay the stored answer to retries."""
    idem = IdempotencyKey.of(actor.username, key, request.method, request.url.path, payload)
    stored = replay(store, idem)
    if stored is not None:
        return created(stored[1], stored[0], replayed=True)
    try:
        return created(make(idem))
    except Conflict:
        # A concurrent twin with the same key committed first: answer as it did.
        stored = replay(store, idem)
        if stored is None:
            raise
        return created(stored[1], stored[0], replayed=True)


@router.post("/issues", status_code=201, response_model=schemas.ReportOut,
             responses={422: {"description": "unknown category, bad or outside coordinates"},
                        403: {"description": "the point is outside your jurisdiction"}})
def post_issue(body: schemas.ReportIn, request: Request, idempotency_key: IdemHeader = None,
               actor: Actor = deps.actor("issues:report"), store: Store = Depends(deps.store),
               now: datetime = Depends(deps.now), policy: Policy = Depends(deps.ranking_policy)):
    """Step 1 (基层报单): file a report. The answer says where it is (grid → district), the
    available teams that handle it and would arrive first by road, and open reports nearby
    that may be the same."""
    r = Report(body.category_code, body.description, body.lon, body.lat, body.crs, body.address)
    return idempotent(store, actor, idempotency_key, request, body.model_dump(),
                      lambda idem: plain(report(store, actor, r, now, idem, policy=policy)))


@router.get("/issues", response_model=schemas.IssuePage)
def list_issues(state: State = None, category: Category = None, grid: Code = None,
                street: Code = None, since: deps.Timestamp | None = None,
                until: deps.Timestamp | None = None,
                bbox: Bbox = None, open_only: bool = False, limit: Limit = 100,
                offset: Offset = 0, network: Network = None,
                actor: Actor = deps.actor("issues:read"),
                store: Store = Depends(deps.store), now: datetime = Depends(deps.now)):
    """Issues you may see (your jurisdiction; citizens: their own reports), newest first."""
    q = issue_query(state, category, grid, street, since, until, bbox, limit, offset, open_only,
                    networks=network)
    items, total = read.list_issues(store, actor, q, now)
    return {"items": items, "total": total, "limit": limit, "offset": offset}


@router.get("/issues/overdue", response_model=schemas.IssuePage)
def overdue(category: Category = None, street: Code = None, limit: Limit = 100,
            offset: Offset = 0, network: Network = None,
            actor: Actor = deps.actor("issues:supervise"),
            store: Store = Depends(deps.store), now: datetime = Depends(deps.now)):
    """Step 5 (市委督单): open issues past their step's deadline, most overdue first (亮灯督办)."""
    q = issue_query(None, category, None, street, None, None, None, limit, offset, overdue_at=now,
                    networks=network)
    items, total = read.list_issues(store, actor, q, now)
    return {"items": items, "total": total, "limit": limit, "offset": offset}


@router.get("/issues/{issue_id}", response_model=schemas.IssueOut,
            responses={200: {"headers": ETAG, "description": "the issue, its version as ETag"}})
def get_issue(issue_id: Id, response: Response, actor: Actor = deps.actor("issues:read"),
              store: Store = Depends(deps.store), now: datetime = Depends(deps.now)):
    issue = read.get_issue(store, actor, issue_id, now)
    response.headers.update(etag(issue))
    return issue


@router.get("/issues/{issue_id}/events", response_model=list[schemas.Event])
def issue_events(issue_id: Id, actor: Actor = deps.actor("issues:read"),
                 store: Store = Depends(deps.store)):
    """The audit trail: who did what, when, from which state, and why."""
    if actor.role == "citizen":
        raise Forbidden(_("the audit trail is for staff; your report's state is on the issue"))
    return read.events(store, actor, issue_id)


@router.get("/issues/{issue_id}/candidates", response_model=schemas.Candidates)
def issue_candidates(issue_id: Id, k: Annotated[int, Query(ge=1, le=50)] = 5,
                     by: Literal["eta", "distance"] = "eta",
                     actor: Actor = deps.actor("issues:dispatch"),
                     store: Store = Depends(deps.store), now: datetime = Depends(deps.now),
                     policy: Policy = Depends(deps.ranking_policy)):
    """Teams to dispatch (kind and category handled, available, with the issue's street in
    their jurisdiction, on a roster serving in the current mode): the quickest to arrive by
    road first, with their workload (`by=eta`), or the nearest in a straight line."""
    return candidates(store, actor, issue_id, now, k, by=by, policy=policy)


@router.get("/issues/{issue_id}/nearby", response_model=list[schemas.Duplicate])
def issue_nearby(issue_id: Id, actor: Actor = deps.actor("issues:triage"),
                 store: Store = Depends(deps.store)):
    """Open issues of the same category within its duplicate radius: merge candidates."""
    return merge_candidates(store, actor, issue_id)


def _transition(action: str, scope: str, body_model, summary: str):
    def endpoint(issue_id: Id, body, response: Response, if_match: IfMatch = None,
                 actor: Actor = deps.actor(scope), store: Store = Depends(deps.store),
                 now: datetime = Depends(deps.now)):
        data = body.model_dump()
        move = Move(action, reason=data.get("reason", "") or data.get("comment", ""),
                    team_ids=tuple(data.get("team_ids") or ()),
                    duplicate_of=data.get("duplicate_of"), passed=data.get("passed"),
                    rating=data.get("rating"), team_id=data.get("team_id"),
                    expected_version=expected_version(if_match))
        issue = apply(store, actor, issue_id, move, now)
        response.headers.update(etag(issue))
        return issue

    endpoint.__annotations__["body"] = body_model  # one route per action, each with its model
    router.add_api_route(
        f"/issues/{{issue_id}}/{action}", endpoint, methods=["POST"],
        response_model=schemas.IssueOut, summary=summary, name=f"issue_{action}",
        responses={200: {"headers": ETAG, "description": "the issue afterwards, its new ETag"},
                   409: {"description": "not allowed in the issue's state; lists allowed actions"},
                   412: {"description": "If-Match names an older version: the issue changed "
                                        "since it was loaded (the detail says how); nothing "
                                        "was written"},
                   403: {"description": "your role may not take this action"}})


for _action, _scope, _model, _summary in (
    ("accept", "issues:triage", schemas.ReasonIn, "Step 2: accept a report (平台接单)"),
    ("reject", "issues:triage", schemas.ReasonIn, "Step 2: reject a report (reason required)"),
    ("merge", "issues:triage", schemas.MergeIn, "Step 2: merge into an open duplicate"),
    ("dispatch", "issues:dispatch", schemas.DispatchIn,
     "Step 3: dispatch one team or a joint operation (指挥中心派单)"),
    ("reassign", "issues:dispatch", schemas.DispatchIn, "Replace the assigned teams"),
    ("claim", "issues:work", schemas.TeamActIn, "Step 4: a team claims the work (部门领单)"),
    ("return", "issues:work", schemas.TeamActIn, "Send back to dispatch: wrong team"),
    ("resolve", "issues:work", schemas.TeamActIn, "The team reports the work done"),
    ("check", "issues:supervise", schemas.CheckIn, "Step 5: pass, or send back for rework"),
    ("rate", "issues:rate", schemas.RateIn, "Step 6: rate the result; closes the case (群众评单)"),
    ("close", "issues:supervise", schemas.ReasonIn, "Close without a rating (reason required)"),
):
    _transition(_action, _scope, _model, _summary)


@router.post("/issues/{issue_id}/photos", status_code=201, response_model=schemas.Photo,
             responses={409: {"description": "the issue is closed: no more photos"}})
def add_photo(issue_id: Id, file: UploadFile, request: Request,
              idempotency_key: IdemHeader = None,
              actor: Actor = deps.actor("issues:read"),
              store: Store = Depends(deps.store), now: datetime = Depends(deps.now)):
    """Attach a photo (multipart upload; never a URL to fetch)."""
    # The body limit (api.limits) has bounded the upload already; it is read here, in the
    # thread pool, from the spooled file, like the database work that follows.
    photo = photos.Photo.of(file.file.read())
    return idempotent(store, actor, idempotency_key, request, {"sha256": photo.sha256},
                      lambda idem: photos.attach(store, actor, issue_id, photo, now, idem))


@router.get("/issues/{issue_id}/photos", response_model=list[schemas.Photo])
def list_photos(issue_id: Id, actor: Actor = deps.actor("issues:read"),
                store: Store = Depends(deps.store)):
    return photos.list_photos(store, actor, issue_id)


@router.get("/issues/{issue_id}/photos/{photo_id}", response_class=Response,
            responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}})
def get_photo(issue_id: Id, photo_id: Id, actor: Actor = deps.actor("issues:read"),
              store: Store = Depends(deps.store)):
    media, data = photos.get_photo(store, actor, issue_id, photo_id)
    return Response(data, media_type=media,
                    headers={"X-Content-Type-Options": "nosniff",
                             "Cache-Control": "private, max-age=3600"})


@router.get("/stats", response_model=list[schemas.AreaSummary])
def stats(level: Annotated[str, Query(pattern="^(grid|community|street|district)$")] = "street",
          since: deps.Timestamp | None = None, category: Category = None,
          network: Network = None, actor: Actor = deps.actor("issues:read"),
          store: Store = Depends(deps.store), now: datetime = Depends(deps.now)):
    """Per area: open, overdue, closed, closed on time, on-time and rework rates, mean rating;
    of the given categories and networks (all issues when none are given)."""
    return read.summary(store, actor, level, now, utc(since), tuple(category or ()),
                        tuple(network or ()))
