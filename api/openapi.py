"""The OpenAPI document, made to say what the service answers.

FastAPI documents each route's success and a 422 in its own error shape. This module rewrites
the generated document once: every failure refers to one schema (`Error`: a stable `code` and
a `detail` in the request's language, as api/errors.py and the middleware send), and each
operation gets the statuses that follow from what its route depends on, so that a new route
is described without anyone remembering to:

| the route has | it may answer |
|---|---|
| a security requirement (a token with scopes) | 401 (no or bad token), 403 (scope, role, jurisdiction) |
| the same-origin check | 403 |
| a path parameter naming a thing (not a fixed choice) | 404 |
| a request body | 400 (not text in its charset), 413 (over the size limit), 415 (JSON not in UTF-8) |
| any parameter or body, or the unknown-query check | 422 (400 under a `bad_request` prefix: OGC API) |
| an If-Match header | 409 (no longer editable), 412 (stale), 428 (missing) |
| the store | 503 (statement timeout or a lock conflict, with Retry-After) |

What only a route knows (its 409, a login's 429) it declares in its `responses`; a status it
declares without content gets the `Error` schema, and one it declares with `headers` (even
none) is its own answer, given no derived description or headers (/healthz's 503). Routes
under an `own_error_format` prefix (Open311's list of errors in JSON or XML, the map pages'
HTML) declare their refusals themselves and get only the 413 and 503 that the middleware and
the timeout handler send.
Links say where an issue's or a draft's id comes from, so that clients, and the stateful
fuzz test, can follow one through its operations.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI
from fastapi.routing import APIRoute

try:
    from fastapi.routing import iter_route_contexts as _route_contexts
except ImportError:  # FastAPI before 0.160: included routes are in app.routes as they are
    _route_contexts = iter
from pydantic.json_schema import models_json_schema

from api import deps
from api.auth import SESSION_COOKIE, same_origin
from api.params import refuse_unknown_query
from api.schemas import Error

ERROR_REF = {"$ref": "#/components/schemas/Error"}
JSON = "application/json"
GEOJSON = "application/geo+json"
FASTAPI_ERRORS = ("HTTPValidationError", "ValidationError")

DESCRIPTIONS = {
    400: "the body is not text in the charset it declares, or declares one that is not read",
    401: "not authenticated: no token, or an expired or invalid one (log in again)",
    403: "authenticated, but the token's scopes, the role or the jurisdiction do not allow this",
    404: "no such thing, or not one you may see",
    409: "not allowed in the current state",
    412: "what the change is based on was changed meanwhile (stale If-Match): reload",
    413: "the request body is larger than the limit",
    415: "a JSON body in a charset other than UTF-8",
    422: "the input cannot be used: `detail` names the field and the problem",
    428: "a change to something others may edit needs If-Match with its ETag",
    429: "too many attempts: wait for Retry-After seconds",
    503: "the database took too long (`statement_timeout`: narrow the query or retry) or "
         "was busy with concurrent work (`database_busy`: retry)",
}
HEADERS = {
    401: {"WWW-Authenticate": {"description": "Bearer, with the scopes the operation needs",
                               "schema": {"type": "string"}}},
    503: {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}},
}

FEATURE_COLLECTION = {
    "type": "object",
    "description": "an RFC 7946 FeatureCollection; foreign members describe the query and paging",
    "required": ["type", "features"],
    "properties": {
        "type": {"const": "FeatureCollection"},
        "features": {"type": "array", "items": {"$ref": "#/components/schemas/Feature"}},
    },
}
FEATURE = {
    "type": "object",
    "required": ["type", "geometry", "properties"],
    "properties": {
        "type": {"const": "Feature"},
        "id": {"type": ["string", "integer"]},
        "geometry": {"type": ["object", "null"]},
        "properties": {"type": ["object", "null"]},
    },
}
SESSION = {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE,
           "description": "the map pages' login (POST /api/v1/auth/session); accepted for GET only"}

# Where ids come from: answers (by their schema, or by operation for GeoJSON drafts) and the
# JSON pointer to the id in them. Each is linked to every operation taking that path parameter.
ISSUE_ID_IN = {"ReportOut": "/issue/id", "IssueOut": "/id", "Candidates": "/issue_id"}
DRAFT_ANSWERS = ("POST /api/v1/plans", "GET /api/v1/plans/{draft_id}",
                 "PUT /api/v1/plans/{draft_id}/grids/{key}", "POST /api/v1/plans/{draft_id}/split",
                 "POST /api/v1/plans/{draft_id}/merge", "POST /api/v1/plans/{draft_id}/boundary",
                 "POST /api/v1/plans/{draft_id}/import")
_GRID = "$response.body#/features/{n}/properties/{field}"
_KEY0, _KEY1 = _GRID.format(n=0, field="key"), _GRID.format(n=1, field="key")
_ETAG0, _ETAG1 = _GRID.format(n=0, field="etag"), _GRID.format(n=1, field="etag")
_BOTH_ETAGS = "{" + _ETAG0 + "}, {" + _ETAG1 + "}"
# What else a link fills in: the grids and ETags a draft answer shows, the teams an issue has.
DRAFT_LINK_EXTRAS = {
    "PUT /api/v1/plans/{draft_id}/grids/{key}": {
        "parameters": {"path.key": _KEY0, "header.If-Match": _ETAG0}},
    "POST /api/v1/plans/{draft_id}/split": {
        "parameters": {"header.If-Match": _ETAG0}, "requestBody": {"key": _KEY0}},
    "POST /api/v1/plans/{draft_id}/merge": {
        "parameters": {"header.If-Match": _BOTH_ETAGS}, "requestBody": {"keys": [_KEY0, _KEY1]}},
    "POST /api/v1/plans/{draft_id}/boundary": {
        "parameters": {"header.If-Match": _BOTH_ETAGS}, "requestBody": {"a": _KEY0, "b": _KEY1}},
    "POST /api/v1/plans/{draft_id}/import": {"parameters": {"header.If-Match": "$response.header.ETag"}},
    "POST /api/v1/plans/{draft_id}/publish": {"parameters": {"header.If-Match": "$response.header.ETag"}},
}
ISSUE_LINK_EXTRAS = {  # by the answer's schema, then the target
    "Candidates": {
        f"POST /api/v1/issues/{{issue_id}}/{action}": {
            "requestBody": {"team_ids": ["$response.body#/candidates/0/team_id"]}}
        for action in ("dispatch", "reassign")},
    "IssueOut": {
        f"POST /api/v1/issues/{{issue_id}}/{action}": {
            "requestBody": {"team_id": "$response.body#/teams/0/team_id"}}
        for action in ("claim", "resolve", "return")},
}


def install(app: FastAPI, own_error_format: tuple[str, ...] = (),
            bad_request: tuple[str, ...] = ()) -> None:
    """Serve the described document at app.openapi_url. `own_error_format`: path prefixes
    whose routes declare their errors in a format of their own and answer invalid input with
    it (Open311's 400), so that they get no generic 422. `bad_request`: prefixes answering
    invalid input with 400 in the `Error` shape (OGC API - Features) instead of 422."""
    generate = app.openapi
    described: list[dict] = []

    def openapi() -> dict:
        doc = generate()  # FastAPI keeps it until the routes change
        if not described or described[0] is not doc:
            described[:] = [describe(doc, app.routes, own_error_format, bad_request)]
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


def describe(doc: dict, routes, own_error_format: tuple[str, ...] = (),
             bad_request: tuple[str, ...] = ()) -> dict:
    """Rewrite FastAPI's document in place (see the module's docstring)."""
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in FASTAPI_ERRORS:
        schemas.pop(name, None)
    _, defs = models_json_schema([(Error, "serialization")],
                                 ref_template="#/components/schemas/{model}")
    schemas.update(defs["$defs"])
    schemas.update(FeatureCollection=FEATURE_COLLECTION, Feature=FEATURE)
    components.setdefault("securitySchemes", {})["session"] = SESSION
    for route, method, operation in _operations(doc, routes):
        own = bool(own_error_format) and route.path.startswith(own_error_format)
        ogc = bool(bad_request) and route.path.startswith(bad_request)
        _describe_operation(route, method, operation, own, ogc)
    _link(doc)
    return doc


def _operations(doc: dict, routes) -> Iterator[tuple[APIRoute, str, dict]]:
    """Each documented operation with its route (as included, with the app's dependencies)."""
    for route in _route_contexts(routes):
        if not isinstance(getattr(route, "original_route", route), APIRoute) \
                or not route.include_in_schema:
            continue
        item = doc["paths"].get(route.path_format, {})
        for method in sorted(route.methods):
            operation = item.get(method.lower())
            if operation is not None:
                yield route, method.lower(), operation


def _calls(dependant) -> Iterator:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


def derived_statuses(route: APIRoute, operation: dict, own_error_format: bool = False,
                     bad_request: bool = False) -> set[int]:
    """The failures that follow from what the route depends on (the table above)."""
    params = operation.get("parameters", [])
    body = operation.get("requestBody", {}).get("content", {})
    calls = set(_calls(route.dependant))
    statuses = set()
    if body:
        statuses.add(413)
    if deps.store in calls:
        statuses.add(503)
    if own_error_format:
        return statuses  # the rest in the route's own format, declared on it
    if params or body or refuse_unknown_query in calls:
        statuses.add(400 if bad_request else 422)
    if body:
        statuses.add(400)  # a body that is not valid text in its charset
    if JSON in body:
        statuses.add(415)  # JSON in a charset other than UTF-8
    if operation.get("security"):
        statuses |= {401, 403}
    if same_origin in calls:
        statuses.add(403)
    if any(p["in"] == "path" and "enum" not in p.get("schema", {}) for p in params):
        statuses.add(404)
    if any(p["in"] == "header" and p["name"].lower() == "if-match" for p in params):
        statuses |= {409, 412, 428}
    return statuses


def _describe_operation(route: APIRoute, method: str, operation: dict, own: bool,
                        bad_request: bool = False) -> None:
    responses = operation.setdefault("responses", {})
    derived = derived_statuses(route, operation, own, bad_request)
    if _is_fastapi_error(responses.get("422")) and (own or 422 not in derived):
        del responses["422"]  # its own format answers invalid input (declared on the route)
    for status in sorted(derived | {int(s) for s in responses if s.isdigit() and int(s) >= 400}):
        response = responses.setdefault(str(status), {})
        whole = "headers" in response  # declared whole by the route
        declared = response.get("description")
        meaning = DESCRIPTIONS.get(422 if bad_request and status == 400 else status, "failed")
        if not declared or declared == "Validation Error":
            response["description"] = meaning
        elif status in derived and status in DESCRIPTIONS and not whole:
            response["description"] = f"{declared}; or {meaning}"
        content = response.setdefault("content", {})
        if status in derived or not content or _is_fastapi_error(response):
            current = content.get(JSON, {}).get("schema")
            if not current or current.get("$ref", "").endswith(FASTAPI_ERRORS):
                content[JSON] = {"schema": ERROR_REF}
        if status in HEADERS and not whole:
            response.setdefault("headers", {}).update(HEADERS[status])
    for status, response in responses.items():
        content = response.get("content", {})
        if status.startswith("2") and GEOJSON in content:
            content.pop(JSON, None)  # the route answers GeoJSON only
            if not content[GEOJSON].get("schema"):
                content[GEOJSON]["schema"] = {"$ref": "#/components/schemas/FeatureCollection"}
    if operation.get("security") and method in ("get", "head"):
        operation["security"] = [*operation["security"], {"session": []}]
    operation["responses"] = dict(sorted(responses.items()))


def _is_fastapi_error(response: dict | None) -> bool:
    schema = ((response or {}).get("content", {}).get(JSON) or {}).get("schema") or {}
    return schema.get("$ref", "").endswith(FASTAPI_ERRORS)


def _link(doc: dict) -> None:
    """OpenAPI links from the answers that carry an issue's or a draft's id to the
    operations that take it."""
    by_name = {f"{method.upper()} {path}": operation
               for path, item in doc["paths"].items() for method, operation in item.items()}
    takes: dict[str, list[str]] = {}
    for name, operation in by_name.items():
        for p in operation.get("parameters", []):
            if p["in"] == "path" and p["name"] in ("issue_id", "draft_id") \
                    and name.split(" ", 1)[1].startswith("/api/"):  # not the pages
                takes.setdefault(p["name"], []).append(name)
    for name, operation in by_name.items():
        for status, response in operation.get("responses", {}).items():
            if not status.startswith("2"):
                continue
            schema = response.get("content", {}).get(JSON, {}).get("schema", {})
            model = schema.get("$ref", "").rsplit("/", 1)[-1]
            if model in ISSUE_ID_IN:
                pointer = f"$response.body#{ISSUE_ID_IN[model]}"
                extras = ISSUE_LINK_EXTRAS.get(model, {})
                _add_links(response, by_name, takes.get("issue_id", []), "issue_id", pointer,
                           extras)
            elif name in DRAFT_ANSWERS and GEOJSON in response.get("content", {}):
                _add_links(response, by_name, takes.get("draft_id", []), "draft_id",
                           "$response.body#/draft/id", DRAFT_LINK_EXTRAS)


def _add_links(response: dict, by_name: dict, targets: list[str], parameter: str, pointer: str,
               extras: dict) -> None:
    links = response.setdefault("links", {})
    for target in targets:
        operation = by_name[target]
        extra = extras.get(target, {})
        link = {"operationId": operation["operationId"],
                "parameters": {f"path.{parameter}": pointer, **extra.get("parameters", {})}}
        if "requestBody" in extra:
            link["requestBody"] = extra["requestBody"]
        links[operation["operationId"]] = link
