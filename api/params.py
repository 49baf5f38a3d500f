"""Query parameters that an endpoint does not declare are refused, not ignored: a filter a
user believes applied but was not is worse than an error. One dependency, on every route."""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError

from geo.i18n import _


def declared_query(dependant: Dependant) -> frozenset[str]:
    """The query parameter names (aliases) of an endpoint and of all its dependencies."""
    names, pending = set(), [dependant]
    while pending:
        current = pending.pop()
        names.update(field.alias for field in current.query_params)
        pending.extend(current.dependencies)
    return frozenset(names)


_accepted: dict[int, tuple[object, frozenset[str]]] = {}  # by route id (routes are unhashable)


def _accepted_by(route) -> frozenset[str]:
    hit = _accepted.get(id(route))
    if hit is None or hit[0] is not route:
        hit = _accepted[id(route)] = (route, declared_query(route.dependant))
    return hit[1]


async def refuse_unknown_query(request: Request) -> None:
    """Dependency: a validation error (422, or each API's own format) naming every query
    parameter the route does not declare, and listing those it accepts."""
    route = request.scope.get("route")
    if getattr(route, "dependant", None) is None:
        return
    accepted = _accepted_by(route)
    unknown = [name for name in dict.fromkeys(request.query_params) if name not in accepted]
    if not unknown:
        return
    message = (_("unknown query parameter; this endpoint accepts: {names}").format(
        names=", ".join(sorted(accepted))) if accepted
        else _("unknown query parameter; this endpoint accepts none"))
    raise RequestValidationError([
        {"type": "unknown_parameter", "loc": ("query", name), "input": request.query_params[name],
         "msg": message} for name in unknown])
