"""Bad input gets a 4xx a person understands and writes nothing; retries are idempotent;
concurrent claims have exactly one winner."""

from __future__ import annotations

import struct
import zlib
from concurrent.futures import ThreadPoolExecutor

import pytest

SCHOOL = "电东胡同小学门口"


def count_issues(api) -> int:
    with api.store.tx() as tx:
        return tx.one("SELECT count(*) AS n FROM issue")["n"]


@pytest.mark.parametrize("payload, status, words", [
    ({"lon": 126.55, "lat": 10.0}, 422, "swapped"),  # far outside the metric CRS's area
    ({"lon": 43.86, "lat": 126.47}, 422, "swapped"),
    ({"lon": 127.9, "lat": 45.5}, 422, "outside every grid"),  # in Jilin, not in the city
    ({"lon": "NaN"}, 422, "finite number"),
    ({"lon": "Infinity"}, 422, "finite number"),
    ({"lon": "east"}, 422, "lon"),
    ({"category_code": "Z99"}, 422, "category_code"),
    ({"crs": "epsg3857"}, 422, "crs"),
    ({"description": "x" * 4001}, 422, "description"),
])
def test_bad_reports_are_refused_and_nothing_is_written(api, city, payload, status, words):
    lon, lat = city.landmarks[SCHOOL]
    before = count_issues(api)
    with api.client("dispatcher", lang="en") as c:  # the English words of each refusal
        r = c.post("/api/v1/issues", json={"category_code": "L01", "lon": lon, "lat": lat,
                                           **payload})
    assert r.status_code == status, r.text
    assert words in r.json()["detail"]
    assert r.json()["code"] in ("invalid_coordinates", "outside_city", "validation_failed")
    assert count_issues(api) == before


def test_nul_characters_are_refused_on_every_backend(api, city):
    """PostgreSQL cannot store NUL in text; SQLite could, so both refuse it alike."""
    lon, lat = city.landmarks[SCHOOL]
    before = count_issues(api)
    with api.client("dispatcher") as c:
        r = c.post("/api/v1/issues", json={"category_code": "L01", "description": "a\x00b",
                                           "lon": lon, "lat": lat})
        assert r.status_code == 422 and "NUL" in r.json()["detail"]
        assert r.json()["code"] == "invalid_text"
    with api.client("supervisor") as c:
        r = c.put("/api/v1/mode", json={"mode": "emergency", "reason": "\x00"})
        assert r.status_code == 422
        assert c.get("/api/v1/mode").json()["mode"] == "normal"
    assert count_issues(api) == before


def test_raw_nan_literal_in_json_is_refused(api, city):
    with api.client("dispatcher") as c:
        r = c.post("/api/v1/issues", content=b'{"category_code": "L01", "lon": NaN, "lat": 43.8}',
                   headers={"Content-Type": "application/json"})
        assert r.status_code == 422 and "finite" in r.json()["detail"]
        r = c.post("/api/v1/issues", content=b'{"category_code": "L01", "lon": 1e999, "lat": 43.8}',
                   headers={"Content-Type": "application/json"})
        assert r.status_code == 422 and "finite" in r.json()["detail"]
        r = c.post("/api/v1/issues", content=b'{"category_code": ', headers={
            "Content-Type": "application/json"})
        assert r.status_code == 422


def test_body_and_page_limits(api, city):
    with api.client("dispatcher") as c:
        r = c.post("/api/v1/issues", content=b"{" + b" " * 300_000 + b"}",
                   headers={"Content-Type": "application/json"})
        assert r.status_code == 413 and r.json()["code"] == "body_too_large"
        assert c.get("/api/v1/issues", params={"limit": 5001}).status_code == 422
        assert c.get("/api/v1/issues", params={"bbox": "1,2,3"}).status_code == 422
        assert c.get("/api/v1/issues", params={"bbox": "127,44,126,43"}).status_code == 422
        assert c.get("/api/v1/issues", params={"state": "lost"}).status_code == 422


