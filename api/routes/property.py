"""Property companies (物业公司) on the red/black list (红黑榜): the ranking for a month or for
dates, one company's compounds and figures, the compounds on a map by standing, the monthly
bulletin as CSV, and talks (约谈) recorded."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field, PlainSerializer

from api import deps
from api.geojson import MEDIA_TYPE, collection
from api.schemas import Strict
from geo.casework.scope import Actor
from geo.i18n import local
from geo.property import bulletin, company, ranking, talks
from geo.property.period import Period, choose
from geo.store import Store

router = APIRouter(prefix="/api/v1/property", tags=["property"])

Time = Annotated[datetime, PlainSerializer(lambda t: local(t).isoformat(), return_type=str)]
CompanyId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$",
                                description="the company's id, e.g. PC001")]
PeriodText = Annotated[str | None, Query(max_length=7, description="a Shanghai calendar month, "
                                         "YYYY-MM (default: the last whole month)")]
DayText = Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD, included "
                                      "(with the other of since/until, instead of period)")]
NO_COMPANY = {404: {"description": "no such company that you may see"}}
BAD_PERIOD = {422: {"description": "a period that cannot be read: `detail` says how to write it"}}


def period_of(period: PeriodText = None, since: DayText = None, until: DayText = None,
              now: datetime = Depends(deps.now)) -> Period:
    return choose(period, since, until, now)


class Previous(BaseModel):
    rank: int | None
    score: float | None
    standing: str


class Line(BaseModel):
    company_id: str
    name: str
    compounds: int
    households: int
    complaints: int
    per_1000: float | None = Field(description="complaints per 1,000 households")
    closed: int
    closed_on_time: int
    on_time_rate: float | None
    reworked: int
    rework_rate: float | None
    rated: int
    rating: float | None = Field(description="citizens' mean rating, 1-5")
    score: float | None
    rank: int | None
    standing: str = Field(description="red, black, middle (on neither list) or unranked")
    talk_proposed: bool
    talk_reasons: list[str]
    previous: Previous
    rank_change: int | None = Field(description="places gained since the previous period")
    score_change: float | None


class RuleFigures(BaseModel):
    min_complaints: int
    list_share: float
    talk_score: float
    weights: dict[str, float]
    missing_share: float


class Ranking(BaseModel):
    period: str
    start: Time
    end: Time
    previous_period: str
    ranked: int = Field(description="companies ranked in the whole city")
    list_size: int = Field(description="companies on each of the red and the black list")
    rule: list[str]
    rule_figures: RuleFigures
    companies: list[Line]
    talk_proposals: list[str]


class Company(BaseModel):
    id: str
    name: str
    phone: str
    address: str


class CompoundLine(BaseModel):
    code: str
    name: str
    community_code: str
    community_name: str | None
    households: int
    company_id: str
    complaints: int
    closed: int
    closed_on_time: int
    reworked: int
    rated: int
    per_1000: float | None
    on_time_rate: float | None
    rework_rate: float | None
    rating: float | None


class Talk(BaseModel):
    id: int
    company_id: str
    at: Time
    recorded_by: str
    reason: str
    period: str


class CompanyPage(BaseModel):
    period: str
    start: Time
    end: Time
    previous_period: str
    company: Company
    figures: Line
    compound_list: list[CompoundLine]
    talks: list[Talk]


class TalkIn(Strict):
    reason: Annotated[str, Field(min_length=1, max_length=talks.MAX_REASON)]
    period: Annotated[str | None, Field(max_length=21, description="the list's period the "
                                        "talk is about: YYYY-MM or YYYY-MM-DD..YYYY-MM-DD "
                                        "(default: the last whole month)")] = None


@router.get("/ranking", response_model=Ranking, responses=BAD_PERIOD)
def get_ranking(period: Period = Depends(period_of),
                actor: Actor = deps.actor("property:read"), store: Store = Depends(deps.store)):
    """The red/black list for a month (`period=YYYY-MM`, default the last whole month) or for
    dates (`since`, `until`): each company you may see with its figures, score, rank,
    standing, proposed talk and the trend from the previous period; the rule in words."""
    return ranking.ranking(store, actor, period)


@router.get("/ranking.csv", responses={200: {"content": {"text/csv": {}},
                                             "description": "the bulletin, UTF-8 with BOM"},
                                       **BAD_PERIOD})
def get_ranking_csv(period: Period = Depends(period_of),
                    actor: Actor = deps.actor("property:read"),
                    store: Store = Depends(deps.store)) -> Response:
    """The monthly bulletin's table as CSV (UTF-8 with a byte-order mark, for Excel), headed
    in your language."""
    name, text = bulletin.csv_text(store, actor, period)
    return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})


@router.get("/compounds", responses={200: {"content": {MEDIA_TYPE: {}},
                                           "description": "a GeoJSON FeatureCollection"},
                                     **BAD_PERIOD})
def get_compounds(period: Period = Depends(period_of),
                  actor: Actor = deps.actor("property:read"),
                  store: Store = Depends(deps.store)) -> Response:
    """The compounds you may see, each with its company and the company's standing."""
    found = company.compound_map(store, actor, period)
    return collection([f["code"] for f in found], [f["geometry"] for f in found],
                      [f["properties"] for f in found])


@router.get("/companies/{company_id}", response_model=CompanyPage,
            responses={**NO_COMPANY, **BAD_PERIOD})
def get_company(company_id: CompanyId, period: Period = Depends(period_of),
                actor: Actor = deps.actor("property:read"), store: Store = Depends(deps.store)):
    """One company: its line on the list, its compounds (those you may see) with their
    figures, and its latest talks."""
    return company.company(store, actor, company_id, period)


@router.post("/companies/{company_id}/talks", status_code=201, response_model=Talk,
             responses={**NO_COMPANY, 403: {"description": "not a supervisor or administrator"},
                        **BAD_PERIOD})
def post_talk(company_id: CompanyId, body: TalkIn, actor: Actor = deps.actor("property:talk"),
              store: Store = Depends(deps.store), now: datetime = Depends(deps.now)):
    """Record a talk (约谈) with a company, with its reason and the period of the list."""
    return talks.record(store, actor, company_id, body.reason, body.period, now)

