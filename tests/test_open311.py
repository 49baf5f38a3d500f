"""Open311 GeoReport v2: every response validates against the JSON Schemas in
../shared/data/open311/; posting needs an api_key; the public list hides private fields."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import httpx
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from tests.conftest import shared_data

SCHOOL = "电东胡同小学门口"
BASE = "/open311/v2"


@pytest.fixture(scope="module")
def schemas():
    folder = shared_data("open311")
    docs = {p.name: json.loads(p.read_text()) for p in folder.glob("*.json")}
    registry = Registry().with_resources(
        (name, Resource.from_contents(doc, default_specification=_draft()))
        for name, doc in docs.items())
    return {name.removesuffix(".json"): Draft202012Validator(doc, registry=registry)
            for name, doc in docs.items()}


def _draft():
    from referencing.jsonschema import DRAFT202012

    return DRAFT202012


def valid(schemas, name, doc):
    errors = list(schemas[name].iter_errors(doc))
    assert errors == [], [e.message for e in errors]


def post(c, city, **form):
    lon, lat = city.landmarks[SCHOOL]
    data = {"api_key": "demo", "service_code": "L01", "lat": lat, "long": lon,
            "description": "摊贩占道", **form}
    return c.post(f"{BASE}/requests.json", data=data)


def test_services_and_definitions(api, schemas):
    with httpx.Client(base_url=api.url) as c:
        services = c.get(f"{BASE}/services.json").json()
        valid(schemas, "services", services)
        assert {s["service_code"] for s in services} >= {"L01", "S01", "E01"}
        definition = c.get(f"{BASE}/services/L01.json").json()
        valid(schemas, "service-definition", definition)
        assert c.get(f"{BASE}/services/Z99.json").status_code == 404
        discovery = c.get(f"{BASE}/discovery.json").json()
        assert discovery["endpoints"][0]["url"].endswith("/open311/v2")


def test_post_then_read_back(api, city, schemas):
    with httpx.Client(base_url=api.url) as c:
        r = post(c, city)
        assert r.status_code == 201, r.text
        created = r.json()[0]
        rid, token = created["service_request_id"], created["token"]
        one = c.get(f"{BASE}/requests/{rid}.json").json()
        valid(schemas, "requests", one)
        assert one[0]["status"] == "open" and one[0]["service_code"] == "L01"
        assert "长春路街道" in one[0]["agency_responsible"]
        assert one[0]["description"] is None  # descriptions stay private
        assert one[0]["expected_datetime"] > one[0]["requested_datetime"]
        lon, lat = city.landmarks[SCHOOL]
        assert abs(one[0]["lat"] - lat) <= 0.0005 and one[0]["lat"] == round(one[0]["lat"], 3)
        assert c.get(f"{BASE}/tokens/{token}.json").json() == [
            {"service_request_id": rid, "token": token}]
        listed = c.get(f"{BASE}/requests.json", params={"service_code": "L01",
                                                        "status": "open"}).json()
        valid(schemas, "requests", listed)
        assert rid in {x["service_request_id"] for x in listed}
        assert all(x["status"] == "open" for x in listed)
        closed = c.get(f"{BASE}/requests.json", params={"status": "closed"}).json()
        valid(schemas, "requests", closed)
        assert closed and all(x["status"] == "closed" for x in closed)
    with api.client("citizen") as c:  # the report belongs to the key's user
        mine = c.get("/api/v1/issues").json()["items"]
        assert [str(i["id"]) for i in mine] == [rid]


def test_posting_needs_a_key_and_good_values(api, city):
    with httpx.Client(base_url=api.url) as c:
        r = post(c, city, api_key="wrong")
        assert r.status_code == 403 and r.json()[0]["code"] == 403
        r = post(c, city, service_code="Z99")
        assert r.status_code == 400 and "unknown service_code" in r.json()[0]["description"]
        r = post(c, city, lat="north")
        assert r.status_code == 400 and r.json()[0]["code"] == 400
        r = post(c, city, lat=45.5, long=127.9)
        assert r.status_code == 400 and "outside every grid" in r.json()[0]["description"]
        r = post(c, city, jurisdiction_id="110000")
        assert r.status_code == 404
        r = post(c, city, media_url="http://127.0.0.1:9/never-fetched.jpg")
        assert r.status_code == 201  # accepted, and the URL is never fetched


def test_xml_format(api, city):
    with httpx.Client(base_url=api.url) as c:
        services = ET.fromstring(c.get(f"{BASE}/services.xml").content)
        assert services.tag == "services" and services.find("service/service_code") is not None
        rid = post(c, city).json()[0]["service_request_id"]
        doc = ET.fromstring(c.get(f"{BASE}/requests/{rid}.xml").content)
        assert doc.find("request/service_request_id").text == rid
        err = c.get(f"{BASE}/requests/999999999.xml")
        assert err.status_code == 404 and ET.fromstring(err.content).tag == "errors"