def test_retries_with_the_same_key_create_one_issue(api, city):
    lon, lat = city.landmarks[SCHOOL]
    body = {"category_code": "L01", "description": "retry me", "lon": lon, "lat": lat}
    before = count_issues(api)
    with api.client("dispatcher") as c:
        first = c.post("/api/v1/issues", json=body, headers={"Idempotency-Key": "abc-1"})
        again = c.post("/api/v1/issues", json=body, headers={"Idempotency-Key": "abc-1"})
        changed = c.post("/api/v1/issues", json={**body, "description": "other"},
                         headers={"Idempotency-Key": "abc-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert changed.status_code == 422 and changed.json()["code"] == "idempotency_key_reused"
    assert count_issues(api) == before + 1
    with api.client("operator") as c:  # keys are per user: the same key is new for another
        other = c.post("/api/v1/issues", json=body, headers={"Idempotency-Key": "abc-1"})
    assert other.status_code == 201 and other.json()["issue"]["id"] != first.json()["issue"]["id"]


def test_concurrent_retries_with_one_key_create_one_issue(api, city):
    lon, lat = city.landmarks[SCHOOL]
    body = {"category_code": "L03", "lon": lon, "lat": lat}
    before = count_issues(api)
    token = api.token("dispatcher")

    def post(_):
        with api.client() as c:
            return c.post("/api/v1/issues", json=body, headers={
                "Idempotency-Key": "race-1", "Authorization": f"Bearer {token}"})

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(post, range(8)))
    assert {r.status_code for r in answers} == {201}
    assert len({r.json()["issue"]["id"] for r in answers}) == 1
    assert count_issues(api) == before + 1


def test_twenty_concurrent_claims_have_one_winner(api, city):
    lon, lat = city.landmarks[SCHOOL]
    with api.client("dispatcher") as c:
        iid = c.post("/api/v1/issues", json={"category_code": "L01", "lon": lon,
                                             "lat": lat}).json()["issue"]["id"]
        assert c.post(f"/api/v1/issues/{iid}/accept", json={}).status_code == 200
        team = api.client("team").get("/api/v1/users/me").json()["team_id"]
        assert c.post(f"/api/v1/issues/{iid}/dispatch",
                      json={"team_ids": [team]}).status_code == 200
    token = api.token("team")

    def claim(_):
        with api.client() as c:
            return c.post(f"/api/v1/issues/{iid}/claim", json={},
                          headers={"Authorization": f"Bearer {token}"}).status_code

    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(claim, range(20)))
    assert sorted(codes) == [200] + [409] * 19
    with api.client("supervisor") as c:
        trail = c.get(f"/api/v1/issues/{iid}/events").json()
    assert [e["action"] for e in trail].count("claim") == 1


def test_two_dispatchers_cannot_both_dispatch(api, city):
    lon, lat = city.landmarks[SCHOOL]
    with api.client("dispatcher") as c:
        iid = c.post("/api/v1/issues", json={"category_code": "L01", "lon": lon,
                                             "lat": lat}).json()["issue"]["id"]
        c.post(f"/api/v1/issues/{iid}/accept", json={})
        teams = [t["team_id"] for t in c.get(f"/api/v1/issues/{iid}/candidates").json()
                 ["candidates"]][:2]
    tokens = [api.token("dispatcher"), api.token("supervisor")]

    def dispatch(i):
        with api.client() as c:
            return c.post(f"/api/v1/issues/{iid}/dispatch", json={"team_ids": [teams[i % 2]]},
                          headers={"Authorization": f"Bearer {tokens[i % 2]}"}).status_code

    with ThreadPoolExecutor(10) as pool:
        codes = list(pool.map(dispatch, range(10)))
    assert sorted(codes) == [200] + [409] * 9
    with api.store.tx() as tx:
        active = tx.rows("SELECT team_id FROM assignment WHERE issue_id = :i AND active = :y",
                         {"i": iid, "y": True})
    assert len(active) == 1


def _png(width=2, height=2) -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                               0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_photos_are_uploaded_checked_and_served(api, city):
    lon, lat = city.landmarks[SCHOOL]
    with api.client("citizen") as c:
        iid = c.post("/api/v1/issues", json={"category_code": "L01", "lon": lon,
                                             "lat": lat}).json()["issue"]["id"]
        png = _png()
        r = c.post(f"/api/v1/issues/{iid}/photos", files={"file": ("a.png", png, "image/png")})
        assert r.status_code == 201, r.text
        assert r.json()["content_type"] == "image/png" and r.json()["size"] == len(png)
        got = c.get(f"/api/v1/issues/{iid}/photos/{r.json()['id']}")
        assert got.content == png and got.headers["content-type"] == "image/png"
        bad = c.post(f"/api/v1/issues/{iid}/photos",
                     files={"file": ("x.png", b"<svg onload=alert(1)>", "image/png")})
        assert bad.status_code == 422 and bad.json()["code"] == "unsupported_photo"
        big = c.post(f"/api/v1/issues/{iid}/photos",
                     files={"file": ("big.png", png + b"\0" * 6_000_000, "image/png")})
        assert big.status_code == 413
        assert len(c.get(f"/api/v1/issues/{iid}/photos").json()) == 1
    with api.client("grid_worker") as c:  # same street: may see the report and its photo
        assert c.get(f"/api/v1/issues/{iid}/photos").status_code == 200
