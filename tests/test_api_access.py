"""Who may do what: every role against every operation of the OpenAPI document, a foreign
jurisdiction, citizens' view, tokens, and fields that only the server may set.

The role table is generated from the running server's `/openapi.json`: each operation's
declared scopes and api.auth.ROLE_SCOPES say who gets in (no token: 401; a role without a
scope: 403; the map pages, which check their scopes themselves, redirect to the login page or
show a refusal). Each operation has a case below that makes one well-formed request for a role
that may call it and checks what comes back; an operation of the document without a case (or
an exemption) fails the test, so a new endpoint cannot be left out. One server per backend
serves the whole module; cases that change something work on issues and drafts of their own.
"""

from __future__ import annotations

import hashlib
import json
import re
import ssl
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import httpx
import jwt
import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from shapely.geometry import mapping, shape

from api.app import ProductionRefused, check_production
from api.auth import ROLE_SCOPES, TOKEN_URL
from api.settings import Settings
from fixtures.jilin import REFERENCE_TIME
from geo.alarms.kinds import kinds_for
from geo.crs import from_metric, to_metric
from geo.i18n import using
from geo.store import open_store
from geo.tiles.pyramid import Tile
from geo.workflow import ACTIONS, ROLE_LABELS, ROLES
from tests.citycopy import private_city
from tests.http import TEST_SECRET, Server

SCHOOL = "电东胡同小学门口"  # 长春路街道, 船营区: the demo staff's jurisdiction
WHISTLE_POLICE = "D-220204001-police"  # the demo department's: 长春路派出所
FOREIGN = "劳动路"  # 山前街道, 龙潭区: nobody's but the admin's
PLAN_AREA = "220204003001"  # a community of 北极街道 (船营区, the planner's district): neighbours share edges
FOREIGN_AREA = "220203001001"  # a community of 龙潭区
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(48))  # the magic is all the server reads
MANY = 5000
# Who watches the big screen (大屏): the command centre's staff; the others have their pages.
SCREEN = ("operator", "dispatcher", "supervisor", "admin")

# Operations that get no well-formed request here, each with the reason; the test prints them.
EXEMPT: dict[tuple[str, str], str] = {}


# --- the server and the objects every case uses -------------------------------------------

def ok(r: httpx.Response, status: int = 200):
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.text[:300]}"
    return r.json() if "json" in r.headers.get("content-type", "") else r


def ids(doc) -> set:
    return {f["id"] for f in doc["features"]} if isinstance(doc, dict) else {i["id"] for i in doc}


def _grids(doc) -> dict:
    return {f["id"]: f for f in doc["features"]}


def _metric(g):
    return shapely.transform(g, lambda c: np.column_stack(to_metric(c[:, 0], c[:, 1])))


def _lonlat(g):
    return shapely.transform(g, lambda c: np.column_stack(from_metric(c[:, 0], c[:, 1])))


def _cut_across(geom) -> dict:
    """A north-south line through the middle of a grid, reaching beyond it."""
    x0, y0, x1, y1 = geom.bounds
    mid = (x0 + x1) / 2
    return {"type": "LineString", "coordinates": [[mid, y0 - 0.01], [mid, y1 + 0.01]]}


def _neighbours(doc) -> tuple[str, str]:
    geoms = {k: shape(f["geometry"]) for k, f in _grids(doc).items()}
    return next((p, q) for p in sorted(geoms) for q in sorted(geoms)
                if p < q and geoms[p].intersection(geoms[q]).length > 0)


def _moved_boundary(a, b):
    """Their shared edge, moved 20 m to one side and reaching well beyond both grids."""
    edge = max(shapely.get_parts(shapely.line_merge(a.intersection(b))), key=lambda g: g.length)
    (x0, y0), (x1, y1) = edge.coords[0], edge.coords[-1]
    mx, my = to_metric([x0, x1], [y0, y1])
    along = np.array([mx[1] - mx[0], my[1] - my[0]])
    along /= np.hypot(*along)
    side = np.array([-along[1], along[0]]) * 20
    start = np.array([mx[0], my[0]]) - along * 3000 + side
    end = np.array([mx[1], my[1]]) + along * 3000 + side
    return mapping(_lonlat(shapely.LineString([start, end])))


class World:
    """The module's server with its clock on the demo city's "now", and the objects the cases
    share: an issue that every role sees (a citizen's report in the staff's street,
    dispatched to the demo team), an open duplicate of it, a finished issue, one outside the
    staff's jurisdiction, a photo, planners' drafts, and the device's alarms: one whose issue
    went to the demo team, one still waiting to be accepted, and the admin's one in 山前街道."""

    def __init__(self, server: Server, city):
        self.server, self.city = server, city
        server.now = REFERENCE_TIME  # the demo city's data end here
        # One client per caller for the whole module (making one costs more than a request):
        # `setup` for preparing objects, `callers` for the cases, whose requests are recorded.
        self.seen: list[str] = []
        hooks = {"response": [lambda r: self.seen.append(f"{r.request.method} "
                                                         f"{r.request.url.path}")]}
        tls = ssl.create_default_context()  # unused on http://, but each client would load one
        self.setup = {role: server.client(role, verify=tls) for role in ROLES}
        # The cases' callers read the refusals in English, the words the table names (Chinese,
        # the default, is tests/test_i18n_api.py's); every refusal carries its code either way.
        self.callers = {role: server.client(role, lang="en", event_hooks=hooks, verify=tls)
                        for role in (*ROLES, None)}
        self.admin = self.setup["admin"]
        self.me = {role: ok(c.get("/api/v1/users/me")) for role, c in self.setup.items()}
        self.team = self.me["team"]["team_id"]
        shared = self.report("citizen")
        self.shared, self.shared_token = shared["issue"]["id"], shared["open311_token"]
        self.act(self.shared, "accept")
        self.act(self.shared, "dispatch", team_ids=[self.team])
        # The department's account sees the issues of the whistles that called it (吹哨报到).
        self.blow_whistle(self.shared)
        got = ok(self.admin.get(f"/api/v1/issues/{self.shared}"))
        self.school_street, self.shared_grid = got["street_code"], got["grid_code"]
        self.shared_at = got["lon"], got["lat"]
        self.shared_areas = {"districts": got["district_code"], "streets": got["street_code"],
                             "communities": got["community_code"]}
        self.partner = self.report("admin", dlon=0.0002)["issue"]["id"]
        self.finished = self.issue_in("checked", reporter="citizen")
        self.blow_whistle(self.finished)
        self.act(self.finished, "close", reason="closed by the command centre")
        foreign = self.report("admin", place=FOREIGN)["issue"]
        self.foreign, self.foreign_street = foreign["id"], foreign["street_code"]
        self.foreign_lon = f"{foreign['lon']:.5f}"[:8]
        self.foreign_at = foreign["lon"], foreign["lat"]
        self.photo = ok(self.admin.post(f"/api/v1/issues/{self.shared}/photos",
                                        files={"file": ("gate.png", PNG, "image/png")}), 201)["id"]
        ranked = ok(self.admin.get(f"/api/v1/issues/{self.shared}/candidates",
                                   params={"k": 10}))["candidates"]
        self.other_team = next(t["team_id"] for t in ranked if t["team_id"] != self.team)
        planner = self.setup["planner"]
        self.draft_doc = ok(planner.post("/api/v1/plans", json={"area_code": PLAN_AREA}), 201)
        published = ok(planner.post("/api/v1/plans", json={"area_code": PLAN_AREA}), 201)
        ok(planner.post(f"/api/v1/plans/{published['draft']['id']}/publish",
                        headers={"If-Match": published["draft"]["etag"]}))
        self.published_doc = published
        self.foreign_doc = ok(self.admin.post("/api/v1/plans", json={"area_code": FOREIGN_AREA}),
                              201)
        sent_site, self.waiting_site = self.sites_in(self.school_street)[:2]
        self.foreign_site = self.sites_in(self.foreign_street)[0]
        sent = ok(self.setup["device"].post("/api/v1/alarms", json=self.alarm(sent_site)), 201)
        self.alarm_sent = sent["alarm"]["id"]
        self.alarm_communities = {self.alarm_sent: self.community_of(sent["issue"]["id"])}
        self.act(sent["issue"]["id"], "accept")
        self.act(sent["issue"]["id"], "dispatch", team_ids=[self.team])
        waiting = ok(self.setup["device"].post("/api/v1/alarms",
                                               json=self.alarm(self.waiting_site)), 201)
        self.alarm_waiting, self.waiting_issue = waiting["alarm"]["id"], waiting["issue"]["id"]
        self.alarm_communities[self.alarm_waiting] = self.community_of(self.waiting_issue)
        self.alarm_foreign = ok(self.admin.post("/api/v1/alarms", json=self.alarm(
            self.foreign_site)), 201)["alarm"]["id"]

    def blow_whistle(self, iid: int) -> None:
        ok(self.admin.post(f"/api/v1/issues/{iid}/whistle",
                           json={"department_ids": [WHISTLE_POLICE]}), 201)

    def community_of(self, iid: int) -> str:
        return ok(self.admin.get(f"/api/v1/issues/{iid}"))["community_code"]

    def covers(self, role: str, code: str) -> bool:
        """Whether an area (or anything in it) lies in the role's jurisdiction."""
        return role == "admin" or any(code.startswith(a) for a in self.me[role]["jurisdiction"])

    def alarm_seen_by(self, role: str, alarm_id: int) -> bool:
        """Staff see an area's alarms; nobody has called the department to these."""
        return role not in ("citizen", "team", "department") and \
            self.covers(role, self.alarm_communities[alarm_id])

    def close(self) -> None:
        for c in (*self.setup.values(), *self.callers.values()):
            c.close()

    def report(self, user: str, place: str = SCHOOL, category: str = "L01",
               dlon: float = 0.0) -> dict:
        lon, lat = self.city.landmarks[place]
        return ok(self.setup[user].post("/api/v1/issues", json={
            "category_code": category, "lon": lon + dlon, "lat": lat}), 201)

    def act(self, iid: int, action: str, **body) -> dict:
        return ok(self.admin.post(f"/api/v1/issues/{iid}/{action}", json=body))

    def issue_in(self, state: str, reporter: str = "admin") -> int:
        """A new L01 report at the school gate, walked by the admin to `state`."""
        iid = self.report(reporter)["issue"]["id"]
        steps = [("accept", {}), ("dispatch", {"team_ids": [self.team]}),
                 ("claim", {"team_id": self.team}), ("resolve", {"team_id": self.team}),
                 ("check", {"passed": True})]
        path = ("reported", "accepted", "dispatched", "claimed", "resolved", "checked")
        for action, body in steps[:path.index(state)]:
            self.act(iid, action, **body)
        return iid

    def last_event(self, iid: int) -> tuple[str, str]:
        event = ok(self.admin.get(f"/api/v1/issues/{iid}/events"))[-1]
        return event["action"], event["actor"]

    def live_grids(self, community: str) -> set[str]:
        with self.server.store.snapshot() as tx:
            return {r["code"] for r in tx.rows("SELECT code FROM grid WHERE valid_to IS NULL "
                                               "AND community_code = :c", {"c": community})}

    def visible_teams(self, role: str) -> set[str]:
        """The teams a role sees, from the city's own table: its own team, those serving a
        street of its jurisdiction, or all of them."""
        teams = self.city.teams
        if role == "admin":
            return set(teams.id)
        if role == "team":
            return {self.team}
        areas = set(self.me[role]["jurisdiction"])
        return {t for t, streets in zip(teams.id, teams.jurisdiction, strict=True)
                if any(s in areas or s[:6] in areas for s in streets)}

    def open_draft(self, c: httpx.Client) -> dict:
        return ok(c.post("/api/v1/plans", json={"area_code": PLAN_AREA}), 201)

    def sites_in(self, street: str) -> list[tuple[str, str]]:
        """The key sites of a street (id, site kind), from the city's own table."""
        sites = self.city.sites
        spots = sites.geometry.representative_point()
        where = self.server.store.locate_many(spots.x, spots.y)
        found = [(i, k) for i, k, s in zip(sites.id, sites.kind, where.street_code, strict=True)
                 if s == street]
        assert found, f"the test city has no key site in {street}"
        return found

    @staticmethod
    def alarm(site: tuple[str, str]) -> dict:
        """An alarm of the first kind the site may raise, seen a minute before the server's now."""
        return {"site_id": site[0], "kind": kinds_for(site[1])[0],
                "observed_at": (REFERENCE_TIME - timedelta(minutes=1)).isoformat()}

    def alarm_count(self, alarm_id: int) -> int:
        listed = ok(self.admin.get("/api/v1/alarms", params={"status": "all", "limit": 1000}))
        return next(a["count"] for a in listed["items"] if a["id"] == alarm_id)


