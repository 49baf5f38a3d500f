"""If-Match on the issue transitions (both backends): GET /issues/{id} and every transition
answer with the issue's version as ETag; a transition naming an older one is a 412 that says
what the issue is now and writes nothing; two dispatchers who loaded the same version and
dispatch at once, through two server processes, cannot both assign teams."""

from __future__ import annotations

from functools import partial

from geo.store import open_store
from tests.processes import together

SCHOOL = "电东胡同小学门口"  # 长春路街道: the demo dispatcher's jurisdiction
ROUNDS = 6


def ok(r, status=200) -> dict:
    assert r.status_code == status, r.text
    return r.json()


def accepted_issue(c, city) -> int:
    """A new report at the school gate, accepted: ready to dispatch."""
    lon, lat = city.landmarks[SCHOOL]
    iid = ok(c.post("/api/v1/issues", json={"category_code": "L01", "description": "摊贩占道",
                                            "lon": lon, "lat": lat}), 201)["issue"]["id"]
    ok(c.post(f"/api/v1/issues/{iid}/accept", json={}))
    return iid


def two_teams(c, iid: int) -> list[str]:
    teams = [t["team_id"] for t in ok(c.get(f"/api/v1/issues/{iid}/candidates"))["candidates"]]
    assert len(teams) >= 2, teams
    return teams[:2]


def test_a_stale_if_match_is_refused_and_nothing_is_written(api, city):
    with api.client("dispatcher") as c:
        iid = accepted_issue(c, city)
        r = c.get(f"/api/v1/issues/{iid}")
        seen = ok(r)
        assert r.headers["ETag"] == f'"{seen["version"]}"'
        lead, support = two_teams(c, iid)
        # Someone dispatches behind our back: the version moves on.
        moved = c.post(f"/api/v1/issues/{iid}/dispatch", json={"team_ids": [support]},
                       headers={"If-Match": r.headers["ETag"]})
        assert ok(moved)["version"] == seen["version"] + 1
        assert moved.headers["ETag"] == f'"{seen["version"] + 1}"'
        events = ok(c.get(f"/api/v1/issues/{iid}/events"))
        # Our reassign, decided on what we saw, is refused, in words, and changes nothing.
        stale = c.post(f"/api/v1/issues/{iid}/reassign",
                       json={"team_ids": [lead, support], "reason": "closer by road"},
                       headers={"If-Match": r.headers["ETag"], "Accept-Language": "en"})
        assert stale.status_code == 412 and stale.json()["code"] == "precondition_failed"
        detail = stale.json()["detail"]
        assert f"issue {iid} changed" in detail and f"now version {seen['version'] + 1}" in detail
        assert "dispatched" in detail
        assert ok(c.get(f"/api/v1/issues/{iid}/events")) == events
        now = ok(c.get(f"/api/v1/issues/{iid}"))
        assert now["version"] == seen["version"] + 1
        assert [t["team_id"] for t in now["teams"]] == [support]
        # With the version it now has, the same reassign goes through.
        done = c.post(f"/api/v1/issues/{iid}/reassign",
                      json={"team_ids": [lead, support], "reason": "closer by road"},
                      headers={"If-Match": moved.headers["ETag"]})
        assert [t["team_id"] for t in ok(done)["teams"]] == [lead, support]
        assert done.headers["ETag"] == f'"{seen["version"] + 2}"'
        # Without If-Match (or with *), a transition is checked against the state alone.
        assert ok(c.post(f"/api/v1/issues/{iid}/reassign", json={"team_ids": [lead],
                                                                 "reason": "lead alone"},
                         headers={"If-Match": "*"}))["version"] == seen["version"] + 3


def test_an_if_match_that_is_no_etag_is_a_422_naming_it(api, city):
    with api.client("dispatcher") as c:
        iid = accepted_issue(c, city)
        lead, _ = two_teams(c, iid)
        r = c.post(f"/api/v1/issues/{iid}/dispatch", json={"team_ids": [lead]},
                   headers={"If-Match": "version 3"})
        assert r.status_code == 422 and "If-Match" in r.json()["detail"], r.text
        assert ok(c.get(f"/api/v1/issues/{iid}"))["state"] == "accepted"


def active_assignments(db_url: str, iid: int) -> list[tuple[str, bool]]:
    with open_store(db_url) as store, store.snapshot() as tx:
        rows = tx.rows("SELECT team_id, lead FROM assignment WHERE issue_id = :id AND "
                       "active = :yes ORDER BY lead DESC, team_id", {"id": iid, "yes": True})
    return [(r["team_id"], bool(r["lead"])) for r in rows]


def test_two_dispatchers_with_one_version_one_dispatches(two_servers, city):
    """The dispatcher on one process and the supervisor on the other dispatch different teams
    at the same moment, both with the ETag they loaded: one wins, the other is refused, and
    the issue has the winner's teams only."""
    with two_servers.client(0, "dispatcher") as a, two_servers.client(1, "supervisor") as b:
        for _ in range(ROUNDS):
            iid = accepted_issue(a, city)
            tag = a.get(f"/api/v1/issues/{iid}").headers["ETag"]
            first, second = two_teams(a, iid)
            picks = ([first], [second, first])
            ra, rb = together(
                partial(a.post, f"/api/v1/issues/{iid}/dispatch", json={"team_ids": picks[0]},
                        headers={"If-Match": tag}),
                partial(b.post, f"/api/v1/issues/{iid}/dispatch", json={"team_ids": picks[1]},
                        headers={"If-Match": tag}))
            statuses = sorted([ra.status_code, rb.status_code])
            # The loser waited for the winner's row lock, then found a newer version: 412,
            # before any check of the state (which alone would say 409).
            assert statuses == [200, 412], (ra.text, rb.text)
            won = picks[0] if ra.status_code == 200 else picks[1]
            lost = rb if ra.status_code == 200 else ra
            assert lost.json()["code"] == "precondition_failed"
            assert f"事件 {iid} 在您加载后已被修改" in lost.json()["detail"]
            assert active_assignments(two_servers.db_url, iid) == sorted(
                [(t, n == 0) for n, t in enumerate(won)], key=lambda p: (not p[1], p[0]))
            trail = ok(a.get(f"/api/v1/issues/{iid}/events"))
            dispatches = [e for e in trail if e["action"] == "dispatch"]
            assert len(dispatches) == 1 and dispatches[0]["details"]["team_ids"] == won
