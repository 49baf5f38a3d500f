"""Text, formats and parameters on the wire, over HTTP on both backends: form bodies are read
in the charset they declare (UTF-8 when none) and refused when they are not valid in it; JSON
is UTF-8 with strict types; an unknown query parameter is an error on every endpoint, never
silently ignored; the network and category filters users expect are applied."""

from __future__ import annotations

import re
from urllib.parse import quote_from_bytes

import httpx
import pytest
from fastapi.routing import APIRoute

from geo.casework.users import add_user
from geo.taxonomy import CATEGORIES

MARKET = "珲春街夜市"  # in 向阳街道, where the demo staff work
TEXT = "珲春街"
FORM = "application/x-www-form-urlencoded"
OPEN311 = "/open311/v2/requests.json"
COMMUNITY = "220204002001"  # in 向阳街道; 船营区 is the planner's
SAFETY = {c.code for c in CATEGORIES if c.network == "safety"}


def count_issues(c: httpx.Client) -> int:
    """The issues the client's user sees."""
    return c.get("/api/v1/issues", params={"limit": 1}).json()["total"]


def _open311_form(city, address: bytes, description: bytes) -> bytes:
    lon, lat = city.landmarks[MARKET]
    return (f"api_key=demo&service_code=L01&lat={lat}&long={lon}&".encode() +
            b"address_string=" + address + b"&description=" + description)


def _read_back(api, service_request_id: str) -> dict:
    with api.client("citizen") as c:  # the demo key's user
        r = c.get(f"/api/v1/issues/{service_request_id}")
        assert r.status_code == 200, r.text
        return r.json()


def test_open311_form_text_is_read_in_its_declared_charset(api, city):
    """Raw UTF-8 as phone apps send it, with or without a declared charset; percent-encoded
    UTF-8; GB18030 and GBK, raw and percent-encoded, when declared."""
    utf8, gb = TEXT.encode(), TEXT.encode("gb18030")
    bodies = [
        (utf8, "; charset=utf-8"),
        (utf8, ""),
        (quote_from_bytes(utf8).encode(), ""),
        (gb, "; charset=gb18030"),
        (quote_from_bytes(gb).encode(), "; charset=GBK"),
    ]
    with httpx.Client(base_url=api.url, timeout=30) as c:
        for raw, charset in bodies:
            r = c.post(OPEN311, content=_open311_form(city, raw, raw + b"+" + raw),
                       headers={"Content-Type": FORM + charset})
            assert r.status_code == 201, (charset, r.text)
            issue = _read_back(api, r.json()[0]["service_request_id"])
            assert issue["address"] == TEXT, charset
            assert issue["description"] == f"{TEXT} {TEXT}", charset


def test_form_text_that_is_not_valid_in_its_charset_is_refused(api, city):
    citizen = api.client("citizen")  # the demo key's user
    before = count_issues(citizen)
    cases = [
        (b"\xff\xfe" + TEXT.encode(), "", "address_string", "UTF-8"),
        (b"%E7%8F", "", "address_string", "UTF-8"),  # percent-encoded, cut in a character
        (TEXT.encode("gb18030"), "", "address_string", "UTF-8"),  # GB18030 sent undeclared
        (b"\x81", "; charset=gb18030", "address_string", "GB18030"),
        (TEXT.encode(), "; charset=koi8-r", "koi8-r", "UTF-8"),
    ]
    with httpx.Client(base_url=api.url, timeout=30) as c:
        for raw, charset, named, expected in cases:
            r = c.post(OPEN311, content=_open311_form(city, raw, b"x"),
                       headers={"Content-Type": FORM + charset})
            assert r.status_code == 400, (raw, r.text)
            error = r.json()[0]
            assert error["code"] == 400
            assert named in error["description"] and expected in error["description"], error
        xml = c.post("/open311/v2/requests.xml", content=_open311_form(city, b"\xff", b"x"),
                     headers={"Content-Type": FORM})
        assert xml.status_code == 400 and xml.headers["content-type"].startswith("text/xml")
        assert b"<errors><error><code>400</code>" in xml.content
    assert count_issues(citizen) == before
    citizen.close()