@pytest.fixture(scope="module", params=["sqlite", "postgis"])
def world(request, city, tmp_path_factory):
    """One server per backend for the whole module, on a private copy of the test city."""
    with private_city(request, tmp_path_factory) as url, open_store(url) as store:
        server = Server(store)
        try:
            w = World(server, city)
            yield w
            w.close()
        finally:
            server.stop()


# --- the cases ---------------------------------------------------------------------------

@dataclass
class Case:
    """How to call one operation and what it must answer.

    `run(w, role, c)` makes a well-formed request with `c` (the role's token, or none for a
    public operation) and asserts the answer. `probe(w)` is a well-formed request on existing
    objects for callers that must be turned away (path, httpx keyword arguments). `refused`
    names roles that the scopes let in but the operation itself turns away, with the status
    and message. `foreign` is the same request on something outside the demo staff's
    jurisdiction, refused to every non-admin role that may call it; `finished` the same on a
    closed issue or a published draft (409)."""

    run: Callable[[World, str | None, httpx.Client], None]
    probe: Callable[[World], tuple[str, dict]] | None = None
    refused: Callable[[str], tuple[int, str] | None] = lambda role: None
    foreign: Callable[[World], tuple[str, dict, int, str]] | None = None
    finished: Callable[[World], tuple[str, dict, str]] | None = None
    # A map page checks the scopes it needs itself (the document declares none for it): no
    # login → 303 to the login page, a role without one of them → 403 page naming it.
    page_scopes: tuple[str, ...] | None = None


CASES: dict[tuple[str, str], Case] = {}


def case(method: str, template: str, **kwargs):
    def register(run):
        CASES[(method, template)] = Case(run, **kwargs)
        return run
    return register


def _no_such_issue(iid: int) -> str:
    return f"no issue {iid} that you can see"


# auth and the caller

