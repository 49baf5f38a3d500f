"""Shared request dependencies: the store, the clock, the caller."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import Request, Security

from api.auth import current_actor
from geo.store import Store


def store(request: Request) -> Store:
    return request.app.state.store


def now(request: Request) -> datetime:
    """The server's clock (replaceable on app.state for tests of deadlines)."""
    clock = getattr(request.app.state, "clock", None)
    return clock() if clock else datetime.now(UTC)


def actor(*scopes: str):
    """Dependency: the caller, who must hold every scope listed."""
    return Security(current_actor, scopes=list(scopes))
