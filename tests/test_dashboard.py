"""The big screen's figures (GET /api/v1/dashboard) on both backends: each equal to what the
API's lists and /stats give the same user, or to a count made here from the raw tables;
jurisdiction; the overdue list's order; the national indicators on planted outcomes."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from geo.casework.scope import Actor
from geo.casework.users import add_user
from geo.i18n import using
from geo.indicators.days import day_bounds, day_start, window_start
from geo.store.sql import as_dt
from geo.taxonomy import CATEGORY_BY_CODE, NETWORKS
from geo.workflow import TERMINAL, light, role_label

SCHOOL = "电东胡同小学门口"  # 长春路街道, in the demo staff's streets
FOREIGN = "劳动路"  # 山前街道, 龙潭区: nobody's but the admin's
CLOSED_OR_FILED = ("accepted", "dispatched", "claimed", "resolved", "checked", "closed")


def city_now(store) -> datetime:
    """A moment just after the test city's history, so that its windows hold figures."""
    with store.snapshot() as tx:
        last = as_dt(tx.one("SELECT max(at) AS t FROM issue_event")["t"])
    return last + timedelta(hours=1)


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat()


def report(api, city, user="citizen", category="L01", place=SCHOOL) -> int:
    lon, lat = city.landmarks[place]
    with api.client(user) as c:
        r = c.post("/api/v1/issues", json={"category_code": category, "lon": lon, "lat": lat,
                                           "description": "大屏测试"})
    assert r.status_code == 201, r.text
    return r.json()["issue"]["id"]