@case("POST", "/api/v1/auth/token")
def _token(w, role, c):  # every role's scopes: GET /auth/session/token and /users/me below
    body = ok(c.post(TOKEN_URL, data={"username": "supervisor", "password": "demo"}))
    assert body["token_type"] == "bearer"
    assert body["scope"].split() == list(ROLE_SCOPES["supervisor"])
    me = c.get("/api/v1/users/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert ok(me)["username"] == "supervisor"


@case("POST", "/api/v1/auth/session")
def _session(w, role, c):
    r = ok(c.post("/api/v1/auth/session", data={"username": "planner", "password": "demo"}), 204)
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert ok(c.get("/api/v1/users/me"))["role"] == "planner"  # the cookie reads


@case("DELETE", "/api/v1/auth/session")
def _session_end(w, role, c):
    ok(c.post("/api/v1/auth/session", data={"username": "operator", "password": "demo"}), 204)
    assert ok(c.get("/api/v1/users/me"))["username"] == "operator"
    ok(c.delete("/api/v1/auth/session"), 204)
    assert c.get("/api/v1/users/me").status_code == 401


@case("POST", "/api/v1/auth/logout", probe=lambda w: ("/api/v1/auth/logout", {}))
def _logout(w, role, c):
    token = ok(c.get("/api/v1/auth/session/token"))["access_token"]  # a second session
    mine = {"Authorization": f"Bearer {token}"}
    ok(c.post("/api/v1/auth/logout", headers=mine), 204)
    assert c.get("/api/v1/users/me", headers=mine).status_code == 401  # that token is over
    assert ok(c.get("/api/v1/users/me"))["username"] == role  # the role's other one is not


@case("GET", "/api/v1/auth/session/token", probe=lambda w: ("/api/v1/auth/session/token", {}))
def _page_token(w, role, c):
    r = c.get("/api/v1/auth/session/token")
    body = ok(r)
    assert body["scope"].split() == list(ROLE_SCOPES[role])
    assert r.headers["cache-control"] == "no-store"
    me = c.get("/api/v1/users/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert ok(me)["username"] == role


@case("GET", "/api/v1/users/me", probe=lambda w: ("/api/v1/users/me", {}))
def _me(w, role, c):
    me = ok(c.get("/api/v1/users/me"))
    assert (me["username"], me["role"], me["scopes"]) == (role, role, list(ROLE_SCOPES[role]))
    assert (me["team_id"] is not None) == (role == "team")


# reports and reading them

def _report_body(w, place=SCHOOL):
    lon, lat = w.city.landmarks[place]
    return {"json": {"category_code": "L03", "lon": lon, "lat": lat}}


@case("POST", "/api/v1/issues", probe=lambda w: ("/api/v1/issues", _report_body(w)))
def _post_issue(w, role, c):
    body = ok(c.post("/api/v1/issues", **_report_body(w)), 201)
    assert body["issue"]["state"] == "reported" and body["issue"]["category_code"] == "L03"
    assert body["location"]["street_code"] == w.school_street
    assert body["issue"].get("reported_by") == (None if role == "citizen" else role)
    r = c.post("/api/v1/issues", **_report_body(w, FOREIGN))
    if role in ("citizen", "admin"):  # citizens report anywhere
        assert ok(r, 201)["location"]["street_code"] == w.foreign_street
    else:
        assert r.status_code == 403 and "outside your jurisdiction" in r.json()["detail"], r.text


def _open_l01(w):
    return {"params": {"category": "L01", "open_only": True, "limit": MANY}}


@case("GET", "/api/v1/issues", probe=lambda w: ("/api/v1/issues", _open_l01(w)))
def _list_issues(w, role, c):
    page = ok(c.get("/api/v1/issues", **_open_l01(w)))
    seen = ids(page["items"])
    assert page["total"] == len(page["items"]) and w.shared in seen
    assert (w.foreign in seen) == (role == "admin")
    assert all(i["category_code"] == "L01" for i in page["items"])


@case("GET", "/api/v1/issues/overdue", probe=lambda w: ("/api/v1/issues/overdue", {}))
def _overdue(w, role, c):
    page = ok(c.get("/api/v1/issues/overdue", params={"limit": MANY}))
    assert page["total"] > 0 and all(i["overdue"] and i["light"] == "red" for i in page["items"])
    if role != "admin":
        assert {i["district_code"] for i in page["items"]} == {"220204"}


def _shared(suffix=""):
    return lambda w: (f"/api/v1/issues/{w.shared}{suffix}", {})


def _foreign_issue(suffix="", **kwargs):
    return lambda w: (f"/api/v1/issues/{w.foreign}{suffix}", kwargs, 404, _no_such_issue(w.foreign))


@case("GET", "/api/v1/issues/{issue_id}", probe=_shared(), foreign=_foreign_issue())
def _get_issue(w, role, c):
    issue = ok(c.get(f"/api/v1/issues/{w.shared}"))
    assert issue["id"] == w.shared and issue["state"] == "dispatched"
    assert issue.get("grid_code") == (None if role == "citizen" else w.shared_grid)


@case("GET", "/api/v1/issues/{issue_id}/events", probe=_shared("/events"),
      foreign=_foreign_issue("/events"),
      refused=lambda role: (403, "the audit trail is for staff") if role == "citizen" else None)
def _events(w, role, c):
    trail = ok(c.get(f"/api/v1/issues/{w.shared}/events"))
    assert [(e["action"], e["to_state"]) for e in trail] == [
        ("report", "reported"), ("accept", "accepted"), ("dispatch", "dispatched"),
        ("whistle", "dispatched")]
    assert trail[0]["actor"] == "citizen"


@case("GET", "/api/v1/issues/{issue_id}/candidates", probe=_shared("/candidates"),
      foreign=_foreign_issue("/candidates"))
def _candidates(w, role, c):
    got = ok(c.get(f"/api/v1/issues/{w.shared}/candidates"))
    assert got["issue_id"] == w.shared and got["street_code"] == w.school_street
    assert [t["rank"] for t in got["candidates"]] == list(range(1, len(got["candidates"]) + 1))
    assert got["candidates"] and "roster A" in got["filter"]


@case("GET", "/api/v1/issues/{issue_id}/nearby", probe=_shared("/nearby"),
      foreign=_foreign_issue("/nearby"))
def _nearby(w, role, c):
    near = ids(ok(c.get(f"/api/v1/issues/{w.shared}/nearby")))
    assert w.partner in near and w.shared not in near


# the loop: one case per transition, each on a fresh issue in the state it leaves from

SOURCE = {"accept": "reported", "reject": "reported", "merge": "reported",
          "dispatch": "accepted", "reassign": "dispatched", "claim": "dispatched",
          "return": "dispatched", "resolve": "claimed", "check": "resolved", "rate": "checked",
          "close": "checked"}
TARGET = {"check": "checked", **{a: ACTIONS[a].target for a in SOURCE if a != "check"}}


def _move_body(w, action: str, role: str | None = None) -> dict:
    team_act = {"team_id": w.team} if role == "admin" else {}
    return {"accept": {}, "reject": {"reason": "not a case: the stall has a permit"},
            "merge": {"duplicate_of": w.partner},
            "dispatch": {"team_ids": [w.team]},
            "reassign": {"team_ids": [w.other_team], "reason": "a nearer team is free"},
            "claim": team_act, "resolve": team_act,
            "return": {"reason": "wrong team for this", **team_act},
            "check": {"passed": True}, "rate": {"rating": 4, "comment": "fast"},
            "close": {"reason": "the reporter gave no rating"}}[action]


def _transition(action: str) -> Case:
    roles = ACTIONS[action].roles

    def refused(role):
        if role not in roles:
            may = ", ".join(ROLE_LABELS[r] for r in roles)  # the roles in words (English)
            return 403, f"role {ROLE_LABELS[role]} may not {action}; roles that may: {may}"
        return None

    def run(w, role, c):
        iid = w.issue_in(SOURCE[action], reporter="citizen" if role == "citizen" else "admin")
        issue = ok(c.post(f"/api/v1/issues/{iid}/{action}", json=_move_body(w, action, role)))
        assert issue["id"] == iid and issue["state"] == TARGET[action]
        if action in ("dispatch", "reassign"):
            assert [t["team_id"] for t in issue["teams"]] == _move_body(w, action)["team_ids"]
        if action == "merge":
            assert issue["duplicate_of"] == w.partner
        if action == "rate":
            assert issue["rating"] == 4
        assert w.last_event(iid) == (action, role)

    def body(w):
        return {"json": _move_body(w, action)}

    return Case(run, probe=lambda w: (f"/api/v1/issues/{w.finished}/{action}", body(w)),
                refused=refused,
                foreign=lambda w: (f"/api/v1/issues/{w.foreign}/{action}", body(w), 404,
                                   _no_such_issue(w.foreign)),
                finished=lambda w: (f"/api/v1/issues/{w.finished}/{action}", body(w),
                                    f"cannot {action} an issue that is closed; allowed now: none"))


for _action in SOURCE:
    CASES[("POST", f"/api/v1/issues/{{issue_id}}/{_action}")] = _transition(_action)


def _photo_file(role):
    return {"files": {"file": ("gate.png", PNG + (role or "").encode(), "image/png")}}


@case("POST", "/api/v1/issues/{issue_id}/photos",
      probe=lambda w: (f"/api/v1/issues/{w.shared}/photos", _photo_file(None)),
      foreign=lambda w: (f"/api/v1/issues/{w.foreign}/photos", _photo_file(None), 404,
                         _no_such_issue(w.foreign)),
      finished=lambda w: (f"/api/v1/issues/{w.finished}/photos", _photo_file(None),
                          f"issue {w.finished} is closed: no more photos"))
def _add_photo(w, role, c):
    photo = ok(c.post(f"/api/v1/issues/{w.shared}/photos", **_photo_file(role)), 201)
    assert photo["issue_id"] == w.shared and photo["uploaded_by"] == role
    assert photo["sha256"] == hashlib.sha256(PNG + role.encode()).hexdigest()
    assert photo["content_type"] == "image/png"


@case("GET", "/api/v1/issues/{issue_id}/photos", probe=_shared("/photos"),
      foreign=_foreign_issue("/photos"))
def _photos(w, role, c):
    listed = ok(c.get(f"/api/v1/issues/{w.shared}/photos"))
    assert w.photo in ids(listed) and {p["issue_id"] for p in listed} == {w.shared}


@case("GET", "/api/v1/issues/{issue_id}/photos/{photo_id}",
      probe=lambda w: (f"/api/v1/issues/{w.shared}/photos/{w.photo}", {}),
      foreign=lambda w: (f"/api/v1/issues/{w.foreign}/photos/{w.photo}", {}, 404,
                         _no_such_issue(w.foreign)))
def _photo(w, role, c):
    r = ok(c.get(f"/api/v1/issues/{w.shared}/photos/{w.photo}"))
    assert r.content == PNG and r.headers["content-type"] == "image/png"


@case("GET", "/api/v1/stats", probe=lambda w: ("/api/v1/stats", {}))
def _stats(w, role, c):
    rows = {s["code"]: s for s in ok(c.get("/api/v1/stats", params={"level": "street"}))}
    assert rows[w.school_street]["open"] >= 1
    if role == "admin":
        assert w.foreign_street in rows
    elif role != "citizen":  # a citizen's own reports may lie anywhere
        assert w.foreign_street not in rows


# alarms from key sites, and the big screen

@case("POST", "/api/v1/alarms", probe=lambda w: ("/api/v1/alarms", {"json": w.alarm(w.waiting_site)}),
      foreign=lambda w: ("/api/v1/alarms", {"json": w.alarm(w.foreign_site)}, 403,
                         f"{w.foreign_site[0]} lies in ", f"({w.foreign_street}), outside the "
                         "jurisdiction of this device"))
def _raise_alarm(w, role, c):
    # The waiting alarm's issue is open: the same source and kind attach to it and count.
    before = w.alarm_count(w.alarm_waiting)
    got = ok(c.post("/api/v1/alarms", json=w.alarm(w.waiting_site)))
    assert got["created"] is False and got["alarm"]["id"] == w.alarm_waiting
    assert got["alarm"]["count"] == before + 1 and got["alarm"]["site_id"] == w.waiting_site[0]
    assert got["issue"]["id"] == w.waiting_issue and got["issue"]["state"] == "reported"
    assert got["issue"]["street_code"] == w.school_street


@case("GET", "/api/v1/alarms", probe=lambda w: ("/api/v1/alarms", {}))
def _alarms(w, role, c):
    every = ok(c.get("/api/v1/alarms", params={"status": "all", "limit": 1000}))
    seen = ids(every["items"])
    assert every["status"] == "all" and every["returned"] == len(every["items"])
    # The staff see the alarms of their areas, the team the one whose issue went to it.
    assert (w.alarm_sent in seen) == (role == "team" or w.alarm_seen_by(role, w.alarm_sent))
    assert (w.alarm_waiting in seen) == w.alarm_seen_by(role, w.alarm_waiting)
    assert (w.alarm_foreign in seen) == (role == "admin")
    waiting = ok(c.get("/api/v1/alarms"))["items"]  # open: their issue is not yet accepted
    assert all(a["open"] and a["issue_state"] == "reported" for a in waiting)
    assert w.alarm_sent not in ids(waiting)
    assert (w.alarm_waiting in ids(waiting)) == w.alarm_seen_by(role, w.alarm_waiting)


def _screen_refusal(role):
    if role in SCREEN:
        return None
    return 403, ("the big screen is for operators, dispatchers, supervisors and administrators,"
                 f" not for role {ROLE_LABELS[role]}")  # the role in words


@case("GET", "/api/v1/dashboard", probe=lambda w: ("/api/v1/dashboard", {}),
      refused=_screen_refusal)
def _dashboard(w, role, c):
    board = ok(c.get("/api/v1/dashboard"))
    assert (board["viewer"]["username"], board["viewer"]["role"]) == (role, role)

    def total(path="/api/v1/issues", **params):
        return ok(c.get(path, params={"limit": 1, **params}))["total"]

    # The screen's figures are those of the lists the viewer may read.
    assert board["lights"]["open"] == total(open_only=True) >= 1
    assert board["today"]["reported"] == total(since=board["today"]["since"]) >= 1
    assert board["lights"]["red"] == board["overdue"]["total"] > 0
    if "issues:supervise" in ROLE_SCOPES[role]:
        assert board["overdue"]["total"] == total("/api/v1/issues/overdue")
    foreign_district = w.foreign_street[:6]
    if role != "admin":
        assert all(not a["code"].startswith(foreign_district) for a in board["ranking"]["areas"])
        assert all(i["street_code"] != w.foreign_street for i in board["overdue"]["items"])


# what is at a point: the live map's click

def _at(point, **params):
    return {"params": {"lon": point[0], "lat": point[1], **params}}


@case("GET", "/api/v1/places", probe=lambda w: ("/api/v1/places", _at(w.shared_at)))
def _places(w, role, c):
    here = ok(c.get("/api/v1/places", **_at(w.shared_at, limit=100)))
    assert here["inside"] is True and here["grid"]["code"] == w.shared_grid
    assert here["street"]["code"] == w.school_street
    assert w.shared in ids(here["nearby_issues"]["items"])  # every role sees the shared issue
    people = {p["username"] for p in here["street"]["people"]}
    # the street's staff, to those whose jurisdiction holds the street
    assert ("operator" in people) == w.covers(role, w.school_street)
    there = ok(c.get("/api/v1/places", **_at(w.foreign_at, limit=100)))
    assert there["street"]["code"] == w.foreign_street  # the map is the same for everyone
    assert (w.foreign in ids(there["nearby_issues"]["items"])) == (role == "admin")
    if role != "admin":
        assert there["street"]["people"] == [] and there["district"]["people"] == []


# boundaries through time: the grids are the same map for everyone

@case("GET", "/api/v1/locate", probe=lambda w: ("/api/v1/locate", _at(w.shared_at)))
def _locate(w, role, c):
    here = ok(c.get("/api/v1/locate", **_at(w.shared_at)))
    assert here["grid_code"] == w.shared_grid and here["street_code"] == w.school_street
    there = ok(c.get("/api/v1/locate", **_at(w.foreign_at, at="2026-01-01T00:00:00Z")))
    assert there["street_code"] == w.foreign_street and there["at"].startswith("2026-01-01")


@case("GET", "/api/v1/grids/{code}/history",
      probe=lambda w: (f"/api/v1/grids/{w.shared_grid}/history", {}))
def _grid_history(w, role, c):
    versions = ok(c.get(f"/api/v1/grids/{w.shared_grid}/history"))["features"]
    assert versions[-1]["properties"]["current"] is True
    assert {v["properties"]["code"] for v in versions} == {w.shared_grid}


# OGC API - Features: the same roles and jurisdiction as the layers and issues

@case("GET", "/ogc", probe=lambda w: ("/ogc", {}))
def _ogc_landing(w, role, c):
    assert {link["rel"] for link in ok(c.get("/ogc"))["links"]} >= {"conformance", "data"}


@case("GET", "/ogc/conformance", probe=lambda w: ("/ogc/conformance", {}))
def _ogc_conformance(w, role, c):
    assert any(u.endswith("/conf/core") for u in ok(c.get("/ogc/conformance"))["conformsTo"])


@case("GET", "/ogc/collections", probe=lambda w: ("/ogc/collections", {}))
def _ogc_collections(w, role, c):
    offered = {x["id"] for x in ok(c.get("/ogc/collections"))["collections"]}
    assert "grids" in offered and ("issues" in offered) == ("issues:read" in ROLE_SCOPES[role])


@case("GET", "/ogc/collections/{collection_id}", probe=lambda w: ("/ogc/collections/grids", {}))
def _ogc_collection(w, role, c):
    assert ok(c.get("/ogc/collections/grids"))["id"] == "grids"


@case("GET", "/ogc/collections/{collection_id}/queryables",
      probe=lambda w: ("/ogc/collections/grids/queryables", {}))
def _ogc_queryables(w, role, c):
    assert "households" in ok(c.get("/ogc/collections/grids/queryables"))["properties"]
    if "issues:read" not in ROLE_SCOPES[role]:
        assert c.get("/ogc/collections/issues/queryables").status_code == 403
        return
    # a filter keeps the jurisdiction: the foreign issue only for admin
    seen = ids(ok(c.get("/ogc/collections/issues/items", params={
        "limit": 5000, "filter": "state <> 'no such state'"})))
    assert w.shared in seen and (w.foreign in seen) == (role == "admin")


@case("GET", "/ogc/collections/{collection_id}/items",
      probe=lambda w: ("/ogc/collections/grids/items", {}))
def _ogc_items(w, role, c):
    assert ok(c.get("/ogc/collections/grids/items", params={"limit": 1}))["numberReturned"] == 1
    if "issues:read" not in ROLE_SCOPES[role]:
        assert c.get("/ogc/collections/issues/items").status_code == 403
        return
    seen = ids(ok(c.get("/ogc/collections/issues/items", params={"limit": 5000})))
    assert w.shared in seen and (w.foreign in seen) == (role == "admin")


@case("GET", "/ogc/collections/{collection_id}/items/{feature_id}",
      probe=lambda w: (f"/ogc/collections/grids/items/{w.shared_grid}", {}))
def _ogc_item(w, role, c):
    assert ok(c.get(f"/ogc/collections/grids/items/{w.shared_grid}"))["id"] == w.shared_grid
    if "issues:read" in ROLE_SCOPES[role]:
        assert ok(c.get(f"/ogc/collections/issues/items/{w.shared}"))["id"] == w.shared
        foreign = c.get(f"/ogc/collections/issues/items/{w.foreign}")
        assert foreign.status_code == (200 if role == "admin" else 404)


# vector tiles: geometry for every reader of layers, load by jurisdiction

def _tile_load(c, at) -> dict[str, int]:
    """Open issues per grid in the zoom-15 tile holding `at`, as the tile says."""
    r = c.get(_tile_path(at))
    assert r.status_code == 200, r.text[:300]
    return {f["properties"]["code"]: f["properties"]["open"]
            for f in mapbox_vector_tile.decode(r.content)["grids"]["features"]}


def _tile_path(at) -> str:
    tile = Tile.containing(*at, 15)
    return f"/tiles/grids/{tile.z}/{tile.x}/{tile.y}.mvt"


@case("GET", "/tiles/{layer}/{z}/{x}/{y}.mvt", probe=lambda w: (_tile_path(w.shared_at), {}))
def _vector_tile(w, role, c):
    assert _tile_load(c, w.shared_at)[w.shared_grid] >= 1  # every role sees the shared issue
    assert (sum(_tile_load(c, w.foreign_at).values()) > 0) == (role == "admin")


@case("GET", "/tiles/{layer}.json", probe=lambda w: ("/tiles/grids.json", {}))
def _tilejson(w, role, c):
    assert ok(c.get("/tiles/streets.json"))["vector_layers"][0]["id"] == "streets"


# teams and the mode switch

@case("GET", "/api/v1/teams", probe=lambda w: ("/api/v1/teams", {}))
def _teams(w, role, c):
    assert ids(ok(c.get("/api/v1/teams"))) == w.visible_teams(role)


def _position(w):
    lon, lat = w.city.landmarks[SCHOOL]
    return {"json": {"lon": lon + 0.001, "lat": lat, "status": "available"}}


@case("PATCH", "/api/v1/teams/{team_id}", probe=lambda w: (f"/api/v1/teams/{w.team}", _position(w)),
      foreign=lambda w: (f"/api/v1/teams/{w.other_team}", _position(w), 403,
                         "only members of this team (or an admin) may update it"))
def _patch_team(w, role, c):
    team = ok(c.patch(f"/api/v1/teams/{w.team}", **_position(w)))
    assert team["id"] == w.team and team["status"] == "available"
    assert abs(team["lon"] - _position(w)["json"]["lon"]) < 1e-9
    assert datetime.fromisoformat(team["position_at"]) == REFERENCE_TIME  # the server's clock


@case("GET", "/api/v1/mode", probe=lambda w: ("/api/v1/mode", {}))
def _mode(w, role, c):
    assert ok(c.get("/api/v1/mode"))["mode"] == "normal"


@case("GET", "/api/v1/demo", probe=lambda w: ("/api/v1/demo", {}))
def _demo(w, role, c):
    assert ok(c.get("/api/v1/demo"))["demo"] is True  # the test city is the generated one


def _normal(w):
    return {"json": {"mode": "normal", "reason": "drill over"}}


@case("PUT", "/api/v1/mode", probe=lambda w: ("/api/v1/mode", _normal(w)))
def _switch(w, role, c):
    mode = ok(c.put("/api/v1/mode", **_normal(w)))
    assert (mode["mode"], mode["changed_by"], mode["reason"]) == ("normal", role, "drill over")


# GeoJSON layers

def features(r: httpx.Response) -> dict:
    doc = ok(r)
    assert doc["type"] == "FeatureCollection", doc.get("type")
    return doc


def _around_school(w):
    lon, lat = w.city.landmarks[SCHOOL]
    return {"params": {"bbox": f"{lon - 0.004},{lat - 0.004},{lon + 0.004},{lat + 0.004}"}}


@case("GET", "/api/v1/layers/grids", probe=lambda w: ("/api/v1/layers/grids", {}))
def _grid_layer(w, role, c):
    doc = features(c.get("/api/v1/layers/grids", **_around_school(w)))
    grids = _grids(doc)
    assert doc["numberMatched"] == doc["numberReturned"] == len(grids) > 1
    assert grids[w.shared_grid]["properties"]["open"] >= 1  # every role sees the shared issue


@case("GET", "/api/v1/layers/areas/{level}",
      probe=lambda w: ("/api/v1/layers/areas/streets", {}))
def _area_layer(w, role, c):
    for level, frame in (("districts", w.city.districts), ("streets", w.city.streets),
                         ("communities", w.city.communities)):
        areas = _grids(features(c.get(f"/api/v1/layers/areas/{level}")))
        assert set(areas) == set(frame.code), level
        assert areas[w.shared_areas[level]]["properties"]["open"] >= 1, level


@case("GET", "/api/v1/layers/{layer}", probe=lambda w: ("/api/v1/layers/cameras", {}))
def _point_layer(w, role, c):
    for layer, frame in (("cameras", w.city.cameras), ("sites", w.city.sites)):
        assert ids(features(c.get(f"/api/v1/layers/{layer}"))) == set(frame.id), layer


@case("GET", "/api/v1/layers/live/teams", probe=lambda w: ("/api/v1/layers/live/teams", {}))
def _team_layer(w, role, c):
    r = c.get("/api/v1/layers/live/teams")
    assert ids(features(r)) == w.visible_teams(role)
    assert r.headers["cache-control"] == "no-store"


@case("GET", "/api/v1/layers/live/issues",
      probe=lambda w: ("/api/v1/layers/live/issues", _open_l01(w)))
def _issue_layer(w, role, c):
    seen = ids(features(c.get("/api/v1/layers/live/issues", **_open_l01(w))))
    assert w.shared in seen and (w.foreign in seen) == (role == "admin")


@case("GET", "/api/v1/layers/dispatch/{issue_id}",
      probe=lambda w: (f"/api/v1/layers/dispatch/{w.shared}", {}),
      foreign=lambda w: (f"/api/v1/layers/dispatch/{w.foreign}", {}, 404,
                         _no_such_issue(w.foreign)))
def _dispatch_layer(w, role, c):
    doc = features(c.get(f"/api/v1/layers/dispatch/{w.shared}"))
    kinds = {}
    for f in doc["features"]:
        kinds.setdefault(f["properties"]["kind"], []).append(f["properties"])
    assert [p["id"] for p in kinds["issue"]] == [w.shared]
    assert [p["code"] for p in kinds["grid"]] == [w.shared_grid]
    assert kinds["candidate"]


# the offline basemap: the same geography for every reader

def _around_foreign(w):
    lon, lat = w.city.landmarks[FOREIGN]
    return f"{lon - 0.01},{lat - 0.007},{lon + 0.01},{lat + 0.007}"


@case("GET", "/api/v1/layers/roads", probe=lambda w: ("/api/v1/layers/roads", {}))
def _road_layer(w, role, c):
    doc = features(c.get("/api/v1/layers/roads", params={"bbox": _around_foreign(w),
                                                         "simplify_m": 2}))
    assert doc["numberReturned"] == len(doc["features"]) <= doc["limit"]
    assert FOREIGN in {f["properties"]["name"] for f in doc["features"]}
    assert {f["geometry"]["type"] for f in doc["features"]} <= {"LineString", "MultiLineString"}


@case("GET", "/api/v1/layers/water", probe=lambda w: ("/api/v1/layers/water", {}))
def _water_layer(w, role, c):
    doc = features(c.get("/api/v1/layers/water", params={"simplify_m": 16}))
    assert [(f["properties"]["name"], f["properties"]["kind"]) for f in doc["features"]] == [
        (w.city.river_name, "river")]


@case("GET", "/api/v1/layers/labels",
      probe=lambda w: ("/api/v1/layers/labels", {"params": {"level": "streets"}}))
def _label_layer(w, role, c):
    for level, frame in (("districts", w.city.districts), ("streets", w.city.streets),
                         ("communities", w.city.communities)):
        doc = features(c.get("/api/v1/layers/labels", params={"level": level}))
        assert ids(doc) == set(frame.code), level
        names = dict(zip(frame.code, frame.name, strict=True))
        assert all(f["properties"]["name"] == names[f["id"]] for f in doc["features"]), level


# hotspots: the school street's vendor reports

def _hotspots(name: str) -> Case:
    path = f"/api/v1/hotspots/{name}"

    def params(w, area=None):  # half a year: time slices enough for every analysis
        return {"params": {"category": "L01", "area": area or w.school_street,
                           "since": (REFERENCE_TIME - timedelta(days=182)).isoformat()}}

    def run(w, role, c):
        doc = features(c.get(path, **params(w)))
        assert doc["query"]["area"] == w.school_street and doc["query"]["categories"] == ["L01"]
        assert doc["reports"] > 0

    return Case(run, probe=lambda w: (path, params(w)),
                foreign=lambda w: (path, params(w, w.foreign_street), 404,
                                   f"no grids of area {w.foreign_street} in your jurisdiction"))


for _name in ("density", "clusters", "gistar", "emerging", "displacement", "repeats"):
    CASES[("GET", f"/api/v1/hotspots/{_name}")] = _hotspots(_name)


# planners' drafts: each case opens its own draft of PLAN_AREA

def _draft(w):
    return w.draft_doc["draft"]["id"]


def _on_drafts(suffix: str, body: Callable[[dict], dict] = lambda doc: {}, edit: bool = True):
    """probe/foreign/finished for an operation on /plans/{draft_id}{suffix}: the same
    well-formed request on the planner's open draft, on the admin's draft of 龙潭区 and on a
    published draft."""
    def on(doc):
        return f"/api/v1/plans/{doc['draft']['id']}{suffix.format(key=next(iter(_grids(doc))))}"

    def foreign(w):
        doc = w.foreign_doc
        return on(doc), body(doc), 404, f"no draft {doc['draft']['id']} that you can see"

    def finished(w):
        doc = w.published_doc
        return on(doc), body(doc), f"draft {doc['draft']['id']} is published"

    return {"probe": lambda w: (on(w.draft_doc), body(w.draft_doc)), "foreign": foreign,
            **({"finished": finished} if edit else {})}


# Answers round coordinates to 6 decimals (about 0.1 m): areas agree to this much, where a lost
# sliver between two grids would be thousands of m².
AREA_REL = 1e-4


def _etag(doc, *keys) -> dict:
    grids = _grids(doc)
    tags = [grids[k]["properties"]["etag"] for k in keys] if keys else [doc["draft"]["etag"]]
    return {"If-Match": ", ".join(tags)}


@case("POST", "/api/v1/plans", probe=lambda w: ("/api/v1/plans", {"json": {"area_code": PLAN_AREA}}),
      foreign=lambda w: ("/api/v1/plans", {"json": {"area_code": FOREIGN_AREA}}, 404,
                         f"no area {FOREIGN_AREA} in your jurisdiction"))
def _open_plan(w, role, c):
    doc = ok(c.post("/api/v1/plans", json={"area_code": PLAN_AREA, "title": role}), 201)
    assert doc["draft"]["area_code"] == PLAN_AREA and doc["draft"]["state"] == "open"
    assert doc["draft"]["created_by"] == role and set(_grids(doc)) == w.live_grids(PLAN_AREA)


@case("GET", "/api/v1/plans/{draft_id}", **_on_drafts("", edit=False))
def _get_plan(w, role, c):
    opened = w.open_draft(c)
    r = c.get(f"/api/v1/plans/{opened['draft']['id']}")
    assert ok(r)["draft"]["id"] == opened["draft"]["id"]
    assert r.headers["etag"] == opened["draft"]["etag"] and set(_grids(r.json())) == set(
        _grids(opened))


def _redraw_body(doc):
    key, feature = next(iter(_grids(doc).items()))
    return {"json": {"geometry": feature["geometry"], "name": "renamed"}, "headers": _etag(doc, key)}


@case("PUT", "/api/v1/plans/{draft_id}/grids/{key}", **_on_drafts("/grids/{key}", _redraw_body))
def _redraw(w, role, c):
    doc = w.open_draft(c)
    key = next(iter(_grids(doc)))
    after = _grids(ok(c.put(f"/api/v1/plans/{doc['draft']['id']}/grids/{key}",
                            **_redraw_body(doc))))
    assert after[key]["properties"]["name"] == "renamed"
    assert after[key]["properties"]["version"] == _grids(doc)[key]["properties"]["version"] + 1


def _split_body(doc):
    key, feature = max(_grids(doc).items(), key=lambda kv: _metric(shape(kv[1]["geometry"])).area)
    return {"json": {"key": key, "line": _cut_across(shape(feature["geometry"]))},
            "headers": _etag(doc, key)}


@case("POST", "/api/v1/plans/{draft_id}/split", **_on_drafts("/split", _split_body))
def _split(w, role, c):
    doc = w.open_draft(c)
    body = _split_body(doc)
    after = _grids(ok(c.post(f"/api/v1/plans/{doc['draft']['id']}/split", **body)))
    key = body["json"]["key"]
    assert len(after) == len(_grids(doc)) + 1
    assert _metric(shape(after[key]["geometry"])).area < _metric(
        shape(_grids(doc)[key]["geometry"])).area


def _merge_body(doc):
    a, b = _neighbours(doc)
    return {"json": {"keys": [a, b]}, "headers": _etag(doc, a, b)}


@case("POST", "/api/v1/plans/{draft_id}/merge", **_on_drafts("/merge", _merge_body))
def _merge(w, role, c):
    doc = w.open_draft(c)
    body = _merge_body(doc)
    a, b = body["json"]["keys"]
    after = _grids(ok(c.post(f"/api/v1/plans/{doc['draft']['id']}/merge", **body)))
    assert b not in after and set(after) == set(_grids(doc)) - {b}
    union = shapely.union_all([shape(_grids(doc)[k]["geometry"]) for k in (a, b)])
    assert _metric(shape(after[a]["geometry"])).area == pytest.approx(_metric(union).area,
                                                                       rel=AREA_REL)


def _boundary_body(doc):
    a, b = _neighbours(doc)
    grids = _grids(doc)
    line = _moved_boundary(shape(grids[a]["geometry"]), shape(grids[b]["geometry"]))
    return {"json": {"a": a, "b": b, "line": line}, "headers": _etag(doc, a, b)}


@case("POST", "/api/v1/plans/{draft_id}/boundary", **_on_drafts("/boundary", _boundary_body))
def _boundary(w, role, c):
    doc = w.open_draft(c)
    body = _boundary_body(doc)
    a, b = body["json"]["a"], body["json"]["b"]
    before, after = _grids(doc), _grids(ok(c.post(f"/api/v1/plans/{doc['draft']['id']}/boundary",
                                                  **body)))
    for k in (a, b):
        assert not shape(after[k]["geometry"]).equals(shape(before[k]["geometry"])), k
    assert _metric(shapely.union_all([shape(after[k]["geometry"]) for k in (a, b)])).area == \
        pytest.approx(_metric(shapely.union_all([shape(before[k]["geometry"])
                                                 for k in (a, b)])).area, rel=AREA_REL)


def _import_body(doc):
    collection = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": f["geometry"],
         "properties": {"code": f["properties"]["code"], "name": f["properties"]["name"]}}
        for f in doc["features"]]}
    return {"files": {"file": ("plan.geojson", json.dumps(collection).encode(),
                               "application/geo+json")}, "headers": _etag(doc)}


