"""Request and response bodies. Requests forbid unknown fields, so a client can never set a
server-owned one (state, version, assignments, creator, timestamps): it gets a 422. They are
strictly typed too: a number given as a string ("126.5") is a 422 naming the field."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from geo.crs import SOURCE_CRS
from geo.i18n import _
from geo.model import Location
from geo.taxonomy import CATEGORY_BY_CODE, TEAM_STATUSES

Crs = Literal[tuple(SOURCE_CRS)]  # type: ignore[valid-type]
CategoryCode = Literal[tuple(CATEGORY_BY_CODE)]  # type: ignore[valid-type]
Reason = Annotated[str, Field(max_length=2000)]
TeamId = Annotated[str, Field(min_length=1, max_length=100)]
MAX_ID = 2**63 - 1  # the databases' bigint


class Strict(BaseModel):
    """A request body: no unknown fields, and JSON types as they are (an integer may stand for
    a float; a string never stands for a number, nor a number for a boolean). JSON has no
    date type: a datetime field here needs `Field(strict=False)` to accept ISO 8601 text."""

    model_config = ConfigDict(extra="forbid", strict=True)


def _number_not_text(value):
    if isinstance(value, str):
        raise PydanticCustomError("number_type", _("must be a finite number, not a string "
                                                   "({text})"), {"text": value[:40]})
    return value


Finite = Annotated[float, BeforeValidator(_number_not_text), Field(allow_inf_nan=False)]
"""A JSON number (an integer or a float), finite."""


class ReportIn(Strict):
    category_code: CategoryCode
    description: Annotated[str, Field(max_length=4000)] = ""
    lon: Finite = Field(description="longitude in the given crs")
    lat: Finite = Field(description="latitude in the given crs")
    crs: Crs = "wgs84"
    address: Annotated[str, Field(max_length=500)] | None = None


class ReasonIn(Strict):
    reason: Reason = ""


class MergeIn(Strict):
    duplicate_of: int = Field(ge=1, le=2**62)
    reason: Reason = ""


class DispatchIn(Strict):
    team_ids: Annotated[list[TeamId], Field(min_length=1, max_length=10)] = Field(
        description="teams to send; the first leads, several make a joint operation (吹哨)")
    reason: Reason = ""


class TeamActIn(Strict):
    reason: Reason = ""
    team_id: TeamId | None = Field(None, description="for an admin acting on a team's behalf")


class CheckIn(Strict):
    passed: bool
    reason: Reason = ""


class RateIn(Strict):
    rating: int = Field(ge=1, le=5)
    comment: Annotated[str, Field(max_length=2000)] = ""


class TeamUpdateIn(Strict):
    lon: Finite | None = None
    lat: Finite | None = None
    crs: Crs = "wgs84"
    status: Literal[TEAM_STATUSES] | None = None  # type: ignore[valid-type]


class ModeIn(Strict):
    mode: Literal["normal", "emergency"]
    reason: Reason = ""
    area: str | None = Field(None, pattern=r"^([0-9]{6}|[0-9]{9})$", description=(
        "a district or street code of your jurisdiction to switch on its own; none: the city"))


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    scope: str


class TeamRef(BaseModel):
    team_id: str
    name: str
    lead: bool
    assigned_at: datetime
    assigned_by: str


class IssueOut(BaseModel):
    """An issue as staff see it; citizens get the public subset (id, category, description,
    location, state, times, street, rating, address)."""

    model_config = ConfigDict(extra="ignore")

    id: int
    category_code: str
    category_name: str = Field(description="the category's name in the request's language")
    description: str
    lon: float
    lat: float
    state: str
    reported_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    street_code: str | None = None
    rating: int | None = None
    address: str | None = None
    source_crs: str | None = None
    grid_code: str | None = None
    community_code: str | None = None
    district_code: str | None = None
    version: int | None = None
    state_since: datetime | None = None
    due_at: datetime | None = None
    light: Literal["green", "yellow", "red"] | None = None
    overdue: bool | None = None
    channel: str | None = None
    reported_by: str | None = None
    duplicate_of: int | None = None
    rework_count: int | None = None
    overdue_steps: int | None = None
    allowed_actions: list[str] | None = None
    teams: list[TeamRef] | None = None


class IssuePage(BaseModel):
    items: list[IssueOut]
    total: int
    limit: int
    offset: int


class Event(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    from_state: str | None
    to_state: str
    reason: str
    details: dict


class Candidate(BaseModel):
    """A team to dispatch and why it ranks where it does. Ranked by ETA, it says how it
    would go (eta_s, road_m, basis, via, route); ranked by distance, those are absent."""

    rank: int
    team_id: str
    name: str
    kind: str
    status: str
    distance_m: float = Field(description="straight line, metres (EPSG:4551)")
    eta_s: float | None = Field(None, description="travel time to the issue, seconds, workload "
                                                  "not included")
    road_m: float | None = Field(None, description="metres along the roads; null when timed by "
                                                   "straight line")
    basis: Literal["road", "straight_line"] | None = Field(
        None, description="road: along the network; straight_line: off the network or no "
                          "route, the straight line x 1.3 at 20 km/h")
    via: list[str] | None = Field(None, description="the bridges the route crosses")
    route: list[tuple[float, float]] | None = Field(
        None, description="[[lon, lat], ...] from the team to the issue, along the roads")
    open_assignments: int | None = None
    last_assigned_at: datetime | None = None
    recommended: bool | None = Field(None, description="false when the team is at its limit of "
                                                       "open assignments (the reason says so)")
    position_source: Literal["live", "home"]
    position_at: datetime | None
    stale: bool
    reason: str


class Candidates(BaseModel):
    issue_id: int
    mode: str
    category_code: str
    handled_by: list[str]
    street_code: str
    filter: str
    ranked_by: Literal["eta", "distance"] | None = None
    policy: str | None = Field(None, description="how the ranking weighs workload")
    candidates: list[Candidate]
    none_reason: str | None


class Duplicate(BaseModel):
    id: int
    state: str
    reported_at: datetime
    distance_m: float


class Recommended(BaseModel):
    """A team the intake recommends, ranked by ETA with its workload (as Candidate)."""

    rank: int = Field(description="1, 2, ...; 0 for a team held back at its limit")
    team_id: str
    name: str
    kind: str
    distance_m: float = Field(description="straight line, metres (EPSG:4551)")
    eta_s: float = Field(description="travel time to the issue, seconds")
    road_m: float | None = Field(None, description="metres along the roads; null when timed by "
                                                   "straight line")
    basis: Literal["road", "straight_line"]
    via: list[str] = Field(description="the bridges the route crosses")
    open_assignments: int
    recommended: bool
    reason: str


class Named(BaseModel):
    code: str
    name: str


class ReportOut(BaseModel):
    issue: IssueOut
    location: Location  # the grid and its community, street and district
    compound: Named | None = None  # the compound (小区) and building (楼栋) it lies in, if any
    building: Named | None = None
    recommended_teams: list[Recommended]
    possible_duplicates: list[Duplicate]
    open311_token: str


class AreaModeOut(BaseModel):
    area: str  # a district or street code
    mode: str
    changed_by: str | None
    changed_at: datetime | None
    reason: str | None


class ModeOut(BaseModel):
    mode: str  # the city's
    changed_by: str | None
    changed_at: datetime | None
    reason: str | None
    areas: list[AreaModeOut] = []  # districts and streets switched on their own


class AreaSummary(BaseModel):
    level: str
    code: str
    open: int
    overdue: int
    closed: int
    closed_on_time: int
    on_time_rate: float | None
    rework_rate: float | None
    average_rating: float | None


class TeamOut(BaseModel):
    id: str
    name: str
    kind: str
    status: str
    roster: str
    position_at: datetime | None
    lon: float
    lat: float


class Me(BaseModel):
    username: str
    role: str
    jurisdiction: list[str]
    team_id: str | None
    scopes: list[str]


class Photo(BaseModel):
    id: int
    issue_id: int
    content_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime


class ErrorItem(BaseModel):
    """One invalid part of a request, as the validator found it."""

    loc: list[str | int] = Field(description="where: location (body, query, path, header) and field")
    msg: str
    type: str


class Error(BaseModel):
    """Every 4xx and 5xx answer of the API (Open311 answers in its own format)."""

    code: str = Field(
        pattern=r"^[a-z][a-z0-9_]*$",
        description="what went wrong, as a stable machine-readable code for a client to branch "
                    "on (it never changes with the language): e.g. invalid_input, not_found, "
                    "forbidden, state_conflict, precondition_required, precondition_failed, "
                    "validation_failed, not_authenticated, session_ended, insufficient_scope, "
                    "too_many_attempts, body_too_large, statement_timeout, database_busy, "
                    "internal_error",
        examples=["not_found"])
    detail: str = Field(description="what is wrong, naming the field, in words a person can act "
                                    "on, in the request's language (Chinese unless "
                                    "Accept-Language or ?lang= asks for English)")
    errors: list[ErrorItem] | None = Field(None, description="422 on malformed input: each problem")
    state: str | None = Field(None, description="409 on an issue: the state it is in now")
    allowed_actions: list[str] | None = Field(
        None, description="409 on an issue: the actions its state allows")


# Issues solved at each owning level: GET /escalation/levels and the big screen's panel.
class LevelCount(BaseModel):
    level: str
    name: str
    solved: int
    escalated: int = Field(description="of those solved there, how many had come up to it")
    share: float


class SolvedByLevel(BaseModel):
    since: datetime
    until: datetime
    total: int
    levels: list[LevelCount]


class Given(BaseModel):
    lon: float
    lat: float
    crs: str


class LocatedPoint(BaseModel):
    lon: float
    lat: float
    crs: Literal["wgs84"]
    given: Given


class Located(BaseModel):
    """Where a point falls (GET /api/v1/locate): the area fields are null outside every grid."""

    point: LocatedPoint
    at: datetime | None = Field(description="the moment asked about (null: now)")
    inside: bool
    message: str | None
    grid_code: str | None
    grid_name: str | None
    community_code: str | None
    community_name: str | None
    street_code: str | None
    street_name: str | None
    district_code: str | None
    district_name: str | None
    compound_code: str | None
    compound_name: str | None
    building_code: str | None
    building_name: str | None

