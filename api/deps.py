"""Shared request dependencies: the store, the clock, the caller, query times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Request, Security
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from api.auth import current_actor
from geo.store import Store

# Times the service computes with: windows, slices and numpy/pandas times all stay in range.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def store(request: Request) -> Store:
    return request.app.state.store


def now(request: Request) -> datetime:
    """The server's clock (replaceable on app.state for tests of deadlines)."""
    clock = getattr(request.app.state, "clock", None)
    return clock() if clock else datetime.now(UTC)


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
            "timestamp_range", "must be a time from 1900-01-01 to 2199-12-31 (UTC), not {value}",
            {"value": value.isoformat()})
    return moment


Timestamp = Annotated[datetime, AfterValidator(_in_utc)]
"""A date and time in a query (ISO 8601, an offset or UTC when none), converted to UTC."""
