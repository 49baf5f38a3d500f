"""The whistle (吹哨、报到、会商、落实、反馈、评价) over real HTTP on both backends: the full loop
with a unit that fails to report in (red, counted, then late), the refusals with their codes,
and the seeds' stories in the demo history."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from fixtures.timeline import REFERENCE_TIME
from geo.casework.users import add_user
from geo.crs import GEOD

NOW = REFERENCE_TIME
SCHOOL = "电东胡同小学门口"  # 长春路街道, 船营区: the demo dispatcher's jurisdiction
STREET = "220204001"
DISTRICT = "220204"
ENFORCEMENT, URBAN, POLICE = (f"D-{STREET}-enforcement", f"D-{DISTRICT}-urban",
                              f"D-{STREET}-police")  # the demo `department` is the police


def ok(r, status=200) -> dict:
    assert r.status_code == status, r.text
    return r.json()


def refused(r, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == code, body
    assert body["detail"], body
    return body


@pytest.fixture
def world(api, city):
    """The server at the test city's "now", an issue reported at the school gate, and an
    account for each of the street's called departments."""
    api.now = NOW
    add_user(api.store, "enforcement", "demo", "department", department_id=ENFORCEMENT)
    add_user(api.store, "urban", "demo", "department", department_id=URBAN)
    lon, lat = city.landmarks[SCHOOL]
    issue = ok(api.client("dispatcher").post("/api/v1/issues", json={
        "category_code": "L01", "description": "校门口流动摊贩", "lon": lon, "lat": lat}),
        201)["issue"]
    assert issue["street_code"] == STREET
    return api, issue["id"]


def unit(whistle: dict, department_id: str) -> dict:
    return next(u for u in whistle["units"] if u["department_id"] == department_id)


def test_the_full_loop_with_a_unit_that_fails_to_report_in(world):
    api, issue_id = world
    caller, admin = api.client("dispatcher"), api.client("admin")
    w = ok(caller.post(f"/api/v1/issues/{issue_id}/whistle", json={
        "department_ids": [ENFORCEMENT, URBAN, POLICE], "report_in_minutes": 120,
        "part_hours": 24, "reason": "校门口摊贩，联合执法"}), 201)
    wid = w["id"]
    assert w["state"] == "called" and w["open"] and w["light"] == "green"
    assert {u["department_id"] for u in w["units"]} == {ENFORCEMENT, URBAN, POLICE}
    assert all(u["step"] == "report_in" and u["light"] == "green" for u in w["units"])
    # Two units report in on time; at 100 of 120 minutes the one missing is yellow.
    api.now = NOW + timedelta(minutes=30)
    ok(api.client("enforcement").post(f"/api/v1/whistles/{wid}/units/{ENFORCEMENT}/report-in",
                                      json={"note": "已到场"}))
    api.now = NOW + timedelta(minutes=60)
    ok(api.client("department").post(f"/api/v1/whistles/{wid}/units/{POLICE}/report-in"))
    api.now = NOW + timedelta(minutes=100)
    w = ok(admin.get(f"/api/v1/whistles/{wid}"))
    assert unit(w, URBAN)["light"] == "yellow" and w["units_missed_report_in"] == 0
    assert unit(w, POLICE)["step"] == "act" and unit(w, POLICE)["light"] == "green"
    # Past its deadline (the deadline's own instant included): red, and counted.
    api.now = NOW + timedelta(minutes=120)
    w = ok(caller.get(f"/api/v1/whistles/{wid}"))
    late = unit(w, URBAN)
    assert late["light"] == "red" and late["missed_report_in"] and late["reported_in_at"] is None
    assert w["light"] == "red" and w["units_missed_report_in"] == 1
    listed = ok(caller.get("/api/v1/whistles?state=open"))
    mine = next(x for x in listed["items"] if x["id"] == wid)
    assert mine["units_missed_report_in"] == 1
    assert listed["units_missed_report_in"] == sum(x["units_missed_report_in"]
                                                   for x in listed["items"])
    # The department sees the whistles that called it.
    seen = ok(api.client("department").get("/api/v1/whistles?state=open"))["items"]
    assert wid in {x["id"] for x in seen}
    assert all(POLICE in {u["department_id"] for u in x["units"]} for x in seen)
    # The consultation with those who came; the missing unit reports in late.
    api.now = NOW + timedelta(minutes=130)
    w = ok(caller.post(f"/api/v1/whistles/{wid}/consult", headers={"If-Match": f'"{w["version"]}"'},
                       json={"plan": "执法队牵头清理，派出所维持秩序，城管大队查处",
                             "tasks": {ENFORCEMENT: "清理摊点", POLICE: "维持秩序",
                                       URBAN: "依法查处"}}))
    assert w["state"] == "consulted" and unit(w, URBAN)["task"] == "依法查处"
    api.now = NOW + timedelta(minutes=160)
    w = ok(api.client("urban").post(f"/api/v1/whistles/{wid}/units/{URBAN}/report-in"))
    assert unit(w, URBAN)["reported_in_late"] is True
    assert unit(w, ENFORCEMENT)["reported_in_late"] is False
    assert w["units_late_report_in"] == 1 and w["units_missed_report_in"] == 0
    # Evaluation waits for every part.
    ok(api.client("enforcement").post(f"/api/v1/whistles/{wid}/units/{ENFORCEMENT}/done",
                                      json={"feedback": "摊点已清理"}))
    refused(caller.post(f"/api/v1/whistles/{wid}/evaluate", json={
        "rating": 5, "unit_ratings": {ENFORCEMENT: 5, URBAN: 3, POLICE: 5}}),
        409, "parts_not_done")
    ok(api.client("department").post(f"/api/v1/whistles/{wid}/units/{POLICE}/done", json={}))
    api.now = NOW + timedelta(hours=30)  # after the part's deadline (24 h): done late
    w = ok(api.client("urban").post(f"/api/v1/whistles/{wid}/units/{URBAN}/done",
                                    json={"feedback": "已查处"}))
    assert unit(w, URBAN)["done_late"] is True and unit(w, POLICE)["done_late"] is False
    assert all(u["light"] is None for u in w["units"])
    w = ok(caller.post(f"/api/v1/whistles/{wid}/evaluate", json={
        "rating": 4, "unit_ratings": {ENFORCEMENT: 5, URBAN: 3, POLICE: 5},
        "comment": "问题解决"}))
    assert w["state"] == "evaluated" and not w["open"] and w["rating"] == 4
    assert unit(w, URBAN)["rating"] == 3 and w["light"] is None
    refused(caller.post(f"/api/v1/whistles/{wid}/evaluate", json={
        "rating": 1, "unit_ratings": {ENFORCEMENT: 1, URBAN: 1, POLICE: 1}}), 409,
        "whistle_closed")
    assert wid not in {x["id"] for x in ok(caller.get("/api/v1/whistles?state=open"))["items"]}
    assert wid in {x["id"] for x in ok(caller.get("/api/v1/whistles?state=closed"))["items"]}
    trail = ok(caller.get(f"/api/v1/whistles/{wid}"))["events"]
    assert [e["action"] for e in trail] == ["call", "report_in", "report_in", "consult",
                                            "report_in", "done", "done", "done", "evaluate"]
    assert [e["department_id"] for e in trail if e["action"] == "report_in"] == [
        ENFORCEMENT, POLICE, URBAN]
    assert [e["details"]["late"] for e in trail if e["action"] == "report_in"] == [
        False, False, True]
    issue_trail = ok(caller.get(f"/api/v1/issues/{issue_id}/events"))
    whistled = [e for e in issue_trail if e["action"] == "whistle"]
    assert len(whistled) == 1 and whistled[0]["details"]["whistle_id"] == wid
    assert whistled[0]["from_state"] == whistled[0]["to_state"] == "reported"
    # A new whistle may be called on the issue once the last one is closed.
    ok(caller.post(f"/api/v1/issues/{issue_id}/whistle", json={"department_ids": [POLICE]}), 201)


