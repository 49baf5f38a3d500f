"""Every failure becomes a JSON answer a person can read: {"detail": ...} with a 4xx status,
or 503 when the database is slow. A bug still answers 500 without leaking internals."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from geo.casework.errors import (
    CaseError,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    StateConflict,
)
from geo.store.sql import InvalidText, StatementTimeout

log = logging.getLogger("griddispatch.api")

STATUS = {InvalidInput: 422, NotFound: 404, Forbidden: 403, StateConflict: 409,
          PreconditionRequired: 428, PreconditionFailed: 412}


def _field(loc) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or "request"


def readable(errors: list[dict]) -> str:
    """Pydantic's error list as sentences: `field: what is wrong`."""
    out = []
    for e in errors[:10]:
        message = e.get("msg", "invalid")
        if e.get("type") == "extra_forbidden":
            message = "is not accepted here (server-owned or unknown field)"
        out.append(f"{_field(e.get('loc', ()))}: {message}")
    return "; ".join(out)


def install(app: FastAPI) -> None:
    @app.exception_handler(CaseError)
    async def case_error(_request: Request, exc: CaseError):
        body = {"detail": str(exc)}
        if isinstance(exc, StateConflict):
            body.update(state=exc.state, allowed_actions=exc.allowed)
        return JSONResponse(body, status_code=_status_of(exc))

    @app.exception_handler(InvalidText)
    async def invalid_text(_request: Request, exc: InvalidText):
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(StatementTimeout)
    async def timeout(_request: Request, exc: StatementTimeout):
        return JSONResponse({"detail": "the database took too long to answer; narrow the query "
                                       "(smaller bbox, fewer days) or try again"},
                            status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error; it has been logged"}, status_code=500)


async def validation_error_response(exc: RequestValidationError) -> JSONResponse:
    errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
    return JSONResponse({"detail": readable(exc.errors()), "errors": errors}, status_code=422)


def _status_of(exc: CaseError) -> int:
    for cls, code in STATUS.items():
        if isinstance(exc, cls):
            return code
    return 422
