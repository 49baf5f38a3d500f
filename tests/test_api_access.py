"""Who may do what: every role against every endpoint, a foreign jurisdiction, citizens'
view, tokens, and fields that only the server may set."""

from __future__ import annotations

import httpx
import jwt
import pytest

from api.app import ProductionRefused, check_production
from api.settings import Settings
from geo.workflow import ROLES
from tests.http import TEST_SECRET

SCHOOL = "电东胡同小学门口"  # 长春路街道, 船营区: the demo staff's jurisdiction
FOREIGN = "劳动路"  # 山前街道, 龙潭区: nobody's but the admin's

# The access rule for each endpoint, written out independently of the code's scope table.
EVERYONE = set(ROLES)
STAFF = EVERYONE - {"citizen"}
RULES = {
    ("GET", "/api/v1/issues"): EVERYONE,
    ("GET", "/api/v1/issues/overdue"): {"supervisor", "admin"},
    ("GET", "/api/v1/issues/{id}"): EVERYONE,
    ("GET", "/api/v1/issues/{id}/events"): STAFF,
    ("GET", "/api/v1/issues/{id}/candidates"): {"dispatcher", "supervisor", "admin"},
    ("GET", "/api/v1/issues/{id}/nearby"): {"operator", "dispatcher", "supervisor", "admin"},
    ("GET", "/api/v1/issues/{id}/photos"): EVERYONE,
    ("POST", "/api/v1/issues"): {"grid_worker", "citizen", "operator", "dispatcher",
                                 "supervisor", "admin"},
    ("GET", "/api/v1/teams"): STAFF,
    ("GET", "/api/v1/mode"): EVERYONE,
    ("PUT", "/api/v1/mode"): {"supervisor", "admin"},
    ("GET", "/api/v1/stats"): EVERYONE,
    ("GET", "/api/v1/layers/grids"): STAFF,
    ("GET", "/api/v1/layers/cameras"): STAFF,
    ("GET", "/api/v1/layers/sites"): STAFF,
    ("GET", "/api/v1/layers/areas/streets"): STAFF,
    ("GET", "/api/v1/layers/live/teams"): STAFF,
    ("GET", "/api/v1/layers/live/issues"): EVERYONE,
    ("GET", "/api/v1/layers/dispatch/{id}"): {"dispatcher", "supervisor", "admin"},
    ("GET", "/api/v1/hotspots/clusters"): {"operator", "dispatcher", "supervisor", "planner",
                                           "admin"},
    ("GET", "/api/v1/hotspots/emerging"): {"operator", "dispatcher", "supervisor", "planner",
                                           "admin"},
    ("GET", "/api/v1/users/me"): EVERYONE,
}


def _new_issue(api, city, user, place=SCHOOL):
    lon, lat = city.landmarks[place]
    with api.client(user) as c:
        r = c.post("/api/v1/issues", json={"category_code": "L01", "lon": lon, "lat": lat})
    assert r.status_code == 201, r.text
    return r.json()["issue"]


def test_every_role_against_every_endpoint(api, city):
    """Allowed roles get an answer; the others a 403. Issue endpoints use an issue that every
    role can see (a citizen's report in the staff's street, dispatched to the demo team)."""
    issue = _new_issue(api, city, "citizen")
    with api.client("operator") as c:
        assert c.post(f"/api/v1/issues/{issue['id']}/accept", json={}).status_code == 200
    with api.client("team") as c:
        team = c.get("/api/v1/users/me").json()["team_id"]
    with api.client("dispatcher") as c:
        r = c.post(f"/api/v1/issues/{issue['id']}/dispatch", json={"team_ids": [team]})
        assert r.status_code == 200, r.text
    lon, lat = city.landmarks[SCHOOL]
    bodies = {("POST", "/api/v1/issues"): {"category_code": "L03", "lon": lon, "lat": lat},
              ("PUT", "/api/v1/mode"): {"mode": "normal"}}
    wrong = []
    for role in ROLES:
        with api.client(role) as c:
            for (method, template), allowed in RULES.items():
                path = template.replace("{id}", str(issue["id"]))
                r = c.request(method, path, json=bodies.get((method, template)))
                expected_ok = role in allowed
                if expected_ok and r.status_code >= 400 or not expected_ok and r.status_code != 403:
                    wrong.append((role, method, template, r.status_code, r.text[:120]))
    assert wrong == []


def test_a_foreign_jurisdiction_is_invisible(api, city):
    foreign = _new_issue(api, city, "admin", place=FOREIGN)
    lon_text = f"{foreign['lon']:.5f}"[:8]
    for role in ROLES:
        if role == "admin":
            continue
        with api.client(role) as c:
            r = c.get(f"/api/v1/issues/{foreign['id']}")
            assert r.status_code == 404, (role, r.text)
            assert lon_text not in r.text
            listed = c.get("/api/v1/issues", params={"limit": 5000}).json()
            assert foreign["id"] not in {i["id"] for i in listed["items"]}
            layer = c.get("/api/v1/layers/live/issues", params={"limit": 5000})
            assert lon_text not in layer.text
            moved = c.post(f"/api/v1/issues/{foreign['id']}/accept", json={})
            assert moved.status_code in (403, 404), role
    with api.client("dispatcher") as c:  # and nobody reports into a street they do not serve
        lon, lat = city.landmarks[FOREIGN]
        r = c.post("/api/v1/issues", json={"category_code": "L01", "lon": lon, "lat": lat})
        assert r.status_code == 403 and "outside your jurisdiction" in r.json()["detail"]
    with api.client("admin") as c:
        assert c.get(f"/api/v1/issues/{foreign['id']}").json()["state"] == "reported"


