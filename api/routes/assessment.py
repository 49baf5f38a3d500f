"""The monthly assessment (考核评价): per team, per department and per street and community,
ranked; the page /maps/assessment prints the same answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api import deps
from geo.assessment.monthly import MAX_ROWS, assessment
from geo.casework.scope import Actor
from geo.store import Store

router = APIRouter(prefix="/api/v1", tags=["assessment"])
Month = Annotated[str | None, Query(max_length=7, pattern=r"^\d{4}-\d{2}$",
                                    description="a month, 2026-11 (Asia/Shanghai); "
                                                "default: this month")]


@router.get("/assessment", responses={422: {"description": "not a month"}})
def get_assessment(month: Month = None,
                   limit: Annotated[int, Query(ge=1, le=MAX_ROWS)] = MAX_ROWS,
                   actor: Actor = deps.actor("assessment:read"),
                   store: Store = Depends(deps.store),
                   now: datetime = Depends(deps.now)) -> dict:
    """The month's figures of the teams, departments, streets and communities of your
    jurisdiction, each kind ranked by its rule (`rules`): on-time closure and report-in,
    rework, ratings, escalations received, whistles. At most `limit` rows per kind (`total`
    says how many there are)."""
    return assessment(store, actor, month, now, limit)
