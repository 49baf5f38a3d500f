"""Shared request dependencies: the store, the clock, the caller, query times, the parameter
types several resources declare (ids, codes, categories, a bbox, paging), the issue query
that lists and layers share, and the hotspot query and settings that analyses and pages
share."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path, Query, Request, Security
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from api.auth import current_actor
from api.schemas import MAX_ID
from geo.casework import read
from geo.casework.errors import InvalidInput
from geo.codes import LENGTHS
from geo.hotspots.analysis import Params
from geo.hotspots.reports import HotspotQuery
from geo.i18n import _
from geo.model import Policy
from geo.store import Store
from geo.store.base import EARLIEST, LATEST, utc
from geo.taxonomy import NETWORKS
from geo.workflow import STATES


def store(request: Request) -> Store:
    """The store the service opened when it started."""
    opened = getattr(request.app.state, "store", None)
    if opened is None:
        raise RuntimeError("the service has not started: its lifespan opens the store")
    return opened


def public_base(request: Request) -> str:
    """The service's address as its clients reach it (settings.public_origin behind a proxy),
    for the links an answer gives."""
    return (request.app.state.settings.public_origin or str(request.base_url)).rstrip("/")


def ranking_policy(request: Request) -> Policy:
    """How candidates weigh workload, from the service's settings."""
    settings = request.app.state.settings
    return Policy(settings.max_open_assignments, settings.seconds_per_open_assignment)


def now(request: Request) -> datetime:
    """The server's clock (replaceable on app.state for tests of deadlines)."""
    clock = getattr(request.app.state, "clock", None)
    return clock() if clock else datetime.now(UTC)


def phones(request: Request) -> bool:
    """Dependency, after the route's `actor`: whether the caller may see people's phones
    (scope people:read). Without an authenticated session, never."""
    session = getattr(request.state, "session", None)
    return session is not None and "people:read" in session.scopes


def granted(request: Request) -> frozenset[str]:
    """After the route's `actor`: the scopes the caller's token holds (none without one)."""
    session = getattr(request.state, "session", None)
    return frozenset(session.scopes) if session is not None else frozenset()


def actor(*scopes: str):
    """Dependency: the caller, who must hold every scope listed."""
    return Security(current_actor, scopes=list(scopes))


def _in_utc(value: datetime) -> datetime:
    """A time from a query as aware UTC (a naive time is UTC), refused outside the years
    1900-2199 instead of overflowing later."""
    try:
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # the offset pushes it past year 1 or 9999
        moment = None
    if moment is None or not EARLIEST <= moment < LATEST:
        raise PydanticCustomError(
            "timestamp_range", _("must be a time from 1900-01-01 to 2199-12-31 (UTC), not "
                                 "{value}"),
            {"value": value.isoformat()})
    return moment


Timestamp = Annotated[datetime, AfterValidator(_in_utc)]
"""A date and time in a query (ISO 8601, an offset or UTC when none), converted to UTC."""


Id = Annotated[int, Path(ge=1, le=MAX_ID)]
State = Annotated[list[str] | None, Query(description=f"one or more of {', '.join(STATES)}")]
Category = Annotated[list[str] | None, Query(description="category codes, e.g. L01")]
Network = Annotated[list[str] | None, Query(
    description=f"one or more of the four networks (四张网): {', '.join(NETWORKS)}; each is a "
                "set of categories")]
Bbox = Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat (WGS84)",
                                   max_length=200)]
Limit = Annotated[int, Query(ge=1, le=read.MAX_PAGE)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Code = Annotated[str | None, Query(max_length=LENGTHS["grid"], pattern=r"^[0-9]+$")]


def issue_query(states, categories, grid, street, since, until, bbox, limit, offset,
                open_only=False, overdue_at=None, networks=None) -> read.IssueQuery:
    """Query parameters → a checked IssueQuery (lists and the issue layer share it)."""
    return read.IssueQuery(tuple(states or ()), open_only, tuple(categories or ()), grid, street,
                           utc(since), utc(until), read.parse_bbox(bbox), overdue_at, limit,
                           offset, tuple(networks or ())).check()


def study_query(category, area, since, until, now) -> HotspotQuery:
    """Query parameters → a checked HotspotQuery (the analyses and the hotspot map share it;
    the window defaults to the year before `until`, or before now)."""
    return HotspotQuery.build(now, utc(since), utc(until), category or (), area)


def analysis_params(**settings) -> Params:
    """Checked analysis settings (those given; defaults for the rest), else InvalidInput."""
    try:
        return Params(**{k: v for k, v in settings.items() if v is not None}).check()
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc

