"""The six-step loop over HTTP on both backends: legal and illegal moves, the audit trail,
deadlines and lights, dispatch candidates, emergency mode."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from fixtures.jilin import REFERENCE_TIME

SCHOOL = "电东胡同小学门口"  # 长春路街道: in the demo dispatcher's jurisdiction


def report(api, city, user="dispatcher", category="L01", place=SCHOOL, **extra):
    lon, lat = city.landmarks[place]
    with api.client(user) as c:
        r = c.post("/api/v1/issues", json={"category_code": category, "description": "摊贩占道",
                                           "lon": lon, "lat": lat, **extra})
    assert r.status_code == 201, r.text
    return r.json()


def act(api, user, issue_id, action, expect=200, lang=None, **body):
    with api.client(user, lang=lang) as c:
        r = c.post(f"/api/v1/issues/{issue_id}/{action}", json=body)
    assert r.status_code == expect, r.text
    return r.json()


def team_of(api):
    with api.client("team") as c:
        return c.get("/api/v1/users/me").json()["team_id"]


def test_report_says_where_and_who(api, city):
    body = report(api, city)
    loc = body["location"]
    assert loc["street_name"] == "长春路街道" and loc["community_name"] == "电东社区"
    assert body["issue"]["grid_code"] == loc["grid_code"]
    assert body["issue"]["state"] == "reported" and body["issue"]["light"] == "green"
    assert body["issue"]["reported_by"] == "dispatcher"
    teams = body["recommended_teams"]
    assert teams and [t["rank"] for t in teams] == list(range(1, len(teams) + 1))
    # Ranked by ETA with the workload's cost (120 s per open assignment by default).
    key = [t["eta_s"] + 120 * t["open_assignments"] for t in teams]
    assert key == sorted(key) and all(t["basis"] in ("road", "straight_line") for t in teams)
    assert all("按预计到达时间排第" in t["reason"] for t in teams)  # in Chinese by default
    # A second report at the same spot lists the first as a possible duplicate.
    again = report(api, city)
    assert [d["id"] for d in again["possible_duplicates"]] == [body["issue"]["id"]]
    assert again["possible_duplicates"][0]["distance_m"] < 1.0


def test_the_whole_loop_with_rework_is_audited(api, city):
    issue = report(api, city, user="citizen")["issue"]
    iid = issue["id"]
    act(api, "operator", iid, "accept")
    with api.client("dispatcher") as c:
        cands = c.get(f"/api/v1/issues/{iid}/candidates", params={"k": 5}).json()
    assert cands["candidates"], cands
    team = team_of(api)
    assert team in {t["team_id"] for t in cands["candidates"]}
    other = next(t["team_id"] for t in cands["candidates"] if t["team_id"] != team)
    dispatched = act(api, "dispatcher", iid, "dispatch", team_ids=[team, other])  # joint operation
    assert [t["team_id"] for t in dispatched["teams"]] == [team, other]
    assert dispatched["teams"][0]["lead"] and not dispatched["teams"][1]["lead"]
    act(api, "team", iid, "claim")
    act(api, "team", iid, "resolve", reason="stalls cleared")
    reworked = act(api, "supervisor", iid, "check", passed=False, reason="stalls are back")
    assert reworked["state"] == "claimed" and reworked["rework_count"] == 1
    act(api, "team", iid, "resolve", reason="cleared again, patrol posted")
    act(api, "supervisor", iid, "check", passed=True)
    closed = act(api, "citizen", iid, "rate", rating=4)
    assert closed["state"] == "closed" and closed["rating"] == 4 and closed["closed_at"]
    with api.client("supervisor") as c:
        trail = c.get(f"/api/v1/issues/{iid}/events").json()
    assert [(e["action"], e["from_state"], e["to_state"], e["actor"]) for e in trail] == [
        ("report", None, "reported", "citizen"),
        ("accept", "reported", "accepted", "operator"),
        ("dispatch", "accepted", "dispatched", "dispatcher"),
        ("claim", "dispatched", "claimed", "team"),
        ("resolve", "claimed", "resolved", "team"),
        ("check", "resolved", "claimed", "supervisor"),
        ("resolve", "claimed", "resolved", "team"),
        ("check", "resolved", "checked", "supervisor"),
        ("rate", "checked", "closed", "citizen"),
    ]
    assert trail[2]["details"] == {"team_ids": [team, other], "joint": True}
    assert trail[5]["reason"] == "stalls are back"
    assert all(datetime.fromisoformat(a["at"]) <= datetime.fromisoformat(b["at"])
               for a, b in zip(trail, trail[1:], strict=False))


def test_illegal_moves_are_409_with_the_allowed_ones(api, city):
    iid = report(api, city)["issue"]["id"]
    with api.client("dispatcher", lang="en") as c:
        r = c.post(f"/api/v1/issues/{iid}/dispatch", json={"team_ids": [team_of(api)]})
    assert r.status_code == 409 and r.json()["code"] == "state_conflict"
    assert r.json()["state"] == "reported"
    assert r.json()["allowed_actions"] == ["accept", "reject", "merge"]
    assert "cannot dispatch an issue that is reported" in r.json()["detail"]
    # a rejection needs a reason
    assert act(api, "dispatcher", iid, "reject", expect=422)["code"] == "reason_required"
    act(api, "dispatcher", iid, "reject", reason="not a vendor: a parked delivery van")
    r = act(api, "dispatcher", iid, "accept", expect=409, lang="en")
    assert r["allowed_actions"] == [] and "finished" in r["detail"]


def test_roles_are_held_to_their_steps(api, city):
    iid = report(api, city)["issue"]["id"]
    refused = act(api, "team", iid, "accept", expect=403)
    assert refused["code"] == "insufficient_scope" and "issues:triage" in refused["detail"]
    act(api, "grid_worker", iid, "accept", expect=403)  # token lacks issues:triage
    act(api, "dispatcher", iid, "accept")
    act(api, "operator", iid, "dispatch", expect=403, team_ids=[team_of(api)])
    act(api, "dispatcher", iid, "dispatch", team_ids=[team_of(api)])
    act(api, "dispatcher", iid, "claim", expect=403)  # only the team claims its work


def test_return_reassign_and_merge(api, city):
    first = report(api, city)["issue"]["id"]
    second = report(api, city)["issue"]["id"]
    act(api, "dispatcher", first, "accept")
    merged = act(api, "dispatcher", second, "merge", duplicate_of=first)
    assert merged["state"] == "merged" and merged["duplicate_of"] == first
    act(api, "dispatcher", first, "merge", expect=422, duplicate_of=first)  # into itself
    team = team_of(api)
    act(api, "dispatcher", first, "dispatch", team_ids=[team])
    back = act(api, "team", first, "return", reason="this is a school matter, not ours")
    assert back["state"] == "accepted" and back["teams"] == []
    act(api, "team", first, "claim", expect=404)  # no longer assigned: no longer visible
    with api.client("dispatcher") as c:
        others = [t["team_id"] for t in c.get(f"/api/v1/issues/{first}/candidates").json()
                  ["candidates"] if t["team_id"] != team]
    act(api, "dispatcher", first, "dispatch", team_ids=[team])
    moved = act(api, "dispatcher", first, "reassign", team_ids=[others[0]], reason="closer team")
    assert [t["team_id"] for t in moved["teams"]] == [others[0]]


def test_dispatch_checks_every_team(api, city):
    iid = report(api, city)["issue"]["id"]
    act(api, "dispatcher", iid, "accept")
    r = act(api, "dispatcher", iid, "dispatch", expect=422, team_ids=["T-NOPE"])
    assert r["code"] == "unknown_team" and r["detail"] == "没有编号为 T-NOPE 的队伍"
    far = city.teams[(city.teams.kind == "enforcement")
                     & city.teams.jurisdiction.map(lambda j: "220204001" not in j)].id.iloc[0]
    r = act(api, "dispatcher", iid, "dispatch", expect=422, lang="en", team_ids=[far])
    assert r["code"] == "team_unsuitable" and "no jurisdiction over street" in r["detail"]
    grid_team = city.teams[(city.teams.kind == "party_volunteer")].id.iloc[0]
    r = act(api, "dispatcher", iid, "dispatch", expect=422, lang="en", team_ids=[grid_team])
    assert r["code"] == "team_unsuitable" and "does not handle category L01" in r["detail"]
    with api.client("dispatcher") as c:
        assert c.get(f"/api/v1/issues/{iid}").json()["state"] == "accepted"  # nothing half done


def test_lights_and_the_overdue_list_follow_the_clock(api, city):
    start = REFERENCE_TIME  # the demo city's "now": the overdue list holds its open issues too
    api.now = start
    iid = report(api, city)["issue"]["id"]  # 30 minutes to accept
    with api.client("supervisor") as c:
        def light():
            return c.get(f"/api/v1/issues/{iid}").json()["light"]

        def overdue_ids():
            return {i["id"] for i in c.get("/api/v1/issues/overdue").json()["items"]}

        assert light() == "green" and iid not in overdue_ids()
        api.now = start + timedelta(minutes=25)
        assert light() == "yellow" and iid not in overdue_ids()
        api.now = start + timedelta(minutes=31)
        assert light() == "red" and iid in overdue_ids()
        accepted = act(api, "supervisor", iid, "accept")
        assert accepted["overdue_steps"] == 1 and accepted["light"] == "green"
        assert iid not in overdue_ids()
    with api.client("dispatcher") as c:
        r = c.get("/api/v1/issues/overdue")
    assert r.status_code == 403  # the overdue list is for supervisors


def test_summary_counts_per_street(api, city):
    iid = report(api, city)["issue"]["id"]
    with api.client("supervisor") as c:
        before = {s["code"]: s for s in c.get("/api/v1/stats", params={"level": "street"}).json()}
    street = "220204001"
    assert before[street]["open"] >= 1
    act(api, "supervisor", iid, "reject", reason="duplicate phone call")
    with api.client("supervisor") as c:
        after = {s["code"]: s for s in c.get("/api/v1/stats", params={"level": "street"}).json()}
        districts = c.get("/api/v1/stats", params={"level": "district"}).json()
    assert after[street]["open"] == before[street]["open"] - 1
    assert {d["code"] for d in districts} == {"220204"}  # the supervisor's district only
    closed = after[street]["closed"]
    assert closed > 0 and 0 <= after[street]["rework_rate"] <= 1
    assert 1 <= after[street]["average_rating"] <= 5


def test_emergency_mode_brings_in_the_b_roster(api, city):
    iid = report(api, city)["issue"]["id"]
    act(api, "dispatcher", iid, "accept")
    reserve = city.teams[(city.teams.kind == "enforcement") & (city.teams.status == "available")
                         & city.teams.jurisdiction.map(lambda j: "220204001" in j)].id.iloc[-1]
    with api.store.tx() as tx:  # one of the street's teams serves on the emergency roster
        tx.run("UPDATE team SET roster = 'B' WHERE id = :t", {"t": reserve})
    with api.client("dispatcher") as c:
        normal = c.get(f"/api/v1/issues/{iid}/candidates", params={"k": 50}).json()
    assert "A岗" in normal["filter"]
    with api.client("supervisor") as c:
        r = c.put("/api/v1/mode", json={"mode": "emergency", "reason": "flood warning"})
        assert r.status_code == 200 and r.json()["changed_by"] == "supervisor"
    with api.client("dispatcher") as c:
        urgent = c.get(f"/api/v1/issues/{iid}/candidates", params={"k": 50}).json()
        assert c.put("/api/v1/mode", json={"mode": "normal"}).status_code == 403
    assert urgent["mode"] == "emergency" and "A/B岗" in urgent["filter"]
    normal_ids = {t["team_id"] for t in normal["candidates"]}
    urgent_ids = {t["team_id"] for t in urgent["candidates"]}
    assert reserve not in normal_ids and urgent_ids == normal_ids | {reserve}


def test_no_candidate_says_why(api, city):
    iid = report(api, city)["issue"]["id"]
    act(api, "dispatcher", iid, "accept")
    enforcement = city.teams[(city.teams.kind == "enforcement")
                             & city.teams.jurisdiction.map(lambda j: "220204001" in j)]
    with api.store.tx() as tx:
        for tid in enforcement.id:
            tx.run("UPDATE team SET status = 'busy' WHERE id = :t", {"t": tid})
    with api.client("dispatcher") as c:
        got = c.get(f"/api/v1/issues/{iid}/candidates").json()
    assert got["candidates"] == []
    assert "均为处置中或不在岗" in got["none_reason"]


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_reports_in_chinese_map_coordinates_land_in_the_same_grid(api, city, crs):
    from geo.chinacoords import wgs84_to_bd09, wgs84_to_gcj02

    lon, lat = city.landmarks[SCHOOL]
    shifted = (wgs84_to_gcj02 if crs == "gcj02" else wgs84_to_bd09)(lon, lat)
    plain = report(api, city)["location"]["grid_code"]
    with api.client("dispatcher") as c:
        r = c.post("/api/v1/issues", json={"category_code": "L01", "lon": float(shifted[0]),
                                           "lat": float(shifted[1]), "crs": crs})
    assert r.status_code == 201 and r.json()["location"]["grid_code"] == plain
    assert abs(r.json()["issue"]["lon"] - lon) < 1e-6