def test_login_forms_are_read_in_their_charset(api, store):
    add_user(store, "lihua", f"{TEXT}的口令", "operator", ["220204002"])
    password = f"{TEXT}的口令".encode()
    with httpx.Client(base_url=api.url, timeout=30) as c:
        for body, charset in ((b"username=lihua&password=" + password, ""),
                              (b"username=lihua&password=" + f"{TEXT}的口令".encode("gb18030"),
                               "; charset=gb18030")):
            token = c.post("/api/v1/auth/token", content=body,
                           headers={"Content-Type": FORM + charset})
            assert token.status_code == 200, (charset, token.text)
            me = c.get("/api/v1/users/me",
                       headers={"Authorization": f"Bearer {token.json()['access_token']}"})
            assert me.json()["username"] == "lihua"
        session = c.post("/api/v1/auth/session", content=b"username=lihua&password=" + password,
                         headers={"Content-Type": FORM})
        assert session.status_code == 204 and "griddispatch" in session.headers["set-cookie"]
        for url in ("/api/v1/auth/token", "/api/v1/auth/session"):
            bad = c.post(url, content=b"username=lihua&password=\xe7\x8f",
                         headers={"Content-Type": FORM})
            assert bad.status_code == 400, bad.text
            assert "password" in bad.json()["detail"] and "UTF-8" in bad.json()["detail"]


def _multipart(fields: list[tuple[str, bytes]], file: tuple[str, str, bytes] | None = None,
               boundary: str = "gd-boundary-7") -> bytes:
    out = b""
    for name, value in fields:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                .encode() + value + b"\r\n")
    if file is None:
        return out + f"--{boundary}--\r\n".encode()
    field, filename, data = file
    out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; "
            f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            .encode() + data + b"\r\n")
    return out + f"--{boundary}--\r\n".encode()


def test_multipart_text_fields_are_read_in_their_charset(api):
    """The planning import names its columns in form fields: a Chinese column name arrives
    whole in UTF-8 or in declared GB18030; bytes that are not text are refused."""
    import json

    with api.client("planner") as c:
        doc = c.post("/api/v1/plans", json={"area_code": COMMUNITY}).json()
        draft = doc["draft"]["id"]
        features = [{"type": "Feature", "geometry": f["geometry"],
                     "properties": {"code": f["properties"]["code"], "名称": f"{TEXT}{i}"}}
                    for i, f in enumerate(doc["features"])]
        data = json.dumps({"type": "FeatureCollection", "features": features}).encode()
        file = ("file", "plan.geojson", data)
        etag = doc["draft"]["etag"]
        bad = c.post(f"/api/v1/plans/{draft}/import",
                     content=_multipart([("name_field", b"\xe5\x90\x8d\xff")], file),
                     headers={"If-Match": etag,
                              "Content-Type": "multipart/form-data; boundary=gd-boundary-7"})
        assert bad.status_code == 400 and "name_field" in bad.json()["detail"], bad.text
        assert c.get(f"/api/v1/plans/{draft}").headers["ETag"] == etag  # nothing changed
        for value, charset in (("名称".encode(), ""), ("名称".encode("gb18030"), "; charset=gb18030")):
            r = c.post(f"/api/v1/plans/{draft}/import",
                       content=_multipart([("name_field", value)], file),
                       headers={"If-Match": etag, "Content-Type":
                                f"multipart/form-data{charset}; boundary=gd-boundary-7"})
            assert r.status_code == 200, r.text
            etag = r.headers["ETag"]
            names = sorted(f["properties"]["name"] for f in r.json()["features"])
            assert names == sorted(f"{TEXT}{i}" for i in range(len(features)))


