"""Open311 GeoReport v2 at /open311/v2: categories are the services, reports are requests.

Responses are JSON or XML by the path's extension, as the specification has it. The public
list shows what a city publishes: the category, status, times, the responsible street and
grid, and the place rounded to about 100 m. Descriptions and reporters stay private.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from api import deps
from api.deps import Id
from api.schemas import MAX_ID
from geo.casework import public
from geo.casework.errors import CaseError, Forbidden, InvalidInput, NotFound
from geo.casework.intake import Report, report
from geo.casework.users import actor_for_api_key
from geo.i18n import _
from geo.store import Store
from geo.store.base import utc
from geo.store.sql import InvalidText, as_dt
from geo.taxonomy import CATEGORIES, CATEGORY_BY_CODE, network_label
from geo.workflow import TERMINAL, expected_close


class Open311Error(Exception):
    """A refusal answered in the specification's error shape (the app installs the handler)."""

    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status, self.description = status, description


def format_of(request: Request) -> str:
    """The response format a request's path asks for."""
    return "xml" if request.url.path.endswith(".xml") else "json"


def client_params(request: Request,
                  jurisdiction_id: Annotated[str | None, Query(max_length=100)] = None,
                  api_key: Annotated[str | None, Query(max_length=200)] = None) -> None:
    """What the specification lets clients send with every call: a jurisdiction_id, which must
    be this city's, and an api_key, which reading needs not and posting takes from the form
    body only (a query string ends up in access and proxy logs)."""
    if api_key is not None and request.method == "POST":
        raise Open311Error(400, _("api_key was sent in the query string: send it in the "
                                  "form-encoded body of the POST, where it stays out of logs"))
    if jurisdiction_id and jurisdiction_id != request.app.state.settings.open311_jurisdiction:
        raise Open311Error(404, _("unknown jurisdiction_id {id}").format(id=jurisdiction_id))


class Open311ErrorItem(BaseModel):
    code: int
    description: str


# The OpenAPI description: answers in JSON or XML by the path's extension; refusals as the
# specification's list of errors, 400 for any invalid input and 404 for an unknown
# jurisdiction_id on every operation.
_XML = {"text/xml": {}}
_ERRORS = {"model": list[Open311ErrorItem], "content": _XML}
ERRORS = {400: {**_ERRORS, "description": "invalid input: a list of {code, description}"},
          404: {**_ERRORS, "description": "no such service, request or token, or an unknown "
                                          "jurisdiction_id"}}
XML = {200: {"content": _XML, "description": "JSON or XML by the path's extension"}}

router = APIRouter(prefix="/open311/v2", tags=["open311"], dependencies=[Depends(client_params)],
                   responses=ERRORS)
Format = Literal["json", "xml"]
PUBLIC_DECIMALS = 3  # about 100 m: enough to see the place, not the doorway
MAX_REQUESTS = 1000
DEFAULT_WINDOW = timedelta(days=90)
STATUS_NOTES = {"reported": "received", "accepted": "accepted by the platform",
                "dispatched": "assigned to a team", "claimed": "a team is working on it",
                "resolved": "reported done, being checked", "checked": "done, awaiting rating",
                "closed": "closed", "rejected": "not accepted as a case",
                "merged": "duplicate of another request"}


def error_response(status: int, description: str, fmt: str = "json") -> Response:
    """Errors in the specification's shape: a list of {code, description}."""
    return respond([{"code": status, "description": description}], fmt, "errors", "error",
                   status)


def respond_document(doc: dict, fmt: str, root: str) -> Response:
    """One document (discovery, a service definition): in XML, `root` holds its fields."""
    if fmt == "xml":
        top = ET.Element(root)
        _xml_fill(top, doc)
        return Response(ET.tostring(top, encoding="unicode", xml_declaration=True),
                        media_type="text/xml; charset=utf-8")
    return JSONResponse(doc)


def respond(items, fmt: str, root: str, element: str, status: int = 200) -> Response:
    """A list (services, requests, errors): in XML, `root` holds one `element` per item."""
    if fmt == "xml":
        top = ET.Element(root)
        for item in items if isinstance(items, list) else [items]:
            node = ET.SubElement(top, element)
            _xml_fill(node, item)
        body = ET.tostring(top, encoding="unicode", xml_declaration=True)
        return Response(body, status_code=status, media_type="text/xml; charset=utf-8")
    return JSONResponse(items, status_code=status)


