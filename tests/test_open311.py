"""Open311 GeoReport v2: every response validates against the JSON Schemas in
../shared/data/open311/; posting needs an api_key; the public list hides private fields."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

import httpx
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from api.cli import main as cli
from fixtures.jilin import REFERENCE_TIME
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
    api.now = REFERENCE_TIME  # the demo city's "now": its closed reports lie in the 90 days before
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
        api.now = REFERENCE_TIME + timedelta(minutes=1)  # the list ends before now
        listed = c.get(f"{BASE}/requests.json", params={"service_code": "L01",
                                                        "status": "open"}).json()
        valid(schemas, "requests", listed)
        assert rid in {x["service_request_id"] for x in listed}
        assert all(x["status"] == "open" for x in listed)
        closed = c.get(f"{BASE}/requests.json", params={"status": "closed"}).json()
        valid(schemas, "requests", closed)
        assert closed and all(x["status"] == "closed" for x in closed)
        assert all(api.now - timedelta(days=90) <= datetime.fromisoformat(x["requested_datetime"])
                   < api.now for x in closed)
    with api.client("citizen") as c:  # the report belongs to the key's user
        mine = c.get("/api/v1/issues").json()["items"]
        assert [str(i["id"]) for i in mine] == [rid]
        assert mine[0]["description"] == "摊贩占道"  # the Chinese text, exactly as posted


def test_chinese_text_is_stored_exactly_as_sent(api, city):
    """Percent-encoded (as httpx sends forms) and raw UTF-8 (as phone apps do)."""
    lon, lat = city.landmarks[SCHOOL]
    raw = (f"api_key=demo&service_code=L01&lat={lat}&long={lon}&description=占道&"
           "address_string=珲春街").encode()
    with httpx.Client(base_url=api.url) as c:
        sent = [post(c, city, address_string="珲春街", description="占道"),
                c.post(f"{BASE}/requests.json", content=raw, headers={
                    "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})]
    with api.client("citizen") as c:
        for r in sent:
            assert r.status_code == 201, r.text
            issue = c.get(f"/api/v1/issues/{r.json()[0]['service_request_id']}").json()
            assert (issue["address"], issue["description"]) == ("珲春街", "占道")


def test_posting_needs_a_key_and_good_values(api, city):
    with httpx.Client(base_url=api.url, headers={"Accept-Language": "en"}) as c:
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


def _xml_as_json(node: ET.Element, lists=("attributes", "values", "endpoints", "formats")):
    """A GeoReport v2 XML document read back as its JSON twin (lists are the plural tags)."""
    if node.tag in lists:
        return [_xml_as_json(child) for child in node]
    if len(node):
        return {child.tag: _xml_as_json(child) for child in node}
    return node.text


def test_xml_documents_mirror_the_json(api, schemas):
    """A service definition and the discovery document are one element each, holding the
    fields of the JSON document, never a second element of the same name inside."""
    with httpx.Client(base_url=api.url) as c:
        for path, root, schema in (("services/L01", "service_definition", "service-definition"),
                                   ("discovery", "discovery", None)):
            doc = c.get(f"{BASE}/{path}.json").json()
            xml = ET.fromstring(c.get(f"{BASE}/{path}.xml").content)
            assert xml.tag == root and xml.find(root) is None
            assert [child.tag for child in xml] == list(doc)
            mirrored = _xml_as_json(xml)
            if schema:
                valid(schemas, schema, mirrored)
            assert mirrored == doc
        assert doc["endpoints"][0]["formats"] == ["application/json", "text/xml"]


def test_xml_format(api, city):
    with httpx.Client(base_url=api.url) as c:
        services = ET.fromstring(c.get(f"{BASE}/services.xml").content)
        assert services.tag == "services" and services.find("service/service_code") is not None
        rid = post(c, city).json()[0]["service_request_id"]
        doc = ET.fromstring(c.get(f"{BASE}/requests/{rid}.xml").content)
        assert doc.find("request/service_request_id").text == rid
        err = c.get(f"{BASE}/requests/999999999.xml")
        assert err.status_code == 404 and ET.fromstring(err.content).tag == "errors"


def test_a_post_refuses_an_api_key_in_the_query_string(api, city):
    """Query strings are written to access and proxy logs; GeoReport v2 posts the key in the
    body."""
    lon, lat = city.landmarks[SCHOOL]
    form = {"service_code": "L01", "lat": lat, "long": lon, "description": "摊贩占道"}
    with httpx.Client(base_url=api.url) as c:
        for body in (form, {**form, "api_key": "demo"}):
            r = c.post(f"{BASE}/requests.json", params={"api_key": "demo"}, data=body)
            assert r.status_code == 400, r.text
            assert "表单请求体" in r.json()[0]["description"]  # in Chinese unless asked
        r = c.post(f"{BASE}/requests.xml?api_key=demo", data=form)
        assert r.status_code == 400 and ET.fromstring(r.content).tag == "errors"
        assert c.get(f"{BASE}/services.json", params={"api_key": "demo"}).status_code == 200


def test_api_keys_outlive_sessions_until_revoked(api, city, store, capsys, monkeypatch):
    monkeypatch.setenv("GRIDDISPATCH_LANG", "en")  # the command line's sentences, in English
    db = ["--db", store.url if store.backend == "postgis" else f"sqlite:///{store.path}"]
    assert cli([*db, "api-keys", "add", "citizen"]) == 0
    issued = capsys.readouterr().out.strip()
    assert cli([*db, "users", "end-sessions", "citizen"]) == 0
    with httpx.Client(base_url=api.url) as c:
        for key in ("demo", issued):  # separate credentials: ending sessions leaves them
            assert post(c, city, api_key=key).status_code == 201
        assert cli([*db, "api-keys", "revoke", "citizen"]) == 0
        assert "revoked 2 API keys of citizen" in capsys.readouterr().out
        for key in ("demo", issued):
            r = post(c, city, api_key=key)
            assert r.status_code == 403 and "有效的 api_key" in r.json()[0]["description"]
    assert cli([*db, "api-keys", "revoke", "nobody"]) == 2
    assert "no user nobody" in capsys.readouterr().err