def test_multipart_text_in_the_gb_charsets_is_stored_as_sent(api, city):
    """Every GB label we accept, on an Open311 multipart form: 镕 is GBK, outside GB2312, as
    phones send it under that label; Python has no codec named x-gbk."""
    lon, lat = city.landmarks[MARKET]
    with httpx.Client(base_url=api.url, timeout=30) as c:
        for text, charset in (("朱镕基", "gb2312"), ("电东", "x-gbk"), ("电东社区", "GBK"),
                              (TEXT, '"gb18030"')):
            fields = [("api_key", b"demo"), ("service_code", b"L01"), ("lat", str(lat).encode()),
                      ("long", str(lon).encode()), ("description", text.encode("gb18030"))]
            r = c.post(OPEN311, content=_multipart(fields, boundary="gd=b:7"),
                       headers={"Content-Type": f'multipart/form-data; charset={charset}; '
                                                'boundary="gd=b:7"'})
            assert r.status_code == 201, (charset, r.text)
            assert _read_back(api, r.json()[0]["service_request_id"])["description"] == text, charset


def test_a_body_with_two_content_types_is_refused(api, city):
    """Starlette reads the first Content-Type; the encoding rules must not judge by another."""
    lon, lat = city.landmarks[MARKET]
    text = f'{{"category_code": "L01", "description": "{TEXT}", "lon": {lon}, "lat": {lat}}}'
    with api.client("dispatcher", lang="en") as c:
        before = count_issues(c)
        for types in (("application/json", "text/plain"), ("text/plain", "application/json"),
                      ("application/json", "application/json")):
            r = c.post("/api/v1/issues", content=text.encode("utf-16"),
                       headers=[("Content-Type", t) for t in types])
            assert r.status_code == 400, (types, r.text)
            assert r.json() == {"code": "multiple_content_types", "detail": (
                "a request body has one Content-Type header; this request has 2")}, types
        assert count_issues(c) == before


def _chunks(data: bytes, size: int = 64 * 1024):
    """A body streamed without Content-Length (chunked)."""
    for at in range(0, len(data), size):
        yield data[at:at + size]


def test_an_oversized_chunked_body_is_refused_with_413(api, city):
    limit = api.app.state.settings.max_body_bytes
    lon, lat = city.landmarks[MARKET]
    padding = b"x" * (limit + 1)
    json_body = (f'{{"category_code": "L01", "lon": {lon}, "lat": {lat}, "description": "'
                 .encode() + padding + b'"}')
    form = b"username=operator&password=" + padding
    multipart = _multipart([("api_key", b"demo"), ("service_code", b"L01"),
                            ("lat", str(lat).encode()), ("long", str(lon).encode()),
                            ("description", padding)])
    with api.client("dispatcher", lang="en") as c:
        before = count_issues(c)
        for url, body, content_type in (
                ("/api/v1/issues", json_body, "application/json"),
                ("/api/v1/auth/token", form, FORM),
                (OPEN311, multipart, "multipart/form-data; boundary=gd-boundary-7")):
            r = c.post(url, content=_chunks(body), headers={"Content-Type": content_type})
            assert r.status_code == 413, (url, r.text)
            assert r.json() == {"code": "body_too_large", "detail": (
                f"the request body is larger than {limit} bytes")}, url
        assert count_issues(c) == before


def test_photo_upload_refuses_text_fields_that_are_not_utf8(api, city):
    lon, lat = city.landmarks[MARKET]
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    with api.client("dispatcher") as c:
        issue = c.post("/api/v1/issues", json={"category_code": "L01", "lon": lon,
                                               "lat": lat}).json()["issue"]["id"]
        r = c.post(f"/api/v1/issues/{issue}/photos",
                   content=_multipart([("caption", b"\xc3(")], ("file", "a.png", png)),
                   headers={"Content-Type": "multipart/form-data; boundary=gd-boundary-7"})
        assert r.status_code == 400 and "caption" in r.json()["detail"], r.text
        r = c.post(f"/api/v1/issues/{issue}/photos",
                   content=_multipart([], ("file", "a.png", png)),
                   headers={"Content-Type": "multipart/form-data; charset=utf-16; "
                                            "boundary=gd-boundary-7"})
        assert r.status_code == 400 and "utf-16" in r.json()["detail"], r.text
        assert c.get(f"/api/v1/issues/{issue}/photos").json() == []