def _xml_fill(node: ET.Element, value) -> None:
    for key, v in value.items():
        child = ET.SubElement(node, key)
        if isinstance(v, dict):
            _xml_fill(child, v)
        elif isinstance(v, list):
            for entry in v:
                item = ET.SubElement(child, key.rstrip("s") or key)
                if isinstance(entry, dict):
                    _xml_fill(item, entry)
                else:
                    item.text = str(entry)
        elif v is not None:
            child.text = str(v).lower() if isinstance(v, bool) else str(v)


def _service(c) -> dict:
    return {"service_code": c.code, "service_name": c.name_zh, "description": c.name_en,
            "metadata": False, "type": "realtime", "keywords": c.name_en,
            "group": network_label(c.network)}


@router.get("/discovery.{fmt}", responses=XML)
def discovery(fmt: Format, request: Request):
    base = str(request.base_url).rstrip("/") + "/open311/v2"
    doc = {"changeset": "2026-11-22T00:00:00Z", "contact": "the city's command centre",
           "key_service": "API keys are issued by the command centre's administrators",
           "endpoints": [{"specification": "http://wiki.open311.org/GeoReport_v2", "url": base,
                          "changeset": "2026-11-22T00:00:00Z", "type": "production",
                          "formats": ["application/json", "text/xml"]}]}
    return respond_document(doc, fmt, "discovery")


@router.get("/services.{fmt}", responses=XML)
def services(fmt: Format):
    return respond([_service(c) for c in CATEGORIES], fmt, "services", "service")


@router.get("/services/{service_code}.{fmt}", responses=XML)
def service_definition(service_code: str, fmt: Format):
    if service_code not in CATEGORY_BY_CODE:
        return error_response(404, _("no service {code}").format(code=service_code), fmt)
    return respond_document({"service_code": service_code, "attributes": []}, fmt,
                            "service_definition")


def _public(row: dict, street_names: dict[str, str]) -> dict:
    category = CATEGORY_BY_CODE[row["category_code"]]
    reported = as_dt(row["reported_at"])
    street = row["street_code"]
    agency = (f"{street_names.get(street, street)} (grid {row['grid_code']})" if street
              else None)
    return {
        "service_request_id": str(row["id"]),
        "status": "closed" if row["state"] in TERMINAL else "open",
        "status_notes": STATUS_NOTES[row["state"]],
        "service_name": category.name_zh,
        "service_code": category.code,
        "description": None,
        "agency_responsible": agency,
        "service_notice": None,
        "requested_datetime": reported.isoformat(),
        "updated_datetime": as_dt(row["updated_at"]).isoformat(),
        "expected_datetime": expected_close(category.code, reported).isoformat(),
        "address": None,
        "address_id": None,
        "zipcode": None,
        "lat": round(float(row["lat"]), PUBLIC_DECIMALS),
        "long": round(float(row["lon"]), PUBLIC_DECIMALS),
        "media_url": None,
    }


def _public_list(found: public.Published) -> list[dict]:
    return [_public(r, found.street_names) for r in found.rows]


@router.get("/requests.{fmt}", responses=XML)
def get_requests(fmt: Format, store: Store = Depends(deps.store),
                 now: datetime = Depends(deps.now),
                 service_request_id: Annotated[str | None, Query(max_length=2000)] = None,
                 service_code: Annotated[str | None, Query(max_length=200)] = None,
                 start_date: deps.Timestamp | None = None,
                 end_date: deps.Timestamp | None = None,
                 status: Literal["open", "closed"] | None = None):
    """Public list of requests (the last 90 days unless dates are given; at most 1000)."""
    ids = codes = window = None
    if service_request_id:
        try:
            ids = tuple(int(v) for v in service_request_id.split(",") if v.strip())
            if not all(1 <= i <= MAX_ID for i in ids):
                raise ValueError
        except ValueError:
            return error_response(400, _("service_request_id must be a comma-separated list of ids"),
                                  fmt)
    else:
        end = utc(end_date) or now
        start = utc(start_date) or end - DEFAULT_WINDOW
        if start >= end:
            return error_response(400, _("start_date must be before end_date"), fmt)
        window = (start, end)
    if service_code:
        codes = tuple(c for c in service_code.split(",") if c)
        unknown = [c for c in codes if c not in CATEGORY_BY_CODE]
        if unknown:
            return error_response(400, _("unknown service_code {codes}").format(
                codes=", ".join(unknown)), fmt)
    found = public.published_requests(store, MAX_REQUESTS, ids=ids, window=window,
                                      categories=codes, status=status)
    return respond(_public_list(found), fmt, "service_requests", "request")