@case("POST", "/api/v1/plans/{draft_id}/import", **_on_drafts("/import", _import_body))
def _import(w, role, c):
    doc = w.open_draft(c)
    back = ok(c.post(f"/api/v1/plans/{doc['draft']['id']}/import", **_import_body(doc)))
    assert {f["properties"]["code"] for f in back["features"]} == set(_grids(doc))
    assert back["draft"]["version"] > doc["draft"]["version"]


@case("GET", "/api/v1/plans/{draft_id}/validation", **_on_drafts("/validation", edit=False))
def _validation(w, role, c):
    doc = w.open_draft(c)
    report = features(c.get(f"/api/v1/plans/{doc['draft']['id']}/validation"))
    assert report["valid"] is True and report["features"] == []
    assert report["draft_etag"] == doc["draft"]["etag"]


@case("GET", "/api/v1/plans/{draft_id}/impact", **_on_drafts("/impact", edit=False))
def _impact(w, role, c):
    doc = w.open_draft(c)
    result = ok(c.get(f"/api/v1/plans/{doc['draft']['id']}/impact"))
    assert result["changed"] == result["added"] == result["removed"] == []
    assert set(result["after"]) == set(_grids(doc)) and result["changes_hands"] == []


@case("POST", "/api/v1/plans/{draft_id}/publish",
      **_on_drafts("/publish", lambda doc: {"headers": _etag(doc)}))
