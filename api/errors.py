"""Every failure becomes a JSON answer a person can read and a program can branch on:
`{"code": "<stable snake_case>", "detail": "<a sentence in the reader's language>"}` with a
4xx status, or 503 when the database is slow. A bug still answers 500 without leaking
internals. Refusals from FastAPI and Starlette themselves (an unknown address, a method the
address does not take, a body that is not JSON) are worded here, since their own phrases are
English and name no code."""

from __future__ import annotations

import logging
import re
from http import HTTPStatus

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo.casework.errors import (
    CaseError,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    StateConflict,
)
from geo.i18n import N_, _
from geo.store.sql import DatabaseBusy, InvalidText, StatementTimeout

log = logging.getLogger("griddispatch.api")

STATUS = {InvalidInput: 422, NotFound: 404, Forbidden: 403, StateConflict: 409,
          PreconditionRequired: 428, PreconditionFailed: 412}
# The code of an HTTP refusal that names none of its own.
CODES = {400: "bad_request", 401: "not_authenticated", 403: "forbidden", 404: "not_found",
         405: "method_not_allowed", 406: "not_acceptable", 409: "state_conflict",
         412: "precondition_failed", 413: "body_too_large", 415: "unsupported_media_type",
         422: "validation_failed", 428: "precondition_required", 429: "too_many_attempts",
         500: "internal_error", 503: "service_unavailable"}
_PHRASES = {s.value: s.phrase for s in HTTPStatus}
_BODY_NOT_PARSED = "There was an error parsing the body"  # FastAPI's words for a broken body


