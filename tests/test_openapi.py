"""The OpenAPI document served at /openapi.json: valid OpenAPI 3.1, one error schema for
every failure (Open311's own list and the pages' HTML aside), 401 exactly where a token is
needed (checked by calling every operation without one), 404 wherever a path names a thing,
and links that name real operations and parameters."""

from __future__ import annotations

import httpx
import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator

from tests.http import Server

ERROR = {"$ref": "#/components/schemas/Error"}
OPEN311_ERRORS = {"type": "array", "items": {"$ref": "#/components/schemas/Open311ErrorItem"}}
METHODS = ("get", "put", "post", "patch", "delete")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The service on an empty (migrated) database, its document and its base URL."""
    from geo.store import open_store

    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('openapi') / 'empty.sqlite'}")
    store.migrate()
    server = Server(store)
    doc = httpx.get(f"{server.url}/openapi.json", timeout=30).json()
    yield doc, server.url
    server.stop()
    store.close()


def operations(doc):
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def path_ids(operation) -> list[str]:
    return [p["name"] for p in operation.get("parameters", [])
            if p["in"] == "path" and "enum" not in p["schema"]]


def test_the_document_is_valid_openapi_31(served):
    doc, _ = served
    assert doc["openapi"].startswith("3.1")
    errors = [e.message for e in OpenAPIV31SpecValidator(doc).iter_errors()]
    assert errors == []
    assert len(list(operations(doc))) > 60
    assert not {"HTTPValidationError", "ValidationError"} & set(doc["components"]["schemas"])


def test_every_error_has_a_stable_code_and_a_detail(served):
    """The `Error` schema names the code a client branches on beside the translated detail."""
    doc, _ = served
    error = doc["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "detail"}
    assert error["properties"]["code"]["pattern"] == "^[a-z][a-z0-9_]*$"
    assert "language" in error["properties"]["detail"]["description"]


def test_every_failure_refers_to_the_one_error_schema(served):
    doc, _ = served
    wrong = []
    for path, method, operation in operations(doc):
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            content = response.get("content", {})
            json_schema = content.get("application/json", {}).get("schema")
            if path.startswith("/open311/") and status not in ("413", "503"):
                ok = {k: v for k, v in (json_schema or {}).items() if k != "title"} == \
                    OPEN311_ERRORS and set(content) == {"application/json", "text/xml"}
            elif path.startswith("/maps"):
                ok = "text/html" in content and json_schema in (None, ERROR)
            else:
                ok = json_schema == ERROR and set(content) == {"application/json"}
            if not ok:
                wrong.append(f"{method.upper()} {path} {status}: {content}")
    assert wrong == []


def test_every_operation_declares_the_statuses_of_what_it_takes(served):
    doc, _ = served
    missing = []
    for path, method, operation in operations(doc):
        declared = set(operation["responses"])
        needs = set()
        if path_ids(operation):
            needs.add("404")
        if "requestBody" in operation:
            needs |= {"413"} | ({"400"} if path.startswith("/open311/") else {"400", "422"})
        if any(p["name"] == "If-Match" for p in operation.get("parameters", [])):
            needs |= {"409", "412", "428"}
        if path.startswith("/api/v1/issues/{issue_id}/") and method == "post":
            needs.add("409")
        if path in ("/api/v1/auth/token", "/api/v1/auth/session") and method == "post":
            needs |= {"401", "429"}
        if needs - declared:
            missing.append(f"{method.upper()} {path}: {sorted(needs - declared)}")
    assert missing == []


def _example_path(path: str, operation: dict) -> str:
    for p in operation.get("parameters", []):
        if p["in"] == "path":
            value = p["schema"]["enum"][0] if "enum" in p["schema"] else "1"
            path = path.replace("{" + p["name"] + "}", value)
    return path


LOGINS = ("/api/v1/auth/token", "/api/v1/auth/session")


def test_401_is_declared_exactly_where_a_token_is_needed(served):
    """Each operation, called without any credentials: 401 if and only if it declares 401,
    and then it also declares its security (pages redirect to the login instead). The logins
    need no token: their 401 is for a wrong password."""
    doc, url = served
    wrong = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for path, method, operation in operations(doc):
            login = path in LOGINS and method == "post"
            status = client.request(method.upper(), _example_path(path, operation),
                                    data={"username": "nobody", "password": "wrong"} if login
                                    else None).status_code
            if login:
                assert status == 401 and not operation.get("security"), (path, status)
                continue
            declares = "401" in operation["responses"]
            if (status == 401) != declares or declares != bool(operation.get("security")):
                wrong.append(f"{method.upper()} {path}: answered {status}, declares 401: "
                             f"{declares}, security: {operation.get('security')}")
            if path.startswith("/maps/") and path != "/maps/login":
                assert status == 303, (path, status)
    assert wrong == []


def test_geojson_xml_and_html_are_declared_where_they_are_sent(served):
    doc, _ = served
    media = {f"{m.upper()} {p}": set().union(*(r.get("content", {}) for s, r in o["responses"].items()
                                               if s.startswith("2")))
             for p, m, o in operations(doc)}
    assert media["GET /api/v1/layers/grids"] == {"application/geo+json"}
    assert media["POST /api/v1/plans"] == {"application/geo+json"}
    assert media["GET /api/v1/hotspots/gistar"] == {"application/geo+json"}
    assert media["GET /open311/v2/requests.{fmt}"] == {"application/json", "text/xml"}
    assert media["POST /open311/v2/requests.{fmt}"] == {"application/json", "text/xml"}
    assert media["GET /maps/live"] == {"text/html"}
    assert "201" in doc["paths"]["/api/v1/plans"]["post"]["responses"]


def test_links_name_real_operations_and_parameters(served):
    doc, _ = served
    by_id = {o["operationId"]: o for _, _, o in operations(doc)}
    links = [(path, link) for path, _, o in operations(doc) for r in o["responses"].values()
             for link in r.get("links", {}).values()]
    assert any(p == "/api/v1/issues" for p, _ in links)
    assert any(p == "/api/v1/plans" for p, _ in links)
    for _, link in links:
        target = by_id[link["operationId"]]
        names = {f"{p['in']}.{p['name']}" for p in target.get("parameters", [])}
        assert set(link["parameters"]) <= names, link