def _publish(w, role, c):
    doc = w.open_draft(c)
    split = _split_body(doc)
    doc = ok(c.post(f"/api/v1/plans/{doc['draft']['id']}/split", **split))
    result = ok(c.post(f"/api/v1/plans/{doc['draft']['id']}/publish", headers=_etag(doc)))
    assert result["changed"] == [split["json"]["key"]] and len(result["added"]) == 1
    assert set(result["added"]) <= w.live_grids(PLAN_AREA)


# Open311 and health: public

def _xml(r: httpx.Response, tag: str) -> list[str]:
    """The texts of every `tag` element of an XML answer."""
    assert r.status_code in (200, 201), r.text[:300]
    assert r.headers["content-type"].startswith("text/xml")
    return [e.text for e in ET.fromstring(r.content).iter(tag)]


@case("GET", "/open311/v2/discovery.{fmt}")
def _discovery(w, role, c):
    assert ok(c.get("/open311/v2/discovery.json"))["endpoints"][0]["url"].endswith("/open311/v2")
    assert _xml(c.get("/open311/v2/discovery.xml"), "url")[0].endswith("/open311/v2")


@case("GET", "/open311/v2/services.{fmt}")
def _services(w, role, c):
    assert "L01" in {s["service_code"] for s in ok(c.get("/open311/v2/services.json"))}
    assert "L01" in _xml(c.get("/open311/v2/services.xml"), "service_code")


@case("GET", "/open311/v2/services/{service_code}.{fmt}")
def _service(w, role, c):
    assert ok(c.get("/open311/v2/services/L01.json"))["service_code"] == "L01"
    assert _xml(c.get("/open311/v2/services/L01.xml"), "service_code") == ["L01"]


@case("GET", "/open311/v2/requests.{fmt}")
def _requests(w, role, c):
    one = ok(c.get("/open311/v2/requests.json", params={"service_request_id": w.shared}))
    assert [(x["service_request_id"], x["status"]) for x in one] == [(str(w.shared), "open")]
    assert _xml(c.get("/open311/v2/requests.xml", params={"service_request_id": w.shared}),
                "service_request_id") == [str(w.shared)]
    # Without dates: the 90 days before the server's (pinned) now.
    window = ok(c.get("/open311/v2/requests.json"))
    times = [datetime.fromisoformat(x["requested_datetime"]) for x in window]
    assert times and all(REFERENCE_TIME - timedelta(days=90) <= t < REFERENCE_TIME for t in times)


def _open311_form(w):
    lon, lat = w.city.landmarks[SCHOOL]
    return {"api_key": "demo", "service_code": "L01", "lat": lat, "long": lon,
            "description": "摊贩占道"}


@case("POST", "/open311/v2/requests.{fmt}")
def _post_request(w, role, c):
    created = ok(c.post("/open311/v2/requests.json", data=_open311_form(w)), 201)[0]
    back = ok(c.get(f"/open311/v2/tokens/{created['token']}.json"))
    assert back == [{"service_request_id": created["service_request_id"],
                     "token": created["token"]}]
    (again,) = _xml(c.post("/open311/v2/requests.xml", data=_open311_form(w)),
                    "service_request_id")
    assert int(again) > int(created["service_request_id"])


@case("GET", "/open311/v2/requests/{request_id}.{fmt}")
def _request(w, role, c):
    one = ok(c.get(f"/open311/v2/requests/{w.shared}.json"))
    assert [x["service_request_id"] for x in one] == [str(w.shared)]
    assert one[0]["description"] is None  # descriptions stay private
    assert _xml(c.get(f"/open311/v2/requests/{w.shared}.xml"),
                "service_request_id") == [str(w.shared)]


@case("GET", "/open311/v2/tokens/{token}.{fmt}")
def _token_lookup(w, role, c):
    assert ok(c.get(f"/open311/v2/tokens/{w.shared_token}.json")) == [
        {"service_request_id": str(w.shared), "token": w.shared_token}]
    assert _xml(c.get(f"/open311/v2/tokens/{w.shared_token}.xml"),
                "service_request_id") == [str(w.shared)]


@case("GET", "/healthz")
def _health(w, role, c):
    health = ok(c.get("/healthz"))
    assert health["status"] == "ok" and health["backend"] == w.server.store.backend


# the map pages (HTML)

def _page(r: httpx.Response, role: str, *texts: str) -> None:
    assert r.status_code == 200, f"{r.status_code}: {r.text[:300]}"
    assert r.headers["content-type"].startswith("text/html")
    assert "connect-src 'self'" in r.headers["content-security-policy"]
    # the viewer (the role in words, in English for these callers), and what the page is of
    for text in (f"{role} ({ROLE_LABELS.get(role, role)})", *texts):
        assert text in r.text, text


@case("GET", "/maps")
def _maps(w, role, c):
    r = c.get("/maps")
    assert r.status_code == 303 and r.headers["location"] == "/maps/live"


@case("GET", "/maps/login")
def _login_page(w, role, c):
    r = ok(c.get("/maps/login", params={"next": "/maps/hotspots"}))
    assert 'data-next="/maps/hotspots"' in r.text and 'name="password"' in r.text
    assert 'data-next="/maps/live"' in c.get("/maps/login",
                                             params={"next": "https://elsewhere.example/"}).text


@case("GET", "/maps/live", probe=lambda w: ("/maps/live", {}),
      page_scopes=("layers:read", "issues:read"))
def _live_page(w, role, c):
    _page(c.get("/maps/live"), role, "griddispatch: live operations")


@case("GET", "/maps/issues/{issue_id}", probe=lambda w: (f"/maps/issues/{w.shared}", {}),
      page_scopes=("issues:dispatch", "layers:read"),
      foreign=lambda w: (f"/maps/issues/{w.foreign}", {}, 404, _no_such_issue(w.foreign)))
def _dispatch_page(w, role, c):
    _page(c.get(f"/maps/issues/{w.shared}"), role, f"dispatch issue {w.shared}")


def _vendor_filters(w):
    return {"params": {"category": "L01", "area": w.school_street,
                       "since": (REFERENCE_TIME - timedelta(days=182)).date().isoformat()}}


@case("GET", "/maps/hotspots", probe=lambda w: ("/maps/hotspots", _vendor_filters(w)),
      page_scopes=("hotspots:read", "layers:read"),
      foreign=lambda w: ("/maps/hotspots", {"params": {"area": w.foreign_street}}, 404,
                         f"no grids of area {w.foreign_street} in your jurisdiction"))
def _hotspot_page(w, role, c):
    _page(c.get("/maps/hotspots", **_vendor_filters(w)), role, w.school_street)


@case("GET", "/maps/editor/{draft_id}", probe=lambda w: (f"/maps/editor/{_draft(w)}", {}),
      page_scopes=("grids:plan", "layers:read"),
      foreign=lambda w: (f"/maps/editor/{w.foreign_doc['draft']['id']}", {}, 404,
                         f"no draft {w.foreign_doc['draft']['id']} that you can see"))
def _editor_page(w, role, c):
    _page(c.get(f"/maps/editor/{_draft(w)}"), role, f"grid editor, draft {_draft(w)}")


@case("GET", "/maps/dashboard", probe=lambda w: ("/maps/dashboard", {}),
      page_scopes=("issues:read", "layers:read"), refused=_screen_refusal)
def _dashboard_page(w, role, c):
    _page(c.get("/maps/dashboard"), role, "griddispatch: Command centre big screen")


# property companies and the red/black list (红黑榜)

PROPERTY_MONTH = {"params": {"period": "2026-10"}}


def _companies_seen(w, role: str) -> set[str]:
    """The companies a role may see, from the compound table: its own (a company's account),
    those with a compound in its jurisdiction, all (admin)."""
    with w.server.store.snapshot() as tx:
        rows = tx.rows("SELECT id FROM property_company") if role == "admin" else tx.rows(
            "SELECT property_company_id AS id, community_code FROM compound "
            "WHERE property_company_id IS NOT NULL")
    if role == "admin":
        return {r["id"] for r in rows}
    if role == "property":
        return {_own_company(w)}
    areas = w.me[role]["jurisdiction"]
    return {r["id"] for r in rows if any(r["community_code"].startswith(a) for a in areas)}


def _foreign_company(w) -> str:
    """A company that no demo account but the admin may see."""
    seen = set().union(*(_companies_seen(w, r) for r in ("operator", "supervisor", "property")))
    return sorted(_companies_seen(w, "admin") - seen)[0]


