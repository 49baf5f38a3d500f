"""Two whistles blown at once on one issue, one on each of two server processes (PostGIS and
SQLite): exactly one is called, the other is a 409 `whistle_open`, and the database holds one
whistle, one call event and one `whistle` entry on the issue's trail per round. Two
evaluations at once close the whistle once."""

from __future__ import annotations

from functools import partial

import pytest

from geo.store import open_store
from tests.processes import together

SCHOOL = "电东胡同小学门口"  # 长春路街道: the demo dispatcher's and supervisor's jurisdiction
POLICE, ENFORCEMENT = "D-220204001-police", "D-220204001-enforcement"
ROUNDS = 6


@pytest.fixture(scope="module")
def clients(two_servers):
    opened: dict[tuple[int, str], object] = {}

    def get(i: int, user: str):
        if (i, user) not in opened:
            opened[(i, user)] = two_servers.client(i, user)
        return opened[(i, user)]

    yield get
    for c in opened.values():
        c.close()


def report(c, city) -> int:
    lon, lat = city.landmarks[SCHOOL]
    r = c.post("/api/v1/issues", json={"category_code": "L01", "description": "whistle race",
                                       "lon": lon, "lat": lat})
    assert r.status_code == 201, r.text
    return r.json()["issue"]["id"]


def test_two_whistles_on_one_issue_call_one(two_servers, clients, city):
    a, b = clients(0, "dispatcher"), clients(1, "supervisor")
    ids = []
    for _ in range(ROUNDS):
        issue = report(a, city)
        ids.append(issue)
        url = f"/api/v1/issues/{issue}/whistle"
        ra, rb = together(partial(a.post, url, json={"department_ids": [POLICE]}),
                          partial(b.post, url, json={"department_ids": [ENFORCEMENT]}))
        statuses = sorted((ra.status_code, rb.status_code))
        assert statuses == [201, 409], (ra.text, rb.text)
        loser = ra if ra.status_code == 409 else rb
        assert loser.json()["code"] == "whistle_open", loser.text
    with open_store(two_servers.db_url) as store, store.snapshot() as tx:
        d = tx.dialect
        per_issue = {r["issue_id"]: int(r["n"]) for r in tx.rows(
            f"SELECT issue_id, count(*) AS n FROM whistle WHERE {d.in_list('issue_id', 'ids')} "
            "GROUP BY issue_id", {"ids": ids})}
        calls = tx.one("SELECT count(*) AS n FROM whistle_event e JOIN whistle w ON "
                       f"w.id = e.whistle_id WHERE e.action = 'call' AND "
                       f"{d.in_list('w.issue_id', 'ids')}", {"ids": ids})["n"]
        marks = tx.one("SELECT count(*) AS n FROM issue_event WHERE action = 'whistle' AND "
                       f"{d.in_list('issue_id', 'ids')}", {"ids": ids})["n"]
    assert per_issue == dict.fromkeys(ids, 1)
    assert calls == ROUNDS and marks == ROUNDS


def test_two_evaluations_close_a_whistle_once(two_servers, clients, city):
    a, b = clients(0, "dispatcher"), clients(1, "supervisor")
    police = clients(0, "department")
    issue = report(a, city)
    r = a.post(f"/api/v1/issues/{issue}/whistle", json={"department_ids": [POLICE]})
    assert r.status_code == 201, r.text
    wid = r.json()["id"]
    assert police.post(f"/api/v1/whistles/{wid}/units/{POLICE}/report-in").status_code == 200
    assert a.post(f"/api/v1/whistles/{wid}/consult", json={"plan": "联合执法"}).status_code == 200
    assert police.post(f"/api/v1/whistles/{wid}/units/{POLICE}/done").status_code == 200
    body = {"rating": 5, "unit_ratings": {POLICE: 5}}
    ra, rb = together(lambda: a.post(f"/api/v1/whistles/{wid}/evaluate", json=body),
                      lambda: b.post(f"/api/v1/whistles/{wid}/evaluate",
                                     json={**body, "rating": 3}))
    assert sorted((ra.status_code, rb.status_code)) == [200, 409], (ra.text, rb.text)
    loser = ra if ra.status_code == 409 else rb
    assert loser.json()["code"] == "whistle_closed"
    with open_store(two_servers.db_url) as store, store.snapshot() as tx:
        n = tx.one("SELECT count(*) AS n FROM whistle_event WHERE whistle_id = :w AND "
                   "action = 'evaluate'", {"w": wid})["n"]
    assert n == 1
