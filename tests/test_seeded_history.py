"""The demo city's issues carry the audit trail of their path through the loop: it replays
through the state machine to the issue's state, its times increase, its late steps are the
issue's overdue_steps and its failed checks its rework_count; assignments follow the
dispatches. Issues loaded without a trail get a single import entry."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from geo.store.sql import as_dt, as_json
from geo.workflow import TERMINAL, step_limit, target_state

FINISHED_WORK = ("dispatched", "claimed", "resolved", "checked", "closed")


def stored(store):
    """Issues by id, their audit entries oldest first, and their assignments."""
    with store.snapshot() as tx:
        issues = {r["id"]: r for r in tx.rows(
            "SELECT id, category_code, street_code, state, reported_at, reported_by, state_since, "
            "due_at, closed_at, rating, rework_count, overdue_steps, duplicate_of FROM issue")}
        trails: dict[int, list[dict]] = {}
        for r in tx.rows("SELECT issue_id, at, actor, action, from_state, to_state, reason, "
                         "details FROM issue_event ORDER BY issue_id, id"):
            trails.setdefault(r["issue_id"], []).append(
                {**r, "at": as_dt(r["at"]), "details": as_json(r["details"])})
        teams: dict[int, list[dict]] = {}
        for r in tx.rows("SELECT issue_id, team_id, lead, assigned_at, active FROM assignment "
                         "ORDER BY issue_id, id"):
            teams.setdefault(r["issue_id"], []).append(
                {**r, "assigned_at": as_dt(r["assigned_at"]), "lead": bool(r["lead"]),
                 "active": bool(r["active"])})
    return issues, trails, teams


STATELESS = ("escalate", "whistle")


def state_at(trail: list[dict], moment: datetime) -> str:
    return [e for e in trail if e["at"] <= moment][-1]["to_state"]


def test_every_trail_replays_to_the_issue_as_stored(store):
    issues, trails, _ = stored(store)
    assert len(issues) == 4000 + 1 and set(trails) == set(issues)  # and 舒兰's story
    for iid, issue in issues.items():
        # Escalations (geo.escalation) move the owning level and whistles (geo.whistle) call
        # departments, not a change of state: each keeps the state of the step it falls in,
        # and the replay passes over them.
        trail = [e for e in trails[iid] if e["action"] not in STATELESS]
        for e in trails[iid]:
            if e["action"] in STATELESS:
                assert e["from_state"] == e["to_state"] == state_at(trail, e["at"]), (iid, e)
        first = trail[0]
        assert (first["action"], first["from_state"], first["to_state"]) == (
            "report", None, "reported"), iid
        assert first["at"] == as_dt(issue["reported_at"]) and first["actor"] == issue["reported_by"]
        state, late, failed = "reported", 0, 0
        for before, e in zip(trail, trail[1:], strict=False):
            assert e["from_state"] == state, (iid, e)
            passed = e["details"].get("passed")
            assert e["to_state"] == target_state(e["action"], state, passed), (iid, e)
            assert e["at"] > before["at"], (iid, e)
            late += e["at"] > before["at"] + step_limit(issue["category_code"], state)
            failed += e["action"] == "check" and passed is False
            state = e["to_state"]
        last = trail[-1]
        assert state == issue["state"] and last["at"] == as_dt(issue["state_since"]), iid
        assert late == issue["overdue_steps"] and failed == issue["rework_count"], iid
        finished = state in TERMINAL
        assert as_dt(issue["closed_at"]) == (last["at"] if finished else None), iid
        assert as_dt(issue["due_at"]) == (None if finished else last["at"] + step_limit(
            issue["category_code"], state)), iid
        assert issue["rating"] == (last["details"]["rating"] if last["action"] == "rate"
                                   else None), iid
        if state == "merged":  # into an open report of the same category
            target = last["details"]["duplicate_of"]
            assert issue["duplicate_of"] == target and target < iid
            assert issues[target]["category_code"] == issue["category_code"]
            assert state_at(trails[target], last["at"]) not in TERMINAL
        else:
            assert issue["duplicate_of"] is None


def test_the_loop_has_its_detours_and_realistic_late_steps(store):
    issues, trails, _ = stored(store)
    actions = Counter(e["action"] for trail in trails.values() for e in trail)
    for detour in ("reject", "merge", "return", "close"):
        assert actions[detour] > 0, detour
    assert any(e["details"].get("joint") for t in trails.values() for e in t)
    assert any(i["rework_count"] == 2 for i in issues.values())
    closed = [i for i in issues.values() if i["state"] == "closed"]
    on_time = sum(i["overdue_steps"] == 0 for i in closed) / len(closed)
    assert 0.6 < on_time < 0.95
    steps = sum(actions.values()) - len(issues)
    assert 0.01 < sum(i["overdue_steps"] for i in issues.values()) / steps < 0.1

    def on_time_rate(category):
        mine = [i for i in closed if i["category_code"] == category]
        return sum(i["overdue_steps"] == 0 for i in mine) / len(mine)

    # Parking-space planning is slow, many-party work; rubbish dumping is quick.
    assert on_time_rate("L06") < on_time_rate("L08")
    # Open issues stand wherever their path had got to "now".
    assert {"claimed", "resolved", "checked"} <= {i["state"] for i in issues.values()}


def test_assignments_follow_the_dispatches(store, city):
    issues, trails, teams = stored(store)
    handles = dict(zip(city.teams.id, city.teams.categories, strict=True))
    serves = dict(zip(city.teams.id, city.teams.jurisdiction, strict=True))
    for iid, issue in issues.items():
        trail, rows = trails[iid], teams.get(iid, [])
        dispatches = [e for e in trail if e["action"] == "dispatch"]
        # Every assignment is a team of a dispatch, made at its time, lead first.
        assert len(rows) == sum(len(e["details"]["team_ids"]) for e in dispatches), iid
        for e in dispatches:
            made = [r for r in rows if r["assigned_at"] == e["at"]]
            assert [r["team_id"] for r in made] == e["details"]["team_ids"], iid
            assert [r["lead"] for r in made] == [True] + [False] * (len(made) - 1)
            for tid in e["details"]["team_ids"]:
                assert issue["category_code"] in handles[tid], (iid, tid)
                assert issue["street_code"] in serves[tid], (iid, tid)
        active = [r["team_id"] for r in rows if r["active"]]
        if issue["state"] in FINISHED_WORK and trail[-1]["action"] != "return":
            assert active == dispatches[-1]["details"]["team_ids"], iid
            lead = active[0]
            assert all(e["actor"] == lead and e["details"] == {"team_id": lead}
                       for e in trail if e["action"] in ("claim", "resolve")), iid
        else:
            assert active == [], iid
        for e in trail:
            if e["action"] == "return":
                assert e["details"]["team_id"] == e["actor"] and e["reason"]


def test_seeded_trails_and_rates_over_http(api):
    with api.client("supervisor") as c:
        stats = c.get("/api/v1/stats", params={"level": "district"}).json()
        closed = c.get("/api/v1/issues", params={"state": "closed", "limit": 1}).json()["items"]
        trail = c.get(f"/api/v1/issues/{closed[0]['id']}/events").json()
    (district,) = stats
    assert 0 < district["on_time_rate"] < 1 and 0 < district["rework_rate"] < 1
    assert district["closed_on_time"] < district["closed"]
    assert trail[0]["action"] == "report" and trail[-1]["to_state"] == "closed"
    assert [e["at"] for e in trail] == sorted(e["at"] for e in trail)


def _imports(n, state=None):
    frame = gpd.GeoDataFrame(
        {"category_code": ["L02"] * n, "description": ["下水道堵塞"] * n,
         "source_crs": ["wgs84"] * n,
         "reported_at": [datetime(2026, 3, 1 + k, tzinfo=UTC) for k in reversed(range(n))]},
        geometry=[shapely.Point(126.55, 43.84)] * n, crs=4326)
    if state:
        frame["state"] = state
    return frame


def test_imports_get_one_import_entry_and_ids_in_time_order(store):
    with store.snapshot() as tx:
        before = tx.one("SELECT max(id) AS n FROM issue")["n"]
    store.add_issues(_imports(3))
    store.add_issues(_imports(1, state="accepted"))
    issues, trails, teams = stored(store)
    new = sorted(i for i in issues if i > before)
    assert len(new) == 4 and not any(i in teams for i in new)
    # Ids follow the time of report, though the frame listed the newest first.
    assert [as_dt(issues[i]["reported_at"]).day for i in new[:3]] == [1, 2, 3]
    for iid in new:
        (entry,) = trails[iid]
        issue = issues[iid]
        assert (entry["action"], entry["actor"], entry["from_state"], entry["to_state"]) == (
            "import", "import", None, issue["state"])
        assert entry["at"] == as_dt(issue["state_since"]) == as_dt(issue["reported_at"])
    assert [issues[i]["state"] for i in new] == ["closed"] * 3 + ["accepted"]


def test_a_trail_that_does_not_reach_the_state_writes_nothing(store):
    frame = _imports(2, state="accepted")
    events = pd.DataFrame({"issue": [0, 1], "at": frame.reported_at, "actor": "operator",
                           "action": "report", "from_state": None, "to_state": "reported",
                           "reason": "", "details": "{}"})
    with store.snapshot() as tx:
        count = tx.one("SELECT count(*) AS n FROM issue")["n"]
    with pytest.raises(ValueError, match="issue row 0 is accepted but its audit trail ends in "
                                         "reported"):
        store.add_issues(frame, events=events)
    with store.snapshot() as tx:
        assert tx.one("SELECT count(*) AS n FROM issue")["n"] == count


def test_a_city_served_the_day_it_is_built_looks_like_a_working_day(tmp_path):
    """Built now and served now: mostly green lights, fresh positions, today's reports, and the
    river story's report waiting for a team whose position is not stale."""
    from fixtures import accounts
    from fixtures.jilin import generate
    from fixtures.landmarks import RIVER_STORY
    from geo.store import open_store
    from tests.http import Server

    with open_store(f"sqlite:///{tmp_path / 'now.sqlite'}") as store:
        store.migrate()
        city = generate(400, 4000, seed=7)
        store.load_city(city)
        accounts.install(store, city.landmarks)
        server = Server(store)
        try:
            with server.client("admin") as c:
                issues = c.get("/api/v1/issues", params={"open_only": True, "limit": 500}
                               ).json()["items"]
                teams = c.get("/api/v1/teams").json()
                since = (datetime.now(UTC) - timedelta(hours=12)).isoformat()
                recent = c.get("/api/v1/issues", params={"since": since, "limit": 1}).json()
                (story,) = [i for i in issues if i["description"] == RIVER_STORY["description"]]
                offer = c.get(f"/api/v1/issues/{story['id']}/candidates").json()["candidates"]
        finally:
            server.stop()
    lights = Counter(i["light"] for i in issues)
    assert lights["green"] > 0.7 * len(issues) and 0 < lights["red"] < lights["green"], lights
    live = [t for t in teams if t["status"] != "off_duty" and t["position_at"]]
    ages = [datetime.now(UTC) - datetime.fromisoformat(t["position_at"]) for t in live]
    assert len(live) > 0.6 * len(teams) and max(ages) < timedelta(minutes=15)
    assert recent["total"] > 0
    assert story["state"] == "accepted" and story["light"] == "green"
    first = offer[0]
    assert first["team_id"] == city.river_story.same_bank_team and not first["stale"]