@router.get("/requests/{request_id}.{fmt}", responses=XML)
def get_request(request_id: Id, fmt: Format, store: Store = Depends(deps.store)):
    items = _public_list(public.published_request(store, request_id))
    if not items:
        return error_response(404, _("no service request {id}").format(id=request_id), fmt)
    return respond(items, fmt, "service_requests", "request")


@router.get("/tokens/{token}.{fmt}", responses=XML)
def get_token(token: Annotated[str, Path(max_length=100)], fmt: Format,
              store: Store = Depends(deps.store)):
    issue_id = public.issue_for_token(store, token)
    if issue_id is None:
        return error_response(404, _("no service request with this token"), fmt)
    return respond([{"service_request_id": str(issue_id), "token": token}], fmt,
                   "service_requests", "request")


@router.post("/requests.{fmt}", status_code=201, responses={
    201: XML[200], 403: {**_ERRORS, "description": "no valid api_key"},
    409: {**_ERRORS, "description": "the report conflicts with the current data"},
    415: {**_ERRORS, "description": "a JSON body not in UTF-8 (send a form)"}})
def post_request(fmt: Format, request: Request, store: Store = Depends(deps.store),
                 now: datetime = Depends(deps.now),
                 api_key: Annotated[str, Form(max_length=200)] = "",
                 service_code: Annotated[str, Form(max_length=20)] = "",
                 lat: Annotated[float | None, Form(allow_inf_nan=False)] = None,
                 long: Annotated[float | None, Form(allow_inf_nan=False)] = None,
                 description: Annotated[str, Form(max_length=4000)] = "",
                 address_string: Annotated[str | None, Form(max_length=500)] = None,
                 jurisdiction_id: Annotated[str | None, Form(max_length=100)] = None,
                 email: Annotated[str | None, Form(max_length=200)] = None,
                 first_name: Annotated[str | None, Form(max_length=100)] = None,
                 last_name: Annotated[str | None, Form(max_length=100)] = None,
                 phone: Annotated[str | None, Form(max_length=50)] = None,
                 device_id: Annotated[str | None, Form(max_length=200)] = None,
                 account_id: Annotated[str | None, Form(max_length=200)] = None,
                 media_url: Annotated[str | None, Form(max_length=2000)] = None):
    """File a request (form-encoded, with the client's api_key). Coordinates are WGS84;
    media_url is never fetched: send photos through the main API instead."""
    if jurisdiction_id and jurisdiction_id != request.app.state.settings.open311_jurisdiction:
        return error_response(404, _("unknown jurisdiction_id {id}").format(
            id=jurisdiction_id), fmt)
    actor = actor_for_api_key(store, api_key) if api_key else None
    if actor is None:
        return error_response(403, _("a valid api_key is required to post requests"), fmt)
    if service_code not in CATEGORY_BY_CODE:
        return error_response(400, _("unknown service_code {code}; see services.{fmt}").format(
            code=service_code, fmt=fmt),
                              fmt)
    if lat is None or long is None:
        return error_response(400, _("lat and long are required (addresses are not geocoded)"), fmt)
    try:
        body = report(store, actor, Report(service_code, description, long, lat, "wgs84",
                                           address_string), now, channel="open311",
                      policy=deps.ranking_policy(request))
    except (InvalidInput, Forbidden, NotFound, InvalidText) as exc:
        return error_response(400, str(exc), fmt)
    except CaseError as exc:
        return error_response(409, str(exc), fmt)
    expected = expected_close(service_code, now).isoformat()
    return respond([{"service_request_id": str(body["issue"]["id"]),
                     "token": body["open311_token"],
                     "service_notice": f"expected to be handled by {expected}",
                     "account_id": None}], fmt, "service_requests", "request", 201)
