"""Alarms from key sites and cameras: devices raise them, each becomes an issue (or counts on
the open one of its source and kind); operators list them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import Field

from api import deps
from api.errors import Refusal
from api.schemas import Crs, Finite, Strict
from geo.alarms.listing import MAX_ALARMS, list_alarms
from geo.alarms.raising import Alarm, raise_alarm
from geo.alarms.throttle import TooManyAlarms
from geo.casework.idempotency import IdempotencyKey, plain, replay
from geo.casework.scope import Actor
from geo.model import Policy
from geo.store import Store
from geo.store.sql import Conflict

router = APIRouter(prefix="/api/v1/alarms", tags=["alarms"])
SourceId = Annotated[str, Field(min_length=1, max_length=100)]


class AlarmIn(Strict):
    site_id: SourceId | None = None
    camera_id: SourceId | None = None
    kind: Annotated[str, Field(min_length=1, max_length=60)]
    observed_at: datetime = Field(strict=False, description="when the device saw it (ISO 8601 "
                                                            "with a time zone)")
    confidence: Finite | None = None
    note: Annotated[str, Field(max_length=500)] = ""
    lon: Finite | None = Field(None, description="a camera's observed point, in the given crs")
    lat: Finite | None = None
    crs: Crs = "wgs84"


IdemHeader = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255,
                                          description="retry-safe: same key, same alarm → the "
                                                      "first response, verbatim (in the first "
                                                      "request's language)")]


@router.post("", status_code=201, responses={
    200: {"description": "attached to the open issue of the same source and kind"},
    403: {"description": "not a device, or the source is outside its jurisdiction"},
    422: {"description": "unknown source or kind, a kind the source cannot raise, a time in "
                         "the future"},
    429: {"description": "the device or the source raised too many alarms within a minute: "
                         "wait for Retry-After seconds"}})
def post_alarm(body: AlarmIn, request: Request, idempotency_key: IdemHeader = None,
               actor: Actor = deps.actor("alarms:raise"), store: Store = Depends(deps.store),
               now: datetime = Depends(deps.now),
               policy: Policy = Depends(deps.ranking_policy)) -> JSONResponse:
    """Raise an alarm from a key site (`site_id`) or a camera (`camera_id`). A new one files an
    issue at its source (201); while that issue is open, alarms of the same source and kind
    attach to it and count (200, with the same issue)."""
    idem = IdempotencyKey.of(actor.username, idempotency_key, request.method, request.url.path,
                             body.model_dump(mode="json"))
    stored = replay(store, idem)
    if stored is not None:
        return JSONResponse(stored[1], stored[0], headers={"Idempotent-Replayed": "true"})
    alarm = Alarm(body.kind, body.observed_at, body.site_id, body.camera_id, body.confidence,
                  body.note, body.lon, body.lat, body.crs)
    try:
        status, answer = raise_alarm(store, actor, alarm, now, idem, policy)
    except TooManyAlarms as exc:
        raise Refusal(429, str(exc), exc.code, {"Retry-After": str(exc.retry_after_s)}) from None
    except Conflict:  # a twin with the same key committed first
        stored = replay(store, idem)
        if stored is None:
            raise
        return JSONResponse(stored[1], stored[0], headers={"Idempotent-Replayed": "true"})
    return JSONResponse(plain(answer), status)


@router.get("")
def get_alarms(status: Literal["open", "all"] = "open",
               limit: Annotated[int, Query(ge=1, le=MAX_ALARMS)] = 500,
               actor: Actor = deps.actor("issues:read"),
               store: Store = Depends(deps.store)) -> dict:
    """Alarms whose issue you may see, the latest raised first (at most `limit`; `returned`
    says how many came); `open`: those whose issue is not yet accepted (they flash on the live
    map)."""
    items = list_alarms(store, actor, status, limit)
    return {"items": items, "returned": len(items), "status": status}