def test_json_bodies_must_be_utf8(api, city):
    lon, lat = city.landmarks[MARKET]
    text = f'{{"category_code": "L01", "description": "{TEXT}", "lon": {lon}, "lat": {lat}}}'
    with api.client("dispatcher") as c:
        before = count_issues(c)
        for body in (text.encode("utf-16-le"), text.encode("utf-16"), text.encode("utf-32"),
                     text.encode("gb18030")):
            r = c.post("/api/v1/issues", content=body,
                       headers={"Content-Type": "application/json"})
            assert r.status_code == 400, r.text
            assert "UTF-8" in r.json()["detail"] and "RFC 8259" in r.json()["detail"]
        r = c.post("/api/v1/issues", content=text.encode("utf-16"),
                   headers={"Content-Type": "application/json; charset=utf-16"})
        assert r.status_code == 415 and "utf-16" in r.json()["detail"]
        assert count_issues(c) == before
        ok = c.post("/api/v1/issues", content=text.encode(),
                    headers={"Content-Type": "application/json; charset=UTF-8"})
        assert ok.status_code == 201, ok.text
        assert ok.json()["issue"]["description"] == TEXT


def test_json_types_are_strict(api, city):
    lon, lat = city.landmarks[MARKET]
    with api.client("admin") as c:
        before = count_issues(c)
        for field, value in (("lon", str(lon)), ("lat", str(lat)), ("lon", True)):
            body = {"category_code": "L01", "lon": lon, "lat": lat, field: value}
            r = c.post("/api/v1/issues", json=body)
            assert r.status_code == 422, r.text
            assert r.json()["detail"].startswith(f"{field}：")  # the field, in Chinese words
            assert r.json()["code"] == "validation_failed"
        assert count_issues(c) == before
        issue = c.post("/api/v1/issues", json={"category_code": "L01", "lon": lon,
                                               "lat": lat}).json()["issue"]["id"]
        merge = c.post(f"/api/v1/issues/{issue}/merge", json={"duplicate_of": str(issue)})
        assert merge.status_code == 422 and merge.json()["detail"].startswith("duplicate_of：")
        assert c.get(f"/api/v1/issues/{issue}").json()["state"] == "reported"
        team = c.get("/api/v1/teams").json()[0]["id"]
        moved = c.patch(f"/api/v1/teams/{team}", json={"lon": 126, "lat": 44})  # ints for floats
        assert moved.status_code == 200, moved.text
        assert (moved.json()["lon"], moved.json()["lat"]) == pytest.approx((126.0, 44.0))
        r = c.patch(f"/api/v1/teams/{team}", json={"lon": "126.5", "lat": 44})
        assert r.status_code == 422 and "lon：须为有限数值，不能是字符串" in r.json()["detail"]
        english = c.patch(f"/api/v1/teams/{team}", json={"lon": "126.5", "lat": 44},
                          headers={"Accept-Language": "en"})
        assert "lon: must be a finite number, not a string" in english.json()["detail"]