def _own_company(w) -> str:
    with w.server.store.snapshot() as tx:
        return tx.one("SELECT company_id FROM app_user WHERE username = 'property'")["company_id"]


def _no_such_company(cid: str) -> str:
    return f"no property company {cid} that you may see"


@case("GET", "/api/v1/property/ranking", probe=lambda w: ("/api/v1/property/ranking",
                                                          PROPERTY_MONTH))
def _property_ranking(w, role, c):
    listed = ok(c.get("/api/v1/property/ranking", **PROPERTY_MONTH))
    assert {x["company_id"] for x in listed["companies"]} == _companies_seen(w, role)


@case("GET", "/api/v1/property/ranking.csv",
      probe=lambda w: ("/api/v1/property/ranking.csv", PROPERTY_MONTH))
def _property_csv(w, role, c):
    r = ok(c.get("/api/v1/property/ranking.csv", **PROPERTY_MONTH))
    lines = r.content.decode("utf-8-sig").splitlines()
    assert r.content.startswith(b"\xef\xbb\xbf") and len(lines) == 1 + len(_companies_seen(w, role))


@case("GET", "/api/v1/property/compounds",
      probe=lambda w: ("/api/v1/property/compounds", PROPERTY_MONTH))
def _property_compounds(w, role, c):
    shown = ok(c.get("/api/v1/property/compounds", **PROPERTY_MONTH))
    assert {f["properties"]["company_id"] for f in shown["features"]} <= _companies_seen(w, role)
    if role == "property":
        assert {f["properties"]["company_id"] for f in shown["features"]} == {_own_company(w)}


@case("GET", "/api/v1/property/companies/{company_id}",
      probe=lambda w: (f"/api/v1/property/companies/{_own_company(w)}", {}),
      foreign=lambda w: (f"/api/v1/property/companies/{_foreign_company(w)}", {}, 404,
                         _no_such_company(_foreign_company(w))))
def _property_company(w, role, c):
    page = ok(c.get(f"/api/v1/property/companies/{_own_company(w)}", **PROPERTY_MONTH))
    assert page["company"]["id"] == _own_company(w) and page["compound_list"]


@case("POST", "/api/v1/property/companies/{company_id}/talks",
      probe=lambda w: (f"/api/v1/property/companies/{_own_company(w)}/talks",
                       {"json": {"reason": "服务差，约谈"}}),
      foreign=lambda w: (f"/api/v1/property/companies/{_foreign_company(w)}/talks",
                         {"json": {"reason": "服务差，约谈"}}, 404,
                         _no_such_company(_foreign_company(w))))
def _property_talk(w, role, c):
    talk = ok(c.post(f"/api/v1/property/companies/{_own_company(w)}/talks",
                     json={"reason": "服务差，约谈", "period": "2026-10"}), 201)
    assert talk["recorded_by"] == role and talk["period"] == "2026-10"


@case("GET", "/maps/property", probe=lambda w: ("/maps/property", PROPERTY_MONTH),
      page_scopes=("property:read",))
def _property_page(w, role, c):
    _page(c.get("/maps/property", **PROPERTY_MONTH), role, "red/black list", "2026-10")


# the whistle (吹哨、报到、会商、落实、反馈、评价) and the monthly assessment (考核评价)

WHISTLE_STEPS = ("called", "reported", "consulted", "done", "evaluated")


def _whistle_on(w, issue: int, to: str = "called",
                police: str = WHISTLE_POLICE) -> int:
    """A whistle blown by the admin on `issue`, calling one police station, taken through
    WHISTLE_STEPS to `to`."""
    steps = {"reported": (f"units/{police}/report-in", {}),
             "consulted": ("consult", {"plan": "联合执法"}),
             "done": (f"units/{police}/done", {}),
             "evaluated": ("evaluate", {"rating": 5, "unit_ratings": {police: 5}})}
    wid = ok(w.admin.post(f"/api/v1/issues/{issue}/whistle",
                          json={"department_ids": [police]}), 201)["id"]
    for name in WHISTLE_STEPS[1:WHISTLE_STEPS.index(to) + 1]:
        step, body = steps[name]
        ok(w.admin.post(f"/api/v1/whistles/{wid}/{step}", json=body))
    return wid


def _kept_whistle(w, name: str, make) -> int:
    """A whistle the module's cases share, made on first use."""
    if getattr(w, name, None) is None:
        setattr(w, name, make())
    return getattr(w, name)


def _shared_whistle(w) -> int:  # open, on a citizen's report at the school
    return _kept_whistle(w, "whistle_shared",
                         lambda: _whistle_on(w, w.report("citizen")["issue"]["id"]))


def _foreign_whistle(w) -> int:  # on the issue in 山前街道, nobody's but the admin's
    return _kept_whistle(w, "whistle_foreign", lambda: _whistle_on(
        w, w.foreign, police=f"D-{w.foreign_street}-police"))


def _finished_whistle(w) -> int:  # evaluated, so closed
    return _kept_whistle(w, "whistle_finished", lambda: _whistle_on(
        w, w.report("admin")["issue"]["id"], "evaluated"))


def _no_such_whistle(wid: int) -> str:
    return f"no whistle {wid} that you can see"


def _whistle_step(step: str, body: dict, ready: str) -> None:
    """The case of one step of the whistle, taken on a whistle made `ready` for it."""
    path = f"/api/v1/whistles/{{whistle_id}}/{step}"

    def on(wid: int) -> str:
        return path.format(whistle_id=wid, department_id=WHISTLE_POLICE)

    def run(w, role, c):
        wid = _whistle_on(w, w.report("admin")["issue"]["id"], ready)
        got = ok(c.post(on(wid), json=body))
        assert got["id"] == wid and got["version"] > 1

    case("POST", path, probe=lambda w: (on(_shared_whistle(w)), {"json": body}),
         foreign=lambda w: (on(_foreign_whistle(w)), {"json": body}, 404,
                            _no_such_whistle(_foreign_whistle(w))),
         finished=lambda w: (on(_finished_whistle(w)), {"json": body},
                             f"whistle {_finished_whistle(w)} is closed"))(run)


@case("POST", "/api/v1/issues/{issue_id}/whistle",
      probe=lambda w: (f"/api/v1/issues/{w.partner}/whistle",
                       {"json": {"department_ids": [WHISTLE_POLICE]}}),
      foreign=lambda w: (f"/api/v1/issues/{w.foreign}/whistle",
                         {"json": {"department_ids": [WHISTLE_POLICE]}}, 404,
                         _no_such_issue(w.foreign)),
      finished=lambda w: (f"/api/v1/issues/{w.finished}/whistle",
                          {"json": {"department_ids": [WHISTLE_POLICE]}},
                          "a whistle is for an open issue"))
def _blow_whistle(w, role, c):
    issue = w.report("admin")["issue"]["id"]
    got = ok(c.post(f"/api/v1/issues/{issue}/whistle",
                    json={"department_ids": [WHISTLE_POLICE]}), 201)
    assert got["called_by"] == role and got["units"][0]["department_id"] == WHISTLE_POLICE


@case("GET", "/api/v1/whistles", probe=lambda w: ("/api/v1/whistles", {}))
def _list_whistles(w, role, c):
    mine, foreign = _shared_whistle(w), _foreign_whistle(w)
    listed = ok(c.get("/api/v1/whistles", params={"state": "all"}))["items"]
    shown = {x["id"] for x in listed}
    assert (foreign in shown) == (role == "admin"), (role, shown)
    assert (mine in shown) == (role != "team"), (role, shown)  # the team is not assigned
    if role == "department":
        assert all(WHISTLE_POLICE in {u["department_id"] for u in x["units"]} for x in listed)


@case("GET", "/api/v1/whistles/{whistle_id}",
      probe=lambda w: (f"/api/v1/whistles/{_shared_whistle(w)}", {}),
      refused=lambda role: (404, "no whistle") if role == "team" else None,
      foreign=lambda w: (f"/api/v1/whistles/{_foreign_whistle(w)}", {}, 404,
                         _no_such_whistle(_foreign_whistle(w))))
def _one_whistle(w, role, c):
    got = ok(c.get(f"/api/v1/whistles/{_shared_whistle(w)}"))
    assert got["events"][0]["action"] == "call" and got["units"][0]["step"] == "report_in"


_whistle_step("units/{department_id}/report-in", {}, "called")
_whistle_step("consult", {"plan": "联合执法"}, "reported")
_whistle_step("units/{department_id}/done", {}, "consulted")
_whistle_step("evaluate", {"rating": 4, "unit_ratings": {WHISTLE_POLICE: 4}}, "done")

ASSESSED_MONTH = {"params": {"month": "2026-11"}}


@case("GET", "/api/v1/assessment", probe=lambda w: ("/api/v1/assessment", ASSESSED_MONTH))
def _assessment(w, role, c):
    got = ok(c.get("/api/v1/assessment", **ASSESSED_MONTH))
    areas = w.me[role]["jurisdiction"]
    streets = [r["code"] for r in got["streets"]["items"]]
    assert streets and (role == "admin" or all(any(s.startswith(a) for a in areas)
                                                for s in streets)), (role, streets)


@case("GET", "/maps/assessment", probe=lambda w: ("/maps/assessment", ASSESSED_MONTH),
      page_scopes=("assessment:read",))
def _assessment_page(w, role, c):
    _page(c.get("/maps/assessment", **ASSESSED_MONTH), role, "Monthly assessment 2026-11")


# escalation (owning levels) and four-level responsibility (四级包保)

ESCALATE = {"json": {"reason": "needs the district"}}


@case("POST", "/api/v1/issues/{issue_id}/escalate",
      probe=lambda w: (f"/api/v1/issues/{w.shared}/escalate", ESCALATE),
      foreign=lambda w: (f"/api/v1/issues/{w.foreign}/escalate", ESCALATE, 404,
                         _no_such_issue(w.foreign)),
      finished=lambda w: (f"/api/v1/issues/{w.finished}/escalate", ESCALATE,
                          "a finished case is not escalated"))
def _escalate(w, role, c):
    iid = w.report("admin")["issue"]["id"]
    got = ok(c.post(f"/api/v1/issues/{iid}/escalate", **ESCALATE))
    assert (got["level"], got["escalations"][-1]["from_level"]) == ("district", "street")
    assert w.last_event(iid) == ("escalate", role)


@case("GET", "/api/v1/issues/{issue_id}/escalation", probe=_shared("/escalation"),
      foreign=_foreign_issue("/escalation"),
      refused=lambda role: (403, "owning levels are for staff") if role == "citizen" else None)
def _escalation(w, role, c):
    got = ok(c.get(f"/api/v1/issues/{w.shared}/escalation"))
    assert (got["issue_id"], got["level"], got["default_level"]) == (w.shared, "street", "street")


@case("GET", "/api/v1/escalation/levels", probe=lambda w: ("/api/v1/escalation/levels", {}),
      refused=lambda role: (403, "owning levels are for staff") if role == "citizen" else None)
def _solved_by_level(w, role, c):
    got = ok(c.get("/api/v1/escalation/levels"))
    assert [lv["level"] for lv in got["levels"]] == ["building", "community", "street",
                                                      "district", "city"]
    assert got["total"] == sum(lv["solved"] for lv in got["levels"])


@case("GET", "/api/v1/responsibility",
      probe=lambda w: ("/api/v1/responsibility", {"params": {"code": w.shared_grid}}))
def _responsibility(w, role, c):
    got = ok(c.get("/api/v1/responsibility", params={"code": w.shared_grid}))
    assert [lv["area_code"] for lv in got["levels"]] == [
        w.shared_grid[:n] for n in (6, 9, 12, 15)]
    phones = "people:read" in ROLE_SCOPES[role]
    assert got["phones"] is phones and all(("phone" in p) is phones
                                           for lv in got["levels"] for p in lv["people"])


# compounds (小区), buildings (楼栋) and their heads (三长)