def test_refusals_name_their_reason(world, city):
    api, issue_id = world
    caller = api.client("dispatcher")
    url = f"/api/v1/issues/{issue_id}/whistle"
    # 向阳街道's police station serves another street of the district: refused in words.
    body = refused(caller.post(url, json={"department_ids": [ENFORCEMENT, "D-220204002-police"]}),
                   422, "department_outside_area")
    assert "向阳派出所" in body["detail"] and "长春路街道" in body["detail"]
    english = api.client("dispatcher", lang="en").post(
        url, json={"department_ids": ["D-220204002-police"]})
    assert "does not serve" in refused(english, 422, "department_outside_area")["detail"]
    refused(caller.post(url, json={"department_ids": ["D-999999-police"]}), 422,
            "unknown_department")
    refused(caller.post(url, json={"department_ids": [POLICE, POLICE]}), 422,
            "duplicate_department")
    refused(caller.post(url, json={"department_ids": []}), 422, "validation_failed")
    refused(caller.post(url, json={"department_ids": [POLICE], "state": "evaluated"}), 422,
            "validation_failed")  # a client never sets a server-owned field
    with api.store.snapshot() as tx:
        assert tx.one("SELECT count(*) AS n FROM whistle WHERE issue_id = :i",
                      {"i": issue_id})["n"] == 0  # nothing half written
    # Only callers call; departments work.
    refused(api.client("department").post(url, json={"department_ids": [POLICE]}), 403,
            "insufficient_scope")
    w = ok(caller.post(url, json={"department_ids": [ENFORCEMENT, POLICE]}), 201)
    wid = w["id"]
    # One open whistle per issue.
    refused(api.client("supervisor").post(url, json={"department_ids": [URBAN]}), 409,
            "whistle_open")
    # A department reports for itself only; a unit that was not called is not found.
    refused(api.client("department").post(
        f"/api/v1/whistles/{wid}/units/{ENFORCEMENT}/report-in"), 403, "not_your_unit")
    refused(api.client("urban").post(f"/api/v1/whistles/{wid}/units/{URBAN}/report-in"), 404,
            "whistle_not_found")  # the whistle did not call it: it cannot see it
    refused(api.client("admin").post(f"/api/v1/whistles/{wid}/units/{URBAN}/report-in"), 404,
            "unit_not_called")
    refused(caller.post(f"/api/v1/whistles/{wid}/units/{POLICE}/report-in"), 403,
            "insufficient_scope")
    # Steps out of order.
    refused(caller.post(f"/api/v1/whistles/{wid}/consult", json={"plan": "计划"}), 409,
            "nobody_reported_in")
    ok(api.client("department").post(f"/api/v1/whistles/{wid}/units/{POLICE}/report-in"))
    refused(api.client("department").post(f"/api/v1/whistles/{wid}/units/{POLICE}/report-in"),
            409, "already_reported_in")
    refused(api.client("department").post(f"/api/v1/whistles/{wid}/units/{POLICE}/done"), 409,
            "not_consulted")
    refused(caller.post(f"/api/v1/whistles/{wid}/evaluate", json={
        "rating": 5, "unit_ratings": {ENFORCEMENT: 5, POLICE: 5}}), 409, "parts_not_done")
    current = ok(caller.get(f"/api/v1/whistles/{wid}"))
    refused(caller.post(f"/api/v1/whistles/{wid}/consult", json={"plan": "计划"},
                        headers={"If-Match": f'"{current["version"] - 1}"'}), 412,
            "precondition_failed")
    # Outside the caller's jurisdiction the issue does not exist for them.
    add_user(api.store, "disp-other", "demo", "dispatcher", ["220202001"])
    refused(api.client("disp-other").post(url, json={"department_ids": [POLICE]}), 404,
            "not_found")
    theirs = ok(api.client("disp-other").get("/api/v1/whistles?state=all"))["items"]
    assert wid not in {x["id"] for x in theirs}
    assert all(x["street_code"] == "220202001" for x in theirs)
    refused(api.client("disp-other").get(f"/api/v1/whistles/{wid}"), 404, "whistle_not_found")
    # A finished issue takes no whistle.
    closed = int(np.flatnonzero(city.issues.state.to_numpy() == "closed")[0]) + 1
    refused(api.client("admin").post(f"/api/v1/issues/{closed}/whistle",
                                     json={"department_ids": [POLICE]}), 409, "issue_finished")