def act(api, user, issue_id, action, **body) -> dict:
    with api.client(user) as c:
        r = c.post(f"/api/v1/issues/{issue_id}/{action}", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def own_team(api) -> str:
    with api.client("team") as c:
        return c.get("/api/v1/users/me").json()["team_id"]


def dashboard(api, user) -> dict:
    with api.client(user) as c:
        r = c.get("/api/v1/dashboard")
    assert r.status_code == 200, r.text
    return r.json()


def total(c, **params) -> int:
    r = c.get("/api/v1/issues", params={"limit": 1, **params})
    assert r.status_code == 200, r.text
    return r.json()["total"]


def every(c, path="/api/v1/issues", **params) -> list[dict]:
    out, offset = [], 0
    while True:
        page = c.get(path, params={"limit": 5000, "offset": offset, **params}).json()
        out += page["items"]
        offset += len(page["items"])
        if offset >= page["total"] or not page["items"]:
            return out


def loop(api, issue_id, team, rating=None, rework=False):
    """Take an issue from report to closed (or to resolved when rating is None)."""
    act(api, "operator", issue_id, "accept")
    act(api, "dispatcher", issue_id, "dispatch", team_ids=[team])
    act(api, "team", issue_id, "claim")
    act(api, "team", issue_id, "resolve", reason="done")
    if rework:
        act(api, "supervisor", issue_id, "check", passed=False, reason="not done")
        act(api, "team", issue_id, "resolve", reason="done again")
    act(api, "supervisor", issue_id, "check", passed=True)
    if rating is not None:
        act(api, "citizen", issue_id, "rate", rating=rating)


def raw_counts(store, actor: Actor, now: datetime) -> dict:
    """Today's flow counted here: every row read, the jurisdiction applied in Python."""
    start = day_start(now)
    with store.snapshot() as tx:
        issues = {r["id"]: r for r in tx.rows(
            "SELECT id, street_code, state, reported_at, closed_at FROM issue")}
        events = tx.rows("SELECT issue_id, action, at FROM issue_event")
    mine = {i for i, r in issues.items() if actor.covers(r["street_code"])}
    # An issue counts on the day of its first acceptance and of its first dispatch.
    first: dict[tuple[str, int], datetime] = {}
    for e in events:
        key = (e["action"], e["issue_id"])
        first[key] = min(first.get(key, as_dt(e["at"])), as_dt(e["at"]))
    steps = {a: {i for (action, i), at in first.items() if action == a and i in mine
                 and at >= start} for a in ("accept", "dispatch")}
    return {"reported": sum(as_dt(issues[i]["reported_at"]) >= start for i in mine),
            "accepted": len(steps["accept"]), "dispatched": len(steps["dispatch"]),
            "closed": sum(issues[i]["state"] == "closed" and as_dt(issues[i]["closed_at"]) >= start
                          for i in mine)}


@pytest.mark.parametrize("user", ["operator", "supervisor"])
def test_every_figure_equals_the_api_lists_and_stats(api, city, store, user):
    now = city_now(store)
    api.now = now
    team = own_team(api)
    planted = [report(api, city) for _ in range(3)]
    loop(api, planted[0], team, rating=5)
    act(api, "operator", planted[1], "accept")
    api.now = now = now + timedelta(minutes=5)
    got = dashboard(api, user)
    me = Actor(user, user, tuple(got["viewer"]["jurisdiction"]))
    assert datetime.fromisoformat(got["now"]).utcoffset() == timedelta(hours=8)

    # Today's flow, against the raw tables; today's reports also against the list.
    today = got["today"]
    assert {k: today[k] for k in ("reported", "accepted", "dispatched", "closed")} == \
        raw_counts(store, me, now)
    assert today["reported"] >= 3 and today["accepted"] >= 2 and today["closed"] >= 1
    with api.client(user) as c:
        assert today["reported"] == total(c, since=iso(day_start(now)))

        # Lights as the issue list shows them.
        open_ = every(c, open_only="true")
        lights = Counter(i["light"] for i in open_)
        assert got["lights"] == {"open": len(open_), "green": lights["green"],
                                 "yellow": lights["yellow"], "red": lights["red"]}
        assert got["lights"]["red"] == got["overdue"]["total"] == sum(i["overdue"] for i in open_)

        # The national indicators, window by window.
        for name, days in (("today", 1), ("d7", 7), ("d30", 30)):
            since = window_start(now, days)
            ind = got["indicators"][name]
            assert datetime.fromisoformat(ind["since"]) == since
            stats = c.get("/api/v1/stats", params={"level": "street", "since": iso(since)}).json()
            closed = sum(s["closed"] for s in stats)
            on_time = sum(s["closed_on_time"] for s in stats)
            reworked = sum(round((s["rework_rate"] or 0) * s["closed"]) for s in stats)
            assert ind["reported"] == total(c, since=iso(since))
            assert ind["filed"] == total(c, since=iso(since), state=list(CLOSED_OR_FILED))
            assert (ind["closed"], ind["closed_on_time"], ind["reworked"]) == \
                (closed, on_time, reworked)
            ratings = [i["rating"] for i in every(c, since=iso(since), state="closed")
                       if i["rating"] is not None]
            assert ind["rated"] == len(ratings)
            assert ind["satisfied"] == sum(r >= 4 for r in ratings)
            assert ind["on_time_rate"] == (round(on_time / closed, 4) if closed else None)
            assert ind["closure_rate"] == (round(closed / ind["filed"], 4) if ind["filed"]
                                           else None)
        assert got["indicators"]["d30"]["reported"] > got["indicators"]["today"]["reported"] > 0

        # The four networks and the categories over the last 30 days, and open now.
        since = iso(window_start(now, 30))
        assert [n["network"] for n in got["networks"]] == list(NETWORKS)
        for n in got["networks"]:
            assert n["reported"] == total(c, since=since, network=n["network"])
            assert n["open"] == total(c, open_only="true", network=n["network"])
        tops = got["top_categories"]
        assert tops and [t["reported"] for t in tops] == sorted((t["reported"] for t in tops),
                                                                reverse=True)
        for t in tops:
            assert t["reported"] == total(c, since=since, category=t["category_code"])
            assert t["network"] == CATEGORY_BY_CODE[t["category_code"]].network

        # The ranking of areas is /stats of the same window.
        ranking = got["ranking"]
        assert ranking["level"] == "street"
        stats = {s["code"]: s for s in c.get("/api/v1/stats", params={
            "level": "street", "since": since}).json()}
        assert ranking["areas"]
        for a in ranking["areas"]:
            s = stats[a["code"]]
            assert (a["open"], a["overdue"], a["closed"], a["closed_on_time"]) == \
                (s["open"], s["overdue"], s["closed"], s["closed_on_time"])
            assert a["name"]
        keys = [(-a["overdue"], -a["open"]) for a in ranking["areas"]]
        assert keys == sorted(keys)

        # Thirty Shanghai days of reports (against the list) and closures (the raw table).
        trend = got["trend"]
        bounds = day_bounds(now, 30)
        assert len(trend) == 30 and trend[-1]["day"] == (now + timedelta(hours=8)).date().isoformat()
        for day, (start, end) in list(zip(trend, bounds, strict=True))[-8:]:
            assert day["reported"] == total(c, since=iso(start), until=iso(end))
        with store.snapshot() as tx:
            closed_at = [as_dt(r["closed_at"]) for r in tx.rows(
                "SELECT street_code, closed_at FROM issue WHERE state = 'closed'")
                if me.covers(r["street_code"])]
        assert [d["closed"] for d in trend] == [
            sum(start <= t < end for t in closed_at) for start, end in bounds]

        # Teams by status as /teams lists them, and the mode as /mode says.
        teams = c.get("/api/v1/teams").json()
        assert got["teams"]["total"] == len(teams)
        assert got["teams"]["by_status"] == {s: sum(t["status"] == s for t in teams)
                                             for s in ("available", "busy", "off_duty")}
        assert got["mode"]["mode"] == c.get("/api/v1/mode").json()["mode"] == "normal"

        # Where the last 30 days' cases were solved, as /escalation/levels counts them.
        levels = c.get("/api/v1/escalation/levels", params={
            "since": got["breakdown_since"], "until": got["now"]}).json()
        assert got["solved_by_level"]["levels"] == levels["levels"]
        assert got["solved_by_level"]["total"] == levels["total"] >= 1  # the planted loop


def test_the_overdue_list_is_the_supervisors_list_most_overdue_first(api, city, store):
    start = city_now(store)
    for k in range(12):  # reports a minute apart: their acceptance falls due a minute apart
        api.now = start + timedelta(minutes=k)
        report(api, city, category=("L01", "S03", "L04")[k % 3])
    api.now = now = start + timedelta(days=2)
    got = dashboard(api, "supervisor")["overdue"]
    with api.client("supervisor") as c:
        listed = c.get("/api/v1/issues/overdue", params={"limit": 10}).json()
    assert got["total"] == listed["total"] > 10
    assert [i["id"] for i in got["items"]] == [i["id"] for i in listed["items"]]
    waits = [i["overdue_seconds"] for i in got["items"]]
    assert waits == sorted(waits, reverse=True) and waits[-1] > 0
    for item, issue in zip(got["items"], listed["items"], strict=True):
        due = datetime.fromisoformat(item["due_at"])
        assert due == datetime.fromisoformat(issue["due_at"])
        assert item["overdue_seconds"] == int((now - due).total_seconds())
        assert item["street_name"] and item["grid_name"] and item["step"]
        assert item["category_code"] == issue["category_code"]


def test_a_street_operator_sees_only_their_street(api, city, store):
    api.now = city_now(store)
    here = store.locate(*city.landmarks[SCHOOL]).street_code
    add_user(store, "street_op", "demo", "operator", [here])
    mine, foreign = report(api, city), report(api, city, user="admin", place=FOREIGN)
    got = dashboard(api, "street_op")
    everything = dashboard(api, "admin")
    assert got["viewer"]["jurisdiction"] == [here]
    assert got["ranking"]["level"] == "street"
    assert [a["code"] for a in got["ranking"]["areas"]] == [here]
    assert all(i["street_code"] == here for i in got["overdue"]["items"])
    assert everything["ranking"]["level"] == "district"
    assert everything["today"]["reported"] >= got["today"]["reported"] + 1
    with api.client("street_op") as c:
        assert got["today"]["reported"] == total(c, since=iso(day_start(api.now)))
        ids = {i["id"] for i in every(c, since=iso(day_start(api.now)))}
        assert got["lights"]["open"] == total(c, open_only="true")
        teams = c.get("/api/v1/teams").json()
    assert mine in ids and foreign not in ids
    assert got["teams"]["total"] == len(teams) < everything["teams"]["total"]
    assert got["lights"]["open"] < everything["lights"]["open"]


def test_indicators_on_planted_issues_with_known_outcomes(api, city, store):
    # A month after the city's history: the 30-day window holds only what is planted here.
    api.now = t0 = city_now(store) + timedelta(days=40)
    team = own_team(api)
    on_time, reworked, late, rejected, waiting = (report(api, city) for _ in range(5))
    loop(api, on_time, team, rating=5)
    loop(api, reworked, team, rating=2, rework=True)
    act(api, "operator", late, "accept")
    api.now = t0 + timedelta(hours=2)  # acceptance allows 30 minutes to dispatch
    loop_rest = [("dispatcher", "dispatch", {"team_ids": [team]}), ("team", "claim", {}),
                 ("team", "resolve", {"reason": "done"}),
                 ("supervisor", "check", {"passed": True}), ("citizen", "rate", {"rating": 4})]
    for user, action, body in loop_rest:
        act(api, user, late, action, **body)
    act(api, "operator", rejected, "reject", reason="not a case")
    ind = dashboard(api, "operator")["indicators"]
    expected = {"reported": 5, "filed": 3, "closed": 3, "closed_on_time": 2, "reworked": 1,
                "rated": 3, "satisfied": 2, "closure_rate": 1.0, "on_time_rate": 0.6667,
                "rework_rate": 0.3333, "satisfaction": 0.6667}
    for window in ("d7", "d30"):
        assert {k: ind[window][k] for k in expected} == expected
    assert waiting  # still waiting for acceptance: reported, not filed
    with api.client("operator") as c:
        assert c.get(f"/api/v1/issues/{waiting}").json()["state"] == "reported"


def test_lights_follow_the_workflow_rule(api, city, store):
    api.now = now = city_now(store)
    iid = report(api, city)
    fresh = dashboard(api, "operator")["lights"]
    api.now = now + timedelta(minutes=25)  # 25 of the 30 minutes to accept: yellow
    later = dashboard(api, "operator")["lights"]
    with store.snapshot() as tx:
        row = tx.one("SELECT state, state_since, due_at FROM issue WHERE id = :id", {"id": iid})
    assert row["state"] not in TERMINAL
    assert light(row["state"], as_dt(row["state_since"]), as_dt(row["due_at"]), api.now) == "yellow"
    assert later["open"] == fresh["open"]
    assert later["yellow"] >= 1 and later["green"] <= fresh["green"] - 1


@pytest.mark.parametrize("user", ["grid_worker", "citizen", "team", "planner"])
def test_only_the_command_centre_sees_the_big_screen(api, user):
    with api.client(user) as c:
        r = c.get("/api/v1/dashboard")
    assert r.status_code == 403
    assert r.json()["code"] == "role_not_allowed"
    with using("zh_CN"):
        assert role_label(user) in r.json()["detail"]  # the role in words, as the page says it


def test_the_big_screen_needs_a_login(api):
    with api.client() as c:
        assert c.get("/api/v1/dashboard").status_code == 401


def test_a_dispatch_again_is_not_dispatched_today(api, city, store):
    """Sent to a team yesterday, returned and sent again today: not one of today's dispatches;
    an issue first sent today is."""
    today = day_start(city_now(store) + timedelta(days=2))
    team = own_team(api)
    api.now = today - timedelta(hours=1)  # yesterday, Shanghai time
    again, fresh = report(api, city), report(api, city)
    act(api, "operator", again, "accept")
    act(api, "dispatcher", again, "dispatch", team_ids=[team])
    act(api, "operator", fresh, "accept")
    api.now = today + timedelta(hours=1)
    before = dashboard(api, "operator")["today"]
    act(api, "team", again, "return", reason="not ours")
    act(api, "dispatcher", again, "dispatch", team_ids=[team])
    after = dashboard(api, "operator")["today"]
    assert after["dispatched"] == before["dispatched"]
    act(api, "dispatcher", fresh, "dispatch", team_ids=[team])
    assert dashboard(api, "operator")["today"]["dispatched"] == before["dispatched"] + 1


def live_lights(c) -> Counter:
    """The lights of the open issues on the live map's layer (every page of it)."""
    out, offset = Counter(), 0
    while True:
        fc = c.get("/api/v1/layers/live/issues", params={"limit": 5000, "offset": offset}).json()
        out.update(f["properties"]["light"] for f in fc["features"])
        offset += len(fc["features"])
        if offset >= fc["numberMatched"] or not fc["features"]:
            return out


def test_the_deadline_is_one_rule_everywhere(api, city, store):
    """An issue exactly at its step's deadline is overdue on the screen, in the overdue list,
    in /stats, on the issue and on the live map; a second before, it is yellow and not overdue.
    At its warning point (80% of the step's time) it turns yellow. The screen's light counts
    equal the live layer's at each of these moments."""
    api.now = t0 = city_now(store) + timedelta(days=3)
    iid = report(api, city)
    with store.snapshot() as tx:
        due = as_dt(tx.one("SELECT due_at FROM issue WHERE id = :id", {"id": iid})["due_at"])
    warning = t0 + (due - t0) * 0.8
    seen = {}
    for name, at in (("fresh", t0), ("before warning", warning - timedelta(seconds=1)),
                     ("warning", warning), ("before due", due - timedelta(seconds=1)),
                     ("due", due)):
        api.now = at
        got = dashboard(api, "supervisor")
        with api.client("supervisor") as c:
            issue = c.get(f"/api/v1/issues/{iid}").json()
            listed = {i["id"] for i in every(c, "/api/v1/issues/overdue")}
            ranking = got["ranking"]
            stats = {s["code"]: s for s in c.get("/api/v1/stats", params={
                "level": ranking["level"], "since": got["breakdown_since"]}).json()}
            live = live_lights(c)
        assert {k: got["lights"][k] for k in ("green", "yellow", "red")} == \
            {k: live[k] for k in ("green", "yellow", "red")}, name
        assert got["lights"]["open"] == sum(live.values())
        late = iid in {i["id"] for i in got["overdue"]["items"]} or iid in listed
        assert ranking["areas"]
        assert all(a["overdue"] == stats[a["code"]]["overdue"] for a in ranking["areas"])
        assert got["lights"]["red"] == got["overdue"]["total"] == len(listed)
        seen[name] = (issue["light"], issue["overdue"], iid in listed, late)
    assert seen == {"fresh": ("green", False, False, False),
                    "before warning": ("green", False, False, False),
                    "warning": ("yellow", False, False, False),
                    "before due": ("yellow", False, False, False),
                    "due": ("red", True, True, True)}