def _compound(w) -> str:
    """The first compound of the shared issue's community."""
    frame = w.city.compounds
    return sorted(frame.code[frame.code.str.startswith(w.shared_areas["communities"])])[0]


def _box_of(geom) -> dict:
    x0, y0, x1, y1 = shapely.bounds(geom).tolist()
    return {"params": {"bbox": f"{x0},{y0},{x1},{y1}"}}


def _below_layer(layer: str, frame: Callable[[World], object]) -> Case:
    """A polygon layer below the grid: in a box around one compound, every polygon the box
    meets, by code (SQLite meets by bounding box: a superset at most)."""
    path = f"/api/v1/{layer}"

    def box(w):
        return _box_of(w.city.compounds.set_index("code").geometry[_compound(w)])

    def run(w, role, c):
        doc = features(c.get(path, **box(w)))
        got = {f["properties"]["code"] for f in doc["features"]}
        polygons = frame(w)
        x0, y0, x1, y1 = (float(v) for v in box(w)["params"]["bbox"].split(","))
        want = set(polygons.code[shapely.intersects(polygons.geometry.to_numpy(),
                                                    shapely.box(x0, y0, x1, y1))])
        assert want and want <= got and doc["numberMatched"] == len(got), (want, got)

    return Case(run, probe=lambda w: (path, box(w)))


CASES[("GET", "/api/v1/compounds")] = _below_layer("compounds", lambda w: w.city.compounds)
CASES[("GET", "/api/v1/buildings")] = _below_layer("buildings", lambda w: w.city.buildings)


def _phones_shown(w, role: str, code: str) -> bool:
    """Heads' phones: to holders of people:read whose jurisdiction holds the place."""
    return "people:read" in ROLE_SCOPES[role] and w.covers(role, code)


@case("GET", "/api/v1/compounds/{code}", probe=lambda w: (f"/api/v1/compounds/{_compound(w)}", {}))
def _one_compound(w, role, c):
    code = _compound(w)
    got = ok(c.get(f"/api/v1/compounds/{code}"))
    buildings = w.city.buildings
    assert got["code"] == code and {b["code"] for b in got["buildings"]} == set(
        buildings.code[buildings.compound_code == code])
    assert got["heads"] and all((h["phone"] is not None) == _phones_shown(w, role, code)
                                for h in got["heads"]), role


def _school_heads(w, **params):
    return {"params": {"area": w.shared_areas["communities"], **params}}


@case("GET", "/api/v1/heads", probe=lambda w: ("/api/v1/heads", _school_heads(w)),
      foreign=lambda w: ("/api/v1/heads", {"params": {"area": w.foreign_street}}, 403,
                         f"area {w.foreign_street} lies outside your jurisdiction"))
def _heads(w, role, c):
    community = w.shared_areas["communities"]
    heads = w.city.resident_heads
    want = heads[heads.area_code.str.startswith(community) & (heads.roster == "A")]
    got = ok(c.get("/api/v1/heads", **_school_heads(w, roster="A")))
    assert sorted(h["phone"] for h in got) == sorted(want.phone) and len(want)
    assert {h["compound_code"][:12] for h in got} == {community}


@case("GET", "/api/v1/heads/emergency", probe=lambda w: ("/api/v1/heads/emergency", {}))
def _emergency_heads(w, role, c):
    assert features(c.get("/api/v1/heads/emergency"))["features"] == []  # nowhere in emergency
    street = w.school_street
    ok(w.admin.put("/api/v1/mode", json={"mode": "emergency", "reason": "暴雨", "area": street}))
    try:
        doc = features(c.get("/api/v1/heads/emergency"))
    finally:
        ok(w.admin.put("/api/v1/mode", json={"mode": "normal", "reason": "雨停", "area": street}))
    compounds = {f["properties"]["compound_code"] for f in doc["features"]}
    heads = w.city.resident_heads
    street_heads = heads[(heads.roster == "B") & heads.area_code.str.startswith(street)]
    want = {a[:17] for a in street_heads.area_code if w.covers(role, a)}
    assert compounds == want and want, role


# disputes (矛盾纠纷) and their mediation (调解)

def _dispute_body(w, community: str | None = None) -> dict:
    return {"type": "neighbours", "summary": "楼上漏水引发邻里纠纷",
            "found_at": (REFERENCE_TIME - timedelta(days=1)).isoformat(),
            "found_by": "网格长王伟", "community_code": community or w.shared_areas["communities"],
            "parties": [{"name": "王小明", "role": "applicant", "phone": "13912341234"},
                        {"name": "李华", "role": "respondent", "phone": "0432-62345678"}]}


def _squad(w, community: str) -> list[int]:
    with w.server.store.snapshot() as tx:
        return [int(r["id"]) for r in tx.rows(
            "SELECT m.id FROM squad_member m JOIN mediation_squad q ON q.id = m.squad_id "
            "WHERE q.community_code = :c ORDER BY m.id LIMIT 2", {"c": community})]


DISPUTE_STEPS = ("registered", "mediating", "resolved", "visited")


def _dispute_in(w, state: str, community: str | None = None) -> int:
    """A dispute registered by the admin in `community` (the shared issue's), taken through
    DISPUTE_STEPS to `state`: a session that reached an agreement, the agreement, a visit."""
    community = community or w.shared_areas["communities"]
    did = ok(w.admin.post("/api/v1/disputes", json=_dispute_body(w, community)), 201)["id"]
    now = REFERENCE_TIME.isoformat()
    steps = {"mediating": ("sessions", {"at": now, "mediators": _squad(w, community),
                                        "result": "agreement"}),
             "resolved": ("outcome", {"outcome": "resolve", "agreement": "赔偿维修费800元"}),
             "visited": ("follow-ups", {"at": now, "satisfied": True})}
    for name in DISPUTE_STEPS[1:DISPUTE_STEPS.index(state) + 1]:
        step, body = steps[name]
        ok(w.admin.post(f"/api/v1/disputes/{did}/{step}", json=body),
           201 if step != "outcome" else 200)
    return did


def _shared_dispute(w) -> int:  # open and flagged: its notice went to the demo police station
    def make():
        did = _dispute_in(w, "registered")
        ok(w.admin.post(f"/api/v1/disputes/{did}/risk", json={"reason": "扬言报复"}))
        return did
    return _kept_whistle(w, "dispute_shared", make)


def _foreign_dispute(w) -> int:  # in 龙潭区, nobody's but the admin's
    return _kept_whistle(w, "dispute_foreign", lambda: _dispute_in(w, "registered",
                                                                   FOREIGN_AREA))


def _withdrawn_dispute(w) -> int:
    def make():
        did = _dispute_in(w, "registered")
        ok(w.admin.post(f"/api/v1/disputes/{did}/outcome",
                        json={"outcome": "withdraw", "note": "当事人自行和解"}))
        return did
    return _kept_whistle(w, "dispute_withdrawn", make)


def _no_such_dispute(did: int) -> str:
    return f"no dispute {did} that you can see"


def _masked(role: str) -> bool:
    return "disputes:parties" not in ROLE_SCOPES[role]


@case("POST", "/api/v1/disputes", probe=lambda w: ("/api/v1/disputes", {"json": _dispute_body(w)}),
      foreign=lambda w: ("/api/v1/disputes", {"json": _dispute_body(w, FOREIGN_AREA)}, 403,
                         f"community {FOREIGN_AREA} lies outside your jurisdiction"))
def _register_dispute(w, role, c):
    got = ok(c.post("/api/v1/disputes", json=_dispute_body(w)), 201)
    assert (got["state"], got["level"], got["registered_by"]) == ("registered", "community", role)
    assert [p["masked"] for p in got["parties"]] == [_masked(role)] * 2
    assert (got["parties"][0]["phone"] == "13912341234") == (not _masked(role))


@case("GET", "/api/v1/disputes", probe=lambda w: ("/api/v1/disputes", {}))
def _list_disputes(w, role, c):
    mine, foreign = _shared_dispute(w), _foreign_dispute(w)
    got = ok(c.get("/api/v1/disputes", params={"limit": 500}))
    shown = {d["id"] for d in got["items"]}
    assert mine in shown and (foreign in shown) == (role == "admin"), role
    assert all(w.covers(role, d["community_code"]) for d in got["items"])
    assert all("parties" not in d for d in got["items"])


@case("GET", "/api/v1/disputes/{dispute_id}",
      probe=lambda w: (f"/api/v1/disputes/{_shared_dispute(w)}", {}),
      foreign=lambda w: (f"/api/v1/disputes/{_foreign_dispute(w)}", {}, 404,
                         _no_such_dispute(_foreign_dispute(w))))
def _one_dispute(w, role, c):
    did = _shared_dispute(w)
    got = ok(c.get(f"/api/v1/disputes/{did}"))
    assert (got["id"], got["risk"], got["level"]) == (did, True, "street")
    assert [e["action"] for e in got["events"]] == ["register", "flag_risk"]
    assert [p["masked"] for p in got["parties"]] == [_masked(role)] * 2
    assert [n["department_id"] for n in got["notices"]] == [WHISTLE_POLICE]


@case("GET", "/api/v1/disputes/rates", probe=lambda w: ("/api/v1/disputes/rates", {}))
def _dispute_rates(w, role, c):
    got = ok(c.get("/api/v1/disputes/rates", params={"level": "community"}))
    codes = [r["code"] for r in got["items"]]
    assert codes and all(w.covers(role, code) for code in codes), role
    assert got["total"]["found"] == sum(r["found"] for r in got["items"])
    assert (FOREIGN_AREA[:6] in {code[:6] for code in codes}) == (role == "admin")


@case("GET", "/api/v1/disputes/notices", probe=lambda w: ("/api/v1/disputes/notices", {}))
def _risk_notices(w, role, c):
    did = _shared_dispute(w)
    got = ok(c.get("/api/v1/disputes/notices"))["items"]
    # A police station reads those sent to it, readers of disputes those they may see.
    receives = role == "department" or "disputes:read" in ROLE_SCOPES[role]
    assert (did in {n["dispute_id"] for n in got}) == receives, role
    if role == "department":
        assert {n["department_id"] for n in got} == {WHISTLE_POLICE}
    elif receives:
        assert all(w.covers(role, n["community_code"]) for n in got)
    else:
        assert got == []


def _dispute_step(step: str, body: Callable[[World], dict], ready: str, finished: str,
                  refusal: str, status: int = 200,
                  check: Callable[[dict], bool] = lambda got: True) -> None:
    """The case of one action on a dispute, taken on a fresh one made `ready` for it; refused
    with 409 on one made `finished` (`refusal` the start of the words)."""
    path = f"/api/v1/disputes/{{dispute_id}}/{step}"
    finished_one = {"resolved": lambda w: _kept_whistle(w, "dispute_resolved",
                                                        lambda: _dispute_in(w, "resolved")),
                    "withdrawn": _withdrawn_dispute}[finished]

    def run(w, role, c):
        did = _dispute_in(w, ready)
        got = ok(c.post(path.format(dispute_id=did), json=body(w)), status)
        assert got["id"] == did and got["events"][-1]["actor"] == role and check(got), got

    case("POST", path,
         probe=lambda w: (path.format(dispute_id=_shared_dispute(w)), {"json": body(w)}),
         foreign=lambda w: (path.format(dispute_id=_foreign_dispute(w)), {"json": body(w)}, 404,
                            _no_such_dispute(_foreign_dispute(w))),
         finished=lambda w: (path.format(dispute_id=finished_one(w)), {"json": body(w)},
                             refusal))(run)


_dispute_step("sessions", lambda w: {"at": REFERENCE_TIME.isoformat(), "result": "progress",
                                     "mediators": _squad(w, w.shared_areas["communities"])},
              "registered", "resolved", "cannot record a mediation session on a dispute that "
              "is resolved by agreement", 201, lambda got: got["state"] == "mediating")