def test_the_seeds_stories_are_in_the_history(store, city):
    """The 电东胡同 school gate: 长春路街道 blew the whistle on the closed app report of street
    vendors nearest the gate; its enforcement team, the district brigade and 长春路派出所
    reported in on time and acted; evaluated. And the open whistle whose unit is missing."""
    issues = city.issues
    lon, lat = city.landmarks[SCHOOL]
    pick = issues[(issues.category_code == "L01") & (issues.state == "closed")
                  & (issues.channel == "citizen_app")]
    _az, _baz, dist = GEOD.inv(np.full(len(pick), lon), np.full(len(pick), lat),
                               pick.geometry.x.to_numpy(), pick.geometry.y.to_numpy())
    row = pick.index[int(np.argmin(dist))]
    with store.snapshot() as tx:
        issue = tx.one("SELECT id, street_code, description FROM issue i WHERE reported_at = :t "
                       "AND category_code = 'L01' AND channel = 'citizen_app'",
                       {"t": issues.reported_at[row].to_pydatetime()})
        w = tx.one("SELECT id, state, open, called_by, reason, rating FROM whistle "
                   "WHERE issue_id = :i", {"i": issue["id"]})
        units = tx.rows("SELECT department_id, reported_in_at, reported_in_late, done_at, rating "
                        "FROM whistle_unit WHERE whistle_id = :w ORDER BY department_id",
                        {"w": w["id"]})
        names = {r["id"]: r["name"] for r in tx.rows("SELECT id, name FROM department")}
        trail = [r["action"] for r in tx.rows(
            "SELECT action FROM whistle_event WHERE whistle_id = :w ORDER BY id", {"w": w["id"]})]
        marked = tx.one("SELECT count(*) AS n FROM issue_event WHERE issue_id = :i AND "
                        "action = 'whistle'", {"i": issue["id"]})["n"]
        open_ = tx.rows("SELECT w.id, u.department_id, u.report_in_due FROM whistle w "
                        "JOIN whistle_unit u ON u.whistle_id = w.id WHERE w.open = :yes AND "
                        "u.reported_in_at IS NULL", {"yes": True})
    assert issue["street_code"] == STREET
    assert w["state"] == "evaluated" and not w["open"] and w["called_by"] == "dispatcher"
    assert "港湾社区" in w["reason"] and "便民江城" in w["reason"]
    assert [names[u["department_id"]] for u in units] == [
        "船营区城管执法大队", "长春路街道综合行政执法队", "长春路派出所"]
    assert all(u["reported_in_at"] and not u["reported_in_late"] and u["done_at"]
               and u["rating"] for u in units)
    assert trail[0] == "call" and trail[-1] == "evaluate" and trail.count("report_in") == 3
    assert trail.count("done") == 3 and marked == 1
    # One open whistle with a unit past its report-in deadline at the city's "now".
    assert len(open_) == 1
    assert open_[0]["department_id"].endswith("-urban")