class Refusal(HTTPException):
    """An HTTP refusal (authentication, limits, encoding) with its stable code."""

    def __init__(self, status_code: int, detail: str, code: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(status_code, detail, headers)
        self.code = code or CODES.get(status_code, "bad_request")


def error_body(code: str, detail: str, **extra) -> dict:
    """The body of every error answer (the `Error` schema)."""
    return {"code": code, "detail": detail, **extra}


def _field(loc) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or _("request")


# Pydantic's problems in our words, by their `type`; the {names} are the keys of its `ctx`.
# A type not listed keeps pydantic's own (English) sentence.
PROBLEMS = {
    "missing": N_("is required"),
    "string_too_long": N_("must be at most {max_length} characters long"),
    "string_too_short": N_("must be at least {min_length} characters long"),
    "greater_than": N_("must be greater than {gt}"),
    "greater_than_equal": N_("must be {ge} or more"),
    "less_than": N_("must be less than {lt}"),
    "less_than_equal": N_("must be {le} or less"),
    "int_parsing": N_("must be a whole number"),
    "float_parsing": N_("must be a number"),
    "bool_parsing": N_("must be true or false"),
    "datetime_parsing": N_("must be a date and time (ISO 8601, e.g. 2026-12-02T08:00:00+08:00)"),
    "datetime_from_date_parsing": N_("must be a date and time (ISO 8601, e.g. "
                                     "2026-12-02T08:00:00+08:00)"),
    "string_pattern_mismatch": N_("does not have the expected form (pattern {pattern})"),
    "literal_error": N_("must be one of: {expected}"),
    "enum": N_("must be one of: {expected}"),
    "too_long": N_("must have at most {max_length} items"),
    "too_short": N_("must have at least {min_length} items"),
    "json_invalid": N_("is not valid JSON"),
    "dict_type": N_("must be an object"),
    "list_type": N_("must be a list"),
    "string_type": N_("must be text"),
    "extra_forbidden": N_("is not accepted here (server-owned or unknown field)"),
}
_QUOTED = re.compile(r"'([^']*)'")


def problem(error: dict) -> str:
    """One pydantic problem as a phrase in the reader's language."""
    kind, ctx = error.get("type"), error.get("ctx") or {}
    if kind == "value_error" and ctx.get("error") is not None:
        return str(ctx["error"])  # our own validators' sentences, already translated
    template = PROBLEMS.get(kind)
    if template is None:
        return error.get("msg") or _("is not valid")
    values = {k: str(v) for k, v in ctx.items()}
    if "expected" in values:  # pydantic's "'open' or 'all'": the choices, without its words
        values["expected"] = ", ".join(_QUOTED.findall(values["expected"])) or values["expected"]
    try:
        return _(template).format(**values)
    except (KeyError, IndexError):  # a pydantic release naming its context otherwise
        return error.get("msg") or _("is not valid")


def readable(errors: list[dict]) -> str:
    """Pydantic's error list as sentences in the reader's language: `field: what is wrong`."""
    out = [_("{field}: {problem}").format(field=_field(e.get("loc", ())), problem=problem(e))
           for e in errors[:10]]
    # TRANSLATORS: separates the problems of one request, as "; " does in English.
    return _("; ").join(out)


def http_detail(exc: StarletteHTTPException, method: str = "") -> str:
    """A refusal's sentence: ours as raised, or one in the reader's language for the phrases
    of FastAPI and Starlette."""
    detail = exc.detail
    if not isinstance(detail, str):
        return str(detail)
    if exc.status_code == 404 and detail == HTTPStatus.NOT_FOUND.phrase:
        return _("there is nothing at this address (see /docs for the API)")
    if exc.status_code == 405 and detail == HTTPStatus.METHOD_NOT_ALLOWED.phrase:
        return _("this address does not accept the {method} method").format(method=method)
    if exc.status_code == 400 and detail == _BODY_NOT_PARSED:
        return _("the request body cannot be read: it is not valid JSON or form data")
    if detail == _PHRASES.get(exc.status_code):
        return _("the request was refused ({status})").format(status=exc.status_code)
    return detail


def http_code(exc: StarletteHTTPException) -> str:
    if getattr(exc, "code", None):
        return exc.code
    if exc.status_code == 400 and exc.detail == _BODY_NOT_PARSED:
        return "malformed_body"
    return CODES.get(exc.status_code, "bad_request" if exc.status_code < 500 else "internal_error")


def install(app: FastAPI, bad_request: tuple[str, ...] = ()) -> None:
    """The handlers of every error answer. `bad_request`: path prefixes whose standard wants
    400 rather than 422 for input that cannot be used (OGC API - Features)."""
    @app.exception_handler(CaseError)
    async def case_error(request: Request, exc: CaseError):
        body = error_body(exc.code, str(exc))
        if isinstance(exc, StateConflict):
            body.update(state=exc.state, allowed_actions=exc.allowed)
        status = _status_of(exc)
        if status == 422 and bad_request and request.url.path.startswith(bad_request):
            status = 400
        return JSONResponse(body, status_code=status)

    @app.exception_handler(InvalidText)
    async def invalid_text(request: Request, exc: InvalidText):
        status = 400 if bad_request and request.url.path.startswith(bad_request) else 422
        return JSONResponse(error_body("invalid_text", str(exc)), status_code=status)

    @app.exception_handler(StatementTimeout)
    async def timeout(_request: Request, exc: StatementTimeout):
        return JSONResponse(error_body("statement_timeout", _(
            "the database took too long to answer; narrow the query (smaller bbox, fewer "
            "days) or try again")), status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(DatabaseBusy)  # before StatementTimeout's: Starlette takes the MRO
    async def busy(_request: Request, exc: DatabaseBusy):
        detail = exc.detail or _("the database is busy; try again in a few seconds")
        return JSONResponse(error_body("database_busy", detail), status_code=503,
                            headers={"Retry-After": "2"})

    @app.exception_handler(StarletteHTTPException)
    async def refusal(request: Request, exc: StarletteHTTPException):
        headers = getattr(exc, "headers", None)
        if exc.status_code in (204, 304):  # no body, as Starlette's own handler answers
            return Response(status_code=exc.status_code, headers=headers)
        return JSONResponse(error_body(http_code(exc), http_detail(exc, request.method)),
                            status_code=exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception):
        """The last resort, outside api.language.Language (which answers the errors that
        reach it in the reader's language): an error of a middleware outside it."""
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return internal_error()


def internal_error() -> JSONResponse:
    """The answer to a bug: 500, nothing of its internals."""
    return JSONResponse(error_body("internal_error", _("internal error; it has been logged")),
                        status_code=500)


async def validation_error_response(exc: RequestValidationError,
                                    status: int = 422) -> JSONResponse:
    errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
    return JSONResponse(error_body("validation_failed", readable(exc.errors()), errors=errors),
                        status_code=status)


def _status_of(exc: CaseError) -> int:
    for cls, code in STATUS.items():
        if isinstance(exc, cls):
            return code
    return 422