def test_citizens_see_their_own_reports_and_only_public_fields(api, city):
    mine = _new_issue(api, city, "citizen")
    staff = _new_issue(api, city, "dispatcher")
    with api.client("citizen") as c:
        listed = c.get("/api/v1/issues", params={"limit": 5000}).json()
        assert [i["id"] for i in listed["items"]] == [mine["id"]]
        shown = c.get(f"/api/v1/issues/{mine['id']}").json()
        assert c.get(f"/api/v1/issues/{staff['id']}").status_code == 404
    for internal in ("reported_by", "teams", "due_at", "grid_code", "version"):
        assert shown.get(internal) is None, internal
    assert shown["state"] == "reported" and shown["category_code"] == "L01"


def test_server_owned_fields_cannot_be_set(api, city):
    lon, lat = city.landmarks[SCHOOL]
    with api.client("dispatcher") as c:
        for field, value in (("state", "closed"), ("reported_by", "admin"), ("version", 7),
                             ("grid_code", "220204001001001"), ("id", 1), ("teams", [])):
            r = c.post("/api/v1/issues", json={"category_code": "L01", "lon": lon, "lat": lat,
                                               field: value})
            assert r.status_code == 422, field
            assert f"{field}: is not accepted here" in r.json()["detail"]
        iid = _new_issue(api, city, "dispatcher")["id"]
        r = c.post(f"/api/v1/issues/{iid}/accept", json={"state": "closed"})
        assert r.status_code == 422
        assert c.get(f"/api/v1/issues/{iid}").json()["state"] == "reported"
    with api.client("team") as c:
        team = c.get("/api/v1/users/me").json()["team_id"]
        r = c.patch(f"/api/v1/teams/{team}", json={"lon": lon, "lat": lat,
                                                    "position_at": "2020-01-01T00:00:00Z"})
        assert r.status_code == 422


def test_teams_update_only_themselves(api, city):
    lon, lat = city.landmarks[SCHOOL]
    with api.client("team") as c:
        team = c.get("/api/v1/users/me").json()["team_id"]
        r = c.patch(f"/api/v1/teams/{team}", json={"lon": lon, "lat": lat, "status": "busy"})
        assert r.status_code == 200, r.text
        moved = r.json()
        assert moved["status"] == "busy" and abs(moved["lon"] - lon) < 1e-9
        assert moved["position_at"] is not None
        other = city.teams.id[city.teams.id != team].iloc[0]
        assert c.patch(f"/api/v1/teams/{other}", json={"status": "busy"}).status_code == 403
        assert c.patch(f"/api/v1/teams/{team}", json={"lon": lat, "lat": lon}).status_code == 422


@pytest.mark.parametrize("token", [None, "not-a-jwt", "expired", "forged"])
def test_requests_without_a_valid_token_are_401(api, token):
    headers = {}
    if token == "expired":
        headers["Authorization"] = "Bearer " + jwt.encode(
            {"sub": "admin", "role": "admin", "scope": "issues:read", "exp": 1}, TEST_SECRET)
    elif token == "forged":
        headers["Authorization"] = "Bearer " + jwt.encode(
            {"sub": "admin", "role": "admin", "scope": "issues:read", "exp": 4102444800},
            "another key of the same length as a real one, 48")
    elif token:
        headers["Authorization"] = f"Bearer {token}"
    with httpx.Client(base_url=api.url) as c:
        r = c.get("/api/v1/issues", headers=headers)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")


def test_login_rejects_wrong_passwords_and_foreign_scopes(api):
    with httpx.Client(base_url=api.url) as c:
        assert c.post("/api/v1/auth/token", data={"username": "admin",
                                                  "password": "wrong"}).status_code == 401
        assert c.post("/api/v1/auth/token", data={"username": "nobody",
                                                  "password": "demo"}).status_code == 401
        r = c.post("/api/v1/auth/token", data={"username": "citizen", "password": "demo",
                                               "scope": "issues:dispatch"})
        assert r.status_code == 400
        narrow = c.post("/api/v1/auth/token", data={"username": "dispatcher", "password": "demo",
                                                    "scope": "issues:read"}).json()
        assert narrow["scope"] == "issues:read"
        r = c.post("/api/v1/issues", json={},
                   headers={"Authorization": f"Bearer {narrow['access_token']}"})
        assert r.status_code == 403 and "request them at login" in r.json()["detail"]


def test_production_refuses_demo_credentials(store):
    settings = Settings(environment="production", secret_key="x" * 40)
    with pytest.raises(ProductionRefused, match="demo credentials are present: admin, citizen, dispatcher"):
        check_production(settings, store)
    with pytest.raises(ProductionRefused, match="SECRET_KEY is not set"):
        check_production(Settings(environment="production"), store)
    with store.tx() as tx:
        tx.run("DELETE FROM app_user")
    check_production(settings, store)  # no demo accounts, a real key: starts


def test_a_login_session_reads_but_never_writes(api, city):
    with httpx.Client(base_url=api.url) as c:
        r = c.post("/api/v1/auth/session", data={"username": "dispatcher", "password": "demo"})
        assert r.status_code == 204
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert c.get("/api/v1/users/me").json()["username"] == "dispatcher"
        lon, lat = city.landmarks[SCHOOL]
        r = c.post("/api/v1/issues", json={"category_code": "L01", "lon": lon, "lat": lat})
        assert r.status_code == 401  # a cookie alone never changes data
        c.delete("/api/v1/auth/session")
        assert c.get("/api/v1/users/me").status_code == 401
        bad = c.post("/api/v1/auth/session", data={"username": "dispatcher", "password": "x"})
        assert bad.status_code == 401 and "set-cookie" not in bad.headers