_dispute_step("outcome", lambda w: {"outcome": "resolve", "agreement": "赔偿维修费800元"},
              "mediating", "resolved", "cannot record an agreement on a dispute that is "
              "resolved by agreement", check=lambda got: got["state"] == "resolved")
_dispute_step("follow-ups", lambda w: {"at": REFERENCE_TIME.isoformat(), "satisfied": False},
              "resolved", "withdrawn", "cannot record a follow-up visit on a dispute that is "
              "withdrawn", 201, lambda got: got["follow_ups"][-1]["satisfied"] is False)
_dispute_step("risk", lambda w: {"reason": "扬言报复"}, "registered", "resolved",
              "cannot flag a risk of turning criminal on a dispute that is resolved",
              check=lambda got: (got["risk"], got["level"], got["notice"]["department_id"])
              == (True, "street", WHISTLE_POLICE))


# --- the harness ------------------------------------------------------------------------------

def operations(doc: dict) -> dict[tuple[str, str], list[str] | None]:
    """(method, path) → the scopes the operation declares, None for a public one."""
    out = {}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method.upper() not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                continue
            security = op.get("security")
            out[(method.upper(), path)] = (None if not security else
                                           [s for req in security for s in req.get(
                                               "OAuth2PasswordBearer", [])])
    return out


def _pattern(template: str) -> re.Pattern:
    parts = re.split(r"\{[^}]+\}", template)
    return re.compile("[^/]+".join(re.escape(p) for p in parts) + "$")


def _route_of(templates: list[str], path: str) -> str | None:
    """The template a path is routed to: of those that match, the one with the fewest
    parameters (a literal segment wins over a parameter, as in the router)."""
    matching = [t for t in templates if _pattern(t).match(path)]
    return min(matching, key=lambda t: t.count("{")) if matching else None


@pytest.fixture(scope="module")
def documented(world):
    return operations(ok(world.admin.get("/openapi.json")))


def test_every_documented_operation_has_a_case(documented):
    print("operations exempt from the role table:",
          "".join(f"\n  {m} {p}: {why}" for (m, p), why in sorted(EXEMPT.items())) or "none")
    missing = sorted(set(documented) - set(CASES) - set(EXEMPT))
    assert not missing, "operations of /openapi.json without a case in CASES (or EXEMPT): " + \
        ", ".join(f"{m} {p}" for m, p in missing)
    gone = sorted((set(CASES) | set(EXEMPT)) - set(documented))
    assert not gone, "cases for operations the document no longer has: " + \
        ", ".join(f"{m} {p}" for m, p in gone)


def _expect(r: httpx.Response, status: int, *texts: str) -> None:
    """The status, and each text in the error's detail (or in the page, for the map pages)."""
    json_body = "json" in r.headers.get("content-type", "")
    detail = r.json().get("detail", "") if json_body else r.text
    assert r.status_code == status and all(t in detail for t in texts), \
        f"expected {status} {texts}, got {r.status_code}: {r.text[:300]}"
    if json_body and status >= 400 and isinstance(r.json(), dict):
        assert re.fullmatch(r"[a-z][a-z0-9_]*", r.json().get("code", "")), r.text[:300]
    if status == 401:
        assert r.headers["www-authenticate"].startswith("Bearer")


def _to_login(r: httpx.Response) -> None:
    assert r.status_code == 303 and r.headers["location"].startswith("/maps/login?next=/maps/"), \
        f"expected a redirect to the login page, got {r.status_code}: {r.text[:200]}"


def _check_operation(w: World, method: str, template: str, scopes: list[str] | None, case: Case,
                     templates: list[str]) -> list[str]:
    """Every caller against one operation; the wrong answers."""
    failures = []

    def attempt(who: str | None, token: bool, check: Callable[[httpx.Client], None],
                exercised: bool = False) -> None:
        client = w.callers[who if token else None]
        client.cookies.clear()
        w.seen.clear()
        try:
            check(client)
            if exercised:  # the case called this operation, not only others
                routed = {(s.split(" ", 1)[0], _route_of(templates, s.split(" ", 1)[1]))
                          for s in w.seen}
                assert (method, template) in routed, f"the case never called it: {w.seen}"
        except Exception as exc:  # every wrong answer is reported, not only the first
            kind = "" if isinstance(exc, AssertionError) else f"{type(exc).__name__}: "
            failures.append(f"{who or 'no token'} {method} {template}: {kind}"
                            + " ".join(str(exc).split())[:400])

    def expect(call, status: int, *texts: str, leaks: str | None = None):
        path, kwargs = call[:2]

        def check(c):
            r = c.request(method, path, **kwargs)
            _expect(r, status, *texts)
            assert leaks is None or leaks not in r.text, f"the answer shows {leaks}"
        return check

    page = case.page_scopes is not None
    if page:
        if scopes is not None and set(scopes) != set(case.page_scopes):
            return [f"{method} {template}: the document declares {scopes}, the page checks "
                    f"{list(case.page_scopes)}"]
        scopes = list(case.page_scopes)
    if scopes is None:  # public: answers without a token
        attempt(None, False, partial(case.run, w, None), exercised=True)
        return failures
    if page:
        path, kwargs = case.probe(w)
        attempt(None, False, lambda c: _to_login(c.request(method, path, **kwargs)))
    else:
        attempt(None, False, expect(case.probe(w), 401, "not authenticated"))
    for role in ROLES:
        missing = [s for s in scopes if s not in ROLE_SCOPES[role]]
        refusal = case.refused(role)
        if missing:
            attempt(role, True, expect(case.probe(w), 403,
                                       f"this needs scope{'s' * (len(missing) > 1)} {', '.join(missing)}",
                                       role))
        elif refusal:
            attempt(role, True, expect(case.probe(w), *refusal))
        else:
            attempt(role, True, partial(case.run, w, role), exercised=True)
            if case.foreign and role != "admin":  # refused, and without the place
                foreign = case.foreign(w)
                attempt(role, True, expect(foreign, *foreign[2:], leaks=w.foreign_lon))
            if case.finished:
                finished = case.finished(w)
                attempt(role, True, expect(finished, 409, finished[2]))
    return failures


def test_every_role_against_every_operation(world, documented):
    """For each operation of the document and each caller: no token → 401 (public operations
    answer without one); a role without one of its scopes → 403 naming the scope; a role with
    them → the case's answer, checked; the same request on a foreign object → 404, on a
    finished one → 409."""
    templates = [p for _, p in documented]
    failures = []
    for (method, template), scopes in documented.items():
        if (method, template) in CASES:  # the others: test_every_documented_operation_has_a_case
            failures += _check_operation(world, method, template, scopes,
                                         CASES[(method, template)], templates)
    assert not failures, f"{len(failures)} wrong answer(s):\n" + "\n".join(failures)


# --- citizens, tokens and server-owned fields, on the same server ----------------------------

def test_citizens_see_their_own_reports_and_only_public_fields(world):
    mine = world.report("citizen")["issue"]
    staff = world.report("dispatcher")["issue"]
    with world.server.store.snapshot() as tx:
        own = {r["id"] for r in tx.rows("SELECT id FROM issue WHERE reported_by = 'citizen'")}
    c = world.callers["citizen"]
    listed = ok(c.get("/api/v1/issues", params={"limit": MANY}))
    assert mine["id"] in ids(listed["items"]) and ids(listed["items"]) == own
    shown = ok(c.get(f"/api/v1/issues/{mine['id']}"))
    _expect(c.get(f"/api/v1/issues/{staff['id']}"), 404, _no_such_issue(staff["id"]))
    for internal in ("reported_by", "teams", "due_at", "grid_code", "version"):
        assert shown.get(internal) is None, internal
    assert shown["state"] == "reported" and shown["category_code"] == "L01"


def test_server_owned_fields_cannot_be_set(world):
    lon, lat = world.city.landmarks[SCHOOL]
    c = world.callers["dispatcher"]
    for name, value in (("state", "closed"), ("reported_by", "admin"), ("version", 7),
                        ("grid_code", "220204001001001"), ("id", 1), ("teams", [])):
        r = c.post("/api/v1/issues", json={"category_code": "L01", "lon": lon, "lat": lat,
                                           name: value})
        _expect(r, 422, f"{name}: is not accepted here")
    iid = world.report("dispatcher")["issue"]["id"]
    assert c.post(f"/api/v1/issues/{iid}/accept", json={"state": "closed"}).status_code == 422
    assert ok(c.get(f"/api/v1/issues/{iid}"))["state"] == "reported"
    r = world.callers["team"].patch(f"/api/v1/teams/{world.team}", json={
        "lon": lon, "lat": lat, "position_at": "2020-01-01T00:00:00Z"})
    _expect(r, 422, "position_at: is not accepted here")


def test_teams_update_only_themselves(world):
    lon, lat = world.city.landmarks[SCHOOL]
    c = world.callers["team"]
    try:
        moved = ok(c.patch(f"/api/v1/teams/{world.team}",
                           json={"lon": lon, "lat": lat, "status": "busy"}))
        assert moved["status"] == "busy" and abs(moved["lon"] - lon) < 1e-9
        assert moved["position_at"] is not None
        _expect(c.patch(f"/api/v1/teams/{world.other_team}", json={"status": "busy"}), 403,
                "only members of this team")
        assert c.patch(f"/api/v1/teams/{world.team}",
                       json={"lon": lat, "lat": lon}).status_code == 422  # swapped
    finally:
        ok(c.patch(f"/api/v1/teams/{world.team}", json={"status": "available"}))


@pytest.mark.parametrize("token", [None, "not-a-jwt", "expired", "forged"])
def test_requests_without_a_valid_token_are_401(world, token):
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
    world.callers[None].cookies.clear()
    r = world.callers[None].get("/api/v1/issues", headers=headers)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")


def test_login_rejects_wrong_passwords_and_foreign_scopes(world):
    c = world.callers[None]
    assert c.post(TOKEN_URL, data={"username": "admin", "password": "wrong"}).status_code == 401
    assert c.post(TOKEN_URL, data={"username": "nobody", "password": "demo"}).status_code == 401
    r = c.post(TOKEN_URL, data={"username": "citizen", "password": "demo",
                                "scope": "issues:dispatch"})
    assert r.status_code == 400
    narrow = ok(c.post(TOKEN_URL, data={"username": "dispatcher", "password": "demo",
                                        "scope": "issues:read"}))
    assert narrow["scope"] == "issues:read"
    r = c.post("/api/v1/issues", json={}, headers={"Authorization": f"Bearer {narrow['access_token']}"})
    _expect(r, 403, "request it at login")


def test_production_refuses_demo_credentials(store):
    settings = Settings(environment="production", secret_key="x" * 40)
    with pytest.raises(ProductionRefused, match="存在演示账号凭据：admin, citizen, "):
        check_production(settings, store)  # the server's own language: no request chose one
    with using("en"):
        with pytest.raises(ProductionRefused, match="demo credentials are present: admin, "
                                                    "citizen, department, device, dispatcher"):
            check_production(settings, store)
        with pytest.raises(ProductionRefused, match="SECRET_KEY is not set"):
            check_production(Settings(environment="production"), store)
    with store.tx() as tx:
        tx.run("DELETE FROM app_user")
    check_production(settings, store)  # no demo accounts, a real key: starts


def test_a_login_session_reads_but_never_writes(world):
    with httpx.Client(base_url=world.server.url) as c:
        r = c.post("/api/v1/auth/session", data={"username": "dispatcher", "password": "demo"})
        assert r.status_code == 204
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert c.get("/api/v1/users/me").json()["username"] == "dispatcher"
        r = c.post("/api/v1/issues", json=_report_body(world)["json"])
        assert r.status_code == 401  # a cookie alone never changes data
        c.delete("/api/v1/auth/session")
        assert c.get("/api/v1/users/me").status_code == 401
        bad = c.post("/api/v1/auth/session", data={"username": "dispatcher", "password": "x"})
        assert bad.status_code == 401 and "set-cookie" not in bad.headers