def test_network_and_category_filters_are_applied(api):
    with api.client("operator") as c:
        everything = c.get("/api/v1/issues", params={"limit": 1}).json()["total"]
        safety = c.get("/api/v1/issues", params={"network": "safety", "limit": 5000}).json()
        assert 0 < safety["total"] < everything
        assert {i["category_code"] for i in safety["items"]} <= SAFETY
        both = c.get("/api/v1/issues", params={"network": "safety", "category": ["S01", "L01"]})
        assert {i["category_code"] for i in both.json()["items"]} == {"S01"}
        layer = c.get("/api/v1/layers/live/issues", params={"network": "safety"}).json()
        assert layer["features"]
        assert {f["properties"]["category_code"] for f in layer["features"]} <= SAFETY

        def open_total(**filters):
            return c.get("/api/v1/issues", params={"open_only": True, "limit": 1,
                                                   **filters}).json()["total"]

        def stats_open(**filters):
            rows = c.get("/api/v1/stats", params={"level": "street", **filters})
            assert rows.status_code == 200, rows.text
            return sum(r["open"] for r in rows.json())

        assert stats_open() == open_total() > stats_open(category="L01") == open_total(
            category="L01") > 0
        assert stats_open(network="safety") == open_total(network="safety") > 0
        unknown = c.get("/api/v1/stats", params={"network": "traffic"})
        assert unknown.status_code == 422 and "livelihood" in unknown.json()["detail"]


def test_unknown_query_parameters_are_refused(api):
    with api.client("operator") as c:
        r = c.get("/api/v1/issues", params={"netwrok": "safety"})
        assert r.status_code == 422
        detail = r.json()["detail"]
        assert detail.startswith("netwrok：未知查询参数") and "network" in detail
        before = c.get("/api/v1/issues", params={"limit": 1}).json()["total"]
        r = c.post("/api/v1/issues", params={"dry_run": "1"},
                   json={"category_code": "L01", "lon": 126.55, "lat": 43.84})
        assert r.status_code == 422 and "dry_run" in r.json()["detail"]
        assert c.get("/api/v1/issues", params={"limit": 1}).json()["total"] == before
    with httpx.Client(base_url=api.url, timeout=30) as c:
        assert c.get("/healthz", params={"verbose": "1"}).status_code == 422
        r = c.get("/open311/v2/requests.json", params={"ward": "3"})
        assert r.status_code == 400 and "ward" in r.json()[0]["description"]
        r = c.get("/open311/v2/services.xml", params={"ward": "3"})
        assert r.status_code == 400 and b"<errors><error>" in r.content and b"ward" in r.content
        ok = c.get("/open311/v2/services.json", params={"jurisdiction_id": "220200",
                                                        "api_key": "demo"})
        assert ok.status_code == 200
        wrong = c.get("/open311/v2/requests.json", params={"jurisdiction_id": "110000"})
        assert wrong.status_code == 404 and "110000" in wrong.json()[0]["description"]
        page = c.get("/maps/live", params={"layer": "teams"})
        assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
        assert "layer" in page.text and "<h1>" in page.text
        assert c.get("/maps/login", params={"next": "/maps/hotspots?category=L01"}).status_code == 200


def _api_routes(routes) -> list[APIRoute]:
    """Every APIRoute, including those of included routers."""
    out = []
    for route in routes:
        if isinstance(route, APIRoute):
            out.append(route)
        elif hasattr(route, "original_router"):
            out += _api_routes(route.original_router.routes)
    return out


def _example(route: APIRoute) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: "json" if m.group(1) == "fmt" else "1",
                  route.path)


def test_every_endpoint_refuses_an_unknown_query_parameter(api):
    """Before looking at the caller or the body: each route of the app, each method."""
    routes = _api_routes(api.app.routes)
    assert len(routes) > 50
    with httpx.Client(base_url=api.url, timeout=30) as c:
        for route in routes:
            for method in route.methods:
                r = c.request(method, _example(route), params={"zz_unknown": "1"})
                expected = 400 if route.path.startswith(("/open311/", "/ogc")) else 422
                assert r.status_code == expected, (method, route.path, r.status_code, r.text)
                if method != "HEAD":  # an answer to HEAD has no body to name it in
                    assert "zz_unknown" in r.text, (method, route.path)
