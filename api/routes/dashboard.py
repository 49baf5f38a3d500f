"""The command centre's big screen (大屏): every figure of `/maps/dashboard` in one answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, PlainSerializer

from api import deps
from api.schemas import SolvedByLevel
from geo.casework.scope import Actor
from geo.i18n import local
from geo.indicators.dashboard import assemble
from geo.store import Store

router = APIRouter(prefix="/api/v1", tags=["dashboard"])

# Times as the command centre reads them: ISO 8601 in Asia/Shanghai, with the offset.
Time = Annotated[datetime, PlainSerializer(lambda t: local(t).isoformat(), return_type=str)]


class Mode(BaseModel):
    mode: str
    changed_by: str | None
    changed_at: Time | None
    reason: str | None


class Viewer(BaseModel):
    username: str
    role: str
    jurisdiction: list[str]


class Today(BaseModel):
    since: Time
    reported: int
    accepted: int
    dispatched: int
    closed: int


class Lights(BaseModel):
    open: int
    green: int
    yellow: int
    red: int


class OverdueIssue(BaseModel):
    id: int
    category_code: str
    category_name: str
    state: str
    step: str
    due_at: Time
    overdue_seconds: int
    grid_code: str | None
    grid_name: str | None
    street_code: str | None
    street_name: str | None


class Overdue(BaseModel):
    total: int
    items: list[OverdueIssue]


class Indicators(BaseModel):
    since: Time
    reported: int
    filed: int
    closed: int
    closed_on_time: int
    reworked: int
    rated: int
    satisfied: int
    closure_rate: float | None
    on_time_rate: float | None
    rework_rate: float | None
    satisfaction: float | None


class Windows(BaseModel):
    today: Indicators
    d7: Indicators
    d30: Indicators


class Network(BaseModel):
    network: str
    reported: int
    open: int


class CategoryCount(BaseModel):
    category_code: str
    network: str
    reported: int
    open: int


class Area(BaseModel):
    code: str
    name: str | None
    open: int
    overdue: int
    closed: int
    closed_on_time: int
    on_time_rate: float | None


class Ranking(BaseModel):
    level: str
    areas: list[Area]


class Day(BaseModel):
    day: str
    reported: int
    closed: int


class Teams(BaseModel):
    total: int
    by_status: dict[str, int]
    by_roster: dict[str, int]


class CategoryName(BaseModel):
    code: str
    network: str
    name_zh: str
    name_en: str


class Dashboard(BaseModel):
    now: Time
    viewer: Viewer
    mode: Mode
    today: Today
    lights: Lights
    overdue: Overdue
    indicators: Windows
    breakdown_since: Time
    networks: list[Network]
    top_categories: list[CategoryCount]
    ranking: Ranking
    trend: list[Day]
    solved_by_level: SolvedByLevel
    teams: Teams
    categories: list[CategoryName]
    network_names: dict[str, str]


@router.get("/dashboard", response_model=Dashboard)
def dashboard(actor: Actor = deps.actor("issues:read"), store: Store = Depends(deps.store),
              now: datetime = Depends(deps.now)):
    """The big screen's figures for your jurisdiction (operators, dispatchers, supervisors and
    administrators): today's flow, lights and the overdue list, the national indicators
    (today, 7 and 30 days), the four networks, top categories, the ranking of areas, 30 days
    of reports and closures, the last 30 days' cases solved at each owning level (building,
    community, street, district, city), teams by status, and the mode. Days are
    Asia/Shanghai days."""
    return assemble(store, actor, now)
