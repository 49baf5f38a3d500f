"""Races between two server processes on one database (PostGIS and SQLite): two requests
released together, one to each process, for a bounded number of rounds. Each race decides on
a row other than the one it writes (the merge target, the draft being published, the mode);
the outcome must be one that some serial order of the two requests gives, and the data must
stay consistent: no merge cycle, one audit event per successful transition."""

from __future__ import annotations

import random
import time
from functools import partial

import pytest
from shapely.geometry import shape

from geo.model import TeamFilter
from geo.store import open_store
from tests.processes import together

SCHOOL = "电东胡同小学门口"  # 长春路街道: the demo dispatcher's jurisdiction
COMMUNITY = "220204002001"  # 向阳街道, 船营区: the demo planner's district
ROUNDS = 12


@pytest.fixture(scope="module")
def clients(two_servers):
    """Keep-alive clients per (process, user), opened once: a round then costs no handshakes."""
    opened: dict[tuple[int, str], object] = {}

    def get(i: int, user: str):
        if (i, user) not in opened:
            opened[(i, user)] = two_servers.client(i, user)
        return opened[(i, user)]

    yield get
    for c in opened.values():
        c.close()


def ok(r, status=200) -> dict:
    assert r.status_code == status, r.text
    return r.json()


def report(c, city) -> int:
    lon, lat = city.landmarks[SCHOOL]
    return ok(c.post("/api/v1/issues", json={"category_code": "L01", "description": "race",
                                             "lon": lon, "lat": lat}), 201)["issue"]["id"]


def trail(c, issue_id: int) -> list[str]:
    return [e["action"] for e in ok(c.get(f"/api/v1/issues/{issue_id}/events"))]


def timed(call, *args, **kwargs):
    """The call's result and how long it took (to spread a rival request over its span)."""
    started = time.perf_counter()
    return call(*args, **kwargs), time.perf_counter() - started


def later(pause: float, call, *args, **kwargs):
    time.sleep(pause)
    return call(*args, **kwargs)


def ok_call(call, *args, **kwargs) -> dict:
    return ok(call(*args, **kwargs))


def switch_then_look(switch, look, issue_id: int, pause: float) -> str:
    """`switch()`, then the issue's state read as soon as the switch is answered."""
    time.sleep(pause)
    switch()
    return ok(look.get(f"/api/v1/issues/{issue_id}"))["state"]


def merge_roots(db_url: str) -> dict[int, int | None]:
    """For every merged issue, the issue its duplicate_of chain ends at (None: a cycle)."""
    with open_store(db_url) as store, store.snapshot() as tx:
        rows = {r["id"]: r for r in tx.rows("SELECT id, state, duplicate_of FROM issue "
                                            "WHERE duplicate_of IS NOT NULL OR state = 'merged'")}
        states = {r["id"]: r["state"] for r in tx.rows("SELECT id, state FROM issue")}
    out = {}
    for start in rows:
        seen, at = {start}, start
        while states[at] == "merged":
            at = rows[at]["duplicate_of"]
            if at is None or at in seen:
                at = None
                break
            seen.add(at)
        out[start] = at
    return out


def test_two_merges_of_one_pair_one_wins(two_servers, clients, city):
    """A into B and B into A at once: one merge wins, the other is a 409 naming the state."""
    a0, a1 = clients(0, "dispatcher"), clients(1, "dispatcher")
    both_won = []
    for n in range(ROUNDS):
        a, b = report(a0, city), report(a0, city)
        ra, rb = together(partial(a0.post, f"/api/v1/issues/{a}/merge", json={"duplicate_of": b}),
                          partial(a1.post, f"/api/v1/issues/{b}/merge", json={"duplicate_of": a}))
        if ra.status_code == rb.status_code == 200:
            both_won.append(n)
            continue
        assert sorted([ra.status_code, rb.status_code]) == [200, 409], (ra.text, rb.text)
        winner, loser = (a, b) if ra.status_code == 200 else (b, a)
        refused = (rb if ra.status_code == 200 else ra).json()
        assert refused["code"] == "merge_target_closed", refused
        assert f"事件 {winner} 状态为 已合并" in refused["detail"], refused
        assert refused["state"] == "reported" and "merge" in refused["allowed_actions"]
        assert ok(a0.get(f"/api/v1/issues/{loser}"))["state"] == "reported"
        assert trail(a0, winner) == ["report", "merge"] and trail(a0, loser) == ["report"]
    assert not both_won, (f"{two_servers.backend}: both merges won in {len(both_won)} of "
                          f"{ROUNDS} rounds")
    assert None not in merge_roots(two_servers.db_url).values()


def test_a_merge_cycle_of_three_cannot_close(two_servers, clients, city):
    """A→B, B→C and C→A at once: whatever wins, following duplicate_of from any of them ends
    at an open issue, and each successful merge has exactly one audit event."""
    d = [clients(i, "dispatcher") for i in range(3)]
    cycles = []
    for n in range(ROUNDS):
        ids = [report(d[0], city) for _ in range(3)]
        answers = together(*(partial(d[k].post, f"/api/v1/issues/{ids[k]}/merge",
                                     json={"duplicate_of": ids[(k + 1) % 3]}) for k in range(3)))
        won = [k for k, r in enumerate(answers) if r.status_code == 200]
        if len(won) == 3:
            cycles.append(n)
            continue
        assert 1 <= len(won) <= 2, [r.text for r in answers]
        for k, r in enumerate(answers):
            if r.status_code != 200:
                assert r.status_code == 409 and "已合并" in r.json()["detail"], r.text
            assert trail(d[0], ids[k]).count("merge") == (k in won)
        roots = merge_roots(two_servers.db_url)
        for k in won:
            root = roots[ids[k]]
            assert root is not None and root in ids, (n, roots)
            assert ok(d[0].get(f"/api/v1/issues/{root}"))["state"] == "reported"
    assert not cycles, (f"{two_servers.backend}: a merge cycle closed in {len(cycles)} of "
                        f"{ROUNDS} rounds")


def test_reassign_against_claim_follows_one_order(two_servers, clients, city):
    """The team claims while the dispatcher reassigns to another team: either the claim came
    first (and was then reassigned) or the reassignment did (and the claim is refused). Never
    a claimed issue whose claiming team is no longer assigned."""
    disp0, disp1, team = clients(0, "dispatcher"), clients(1, "dispatcher"), clients(0, "team")
    mine = ok(team.get("/api/v1/users/me"))["team_id"]
    orders = set()
    for _ in range(ROUNDS):
        iid = report(disp0, city)
        ok(disp0.post(f"/api/v1/issues/{iid}/accept", json={}))
        other = next(t["team_id"] for t in ok(disp0.get(f"/api/v1/issues/{iid}/candidates",
                                                        params={"k": 5}))["candidates"]
                     if t["team_id"] != mine)
        ok(disp0.post(f"/api/v1/issues/{iid}/dispatch", json={"team_ids": [mine]}))
        claim, reassign = together(
            partial(team.post, f"/api/v1/issues/{iid}/claim", json={}),
            partial(disp1.post, f"/api/v1/issues/{iid}/reassign",
                    json={"team_ids": [other], "reason": "closer team"}))
        after = ok(disp0.get(f"/api/v1/issues/{iid}"))
        events = trail(disp0, iid)[3:]  # after report, accept, dispatch
        assigned = [t["team_id"] for t in after["teams"]]
        assert claim.status_code in (200, 403, 404, 409) and reassign.status_code in (200, 409)
        assert 200 in (claim.status_code, reassign.status_code), (claim.text, reassign.text)
        if after["state"] == "claimed":
            assert assigned == [mine] and events == ["claim"], (events, reassign.text)
            assert "claimed" in reassign.json()["detail"]  # the state, a machine value
            orders.add("claim, reassign refused")
        else:
            assert after["state"] == "dispatched" and assigned == [other]
            assert events == (["claim", "reassign"] if claim.status_code == 200
                              else ["reassign"]), (events, claim.text)
            if claim.status_code != 200:  # reassigned away: no longer the team's issue
                assert claim.status_code in (403, 404), claim.text
            orders.add("claim, reassign" if claim.status_code == 200 else "reassign, claim refused")
    assert orders  # the figure of what happened, for a reader of -v output


def _spare_teams(two_servers, clients, city, n: int) -> list[str]:
    """`n` available A-roster enforcement teams of the school's street that no other test
    dispatches (not the demo team user's), for tests that change them."""
    lon, lat = city.landmarks[SCHOOL]
    mine = ok(clients(0, "team").get("/api/v1/users/me"))["team_id"]
    with open_store(two_servers.db_url) as store:
        street = store.locate(lon, lat).street_code
        found = store.nearest_teams(lon, lat, k=20, team_filter=TeamFilter(
            kind="enforcement", category="L01", statuses=("available",), street_code=street,
            rosters=("A",)))
    return sorted(m.team_id for m in found if m.team_id != mine)[-n:]


def _dispatch_against_a_switch(clients, city, team_id: str, arm, switch, refusal: str,
                               rounds: int) -> tuple[list[int], dict]:
    """Rounds of: `arm()` (the dispatch of `team_id` is allowed now), a new accepted issue, then
    its dispatch (process 0) released together with `switch()`, which forbids it, followed by
    a read of the issue as soon as the switch is answered (process 1); the switch is spread
    at random over the dispatch's span. A dispatch that succeeds must have committed before
    the switch did, so that read must see it; one that fails says why (`refusal`). Returns
    the rounds in which a dispatch committed after the switch, and the outcomes. `refusal` is
    the refusal's code."""
    disp, look = clients(0, "dispatcher"), clients(1, "admin")
    rng = random.Random(4)
    late, outcomes, latency = [], {"dispatched": 0, "refused": 0}, 0.0
    for n in range(rounds):
        arm()
        iid = report(disp, city)
        ok(disp.post(f"/api/v1/issues/{iid}/accept", json={}))
        (r, took), seen = together(
            partial(timed, disp.post, f"/api/v1/issues/{iid}/dispatch",
                    json={"team_ids": [team_id]}),
            partial(switch_then_look, switch, look, iid, rng.uniform(0, latency)))
        latency = max(latency, took)
        final = ok(disp.get(f"/api/v1/issues/{iid}"))
        if r.status_code == 200:
            outcomes["dispatched"] += 1
            assert final["state"] == "dispatched"
            if seen != "dispatched":
                late.append(n)
        else:
            outcomes["refused"] += 1
            assert r.status_code == 422 and r.json()["code"] == refusal, r.text
            assert final["state"] == "accepted" and trail(disp, iid)[-1] == "accept"
    return late, outcomes


def test_dispatch_in_emergency_never_commits_after_the_switch_to_normal(
        two_servers, clients, city):
    """A B-roster team may be dispatched only in emergency mode; the supervisor switches back
    to normal while the dispatcher dispatches the B team."""
    sup = clients(1, "supervisor")
    reserve = _spare_teams(two_servers, clients, city, 2)[-1]
    with open_store(two_servers.db_url) as store, store.tx() as tx:
        tx.run("UPDATE team SET roster = 'B' WHERE id = :t", {"t": reserve})  # emergency only
    try:
        late, outcomes = _dispatch_against_a_switch(
            clients, city, reserve,
            partial(ok_call, sup.put, "/api/v1/mode", json={"mode": "emergency", "reason": "drill"}),
            partial(ok_call, sup.put, "/api/v1/mode", json={"mode": "normal", "reason": "clear"}),
            "team_b_roster", ROUNDS * 2)
    finally:
        ok(sup.put("/api/v1/mode", json={"mode": "normal", "reason": "end of drill"}))
    assert not late, (f"{two_servers.backend}: {len(late)} of {ROUNDS * 2} emergency dispatches "
                      f"committed after the switch to normal ({outcomes})")


def test_dispatch_never_commits_after_its_team_went_off_duty(two_servers, clients, city):
    """The team's device reports it off duty while the dispatcher dispatches it."""
    admin = clients(1, "admin")
    team = _spare_teams(two_servers, clients, city, 2)[0]
    status = f"/api/v1/teams/{team}"
    try:
        late, outcomes = _dispatch_against_a_switch(
            clients, city, team, partial(ok_call, admin.patch, status, json={"status": "available"}),
            partial(ok_call, admin.patch, status, json={"status": "off_duty"}), "team_off_duty",
            ROUNDS * 2)
    finally:
        ok(admin.patch(status, json={"status": "available"}))
    assert not late, (f"{two_servers.backend}: {len(late)} of {ROUNDS * 2} dispatches committed "
                      f"after their team went off duty ({outcomes})")


def _grids(doc) -> dict:
    return {f["id"]: f for f in doc["features"]}


def _cut_across(geom) -> dict:
    """A north-south line through the middle of a grid, reaching beyond it."""
    x0, y0, x1, y1 = geom.bounds
    mid = (x0 + x1) / 2
    return {"type": "LineString", "coordinates": [[mid, y0 - 0.01], [mid, y1 + 0.01]]}


def test_publish_against_an_edit_publishes_one_draft(two_servers, clients):
    """A planner publishes a draft while another splits one of its grids: either the publish
    wins (the split is refused; what is live is the draft as published) or the split does
    (the publish is refused with 412; the draft stays open with the split). Never both: an
    acknowledged split must not be left out of a published draft."""
    pub, edit = clients(0, "planner"), clients(1, "admin")
    rng = random.Random(5)
    lost, latency = [], 0.0
    for n in range(ROUNDS):
        doc = ok(pub.post("/api/v1/plans", json={"area_code": COMMUNITY, "title": f"r{n}"}), 201)
        draft, grids = doc["draft"]["id"], _grids(doc)
        key = max(grids, key=lambda k: shape(grids[k]["geometry"]).area)
        (p, took), e = together(  # the split spread at random over the publish's span
            partial(timed, pub.post, f"/api/v1/plans/{draft}/publish",
                    headers={"If-Match": doc["draft"]["etag"]}),
            partial(later, rng.uniform(0, latency), edit.post, f"/api/v1/plans/{draft}/split",
                    json={"key": key, "line": _cut_across(shape(grids[key]["geometry"]))},
                    headers={"If-Match": grids[key]["properties"]["etag"]}))
        latency = max(latency, took)
        now = ok(pub.get(f"/api/v1/plans/{draft}"))
        if p.status_code == e.status_code == 200:
            lost.append(n)
            continue
        if p.status_code == 200:
            assert e.status_code in (409, 412), e.text
            assert e.status_code == 412 or e.json()["code"] == "draft_published", e.text
            assert now["draft"]["state"] == "published" and len(now["features"]) == len(grids)
        else:
            assert p.status_code == 412 and e.status_code == 200, (p.text, e.text)
            assert now["draft"]["state"] == "open" and len(now["features"]) == len(grids) + 1
        assert _live_codes(two_servers.db_url) == set(grids)
    assert not lost, (f"{two_servers.backend}: an acknowledged split was left out of the "
                      f"published draft in {len(lost)} of {ROUNDS} rounds")


def _live_codes(db_url: str) -> set[str]:
    with open_store(db_url) as store, store.snapshot() as tx:
        return {r["code"] for r in tx.rows("SELECT code FROM grid WHERE valid_to IS NULL AND "
                                           "community_code = :c", {"c": COMMUNITY})}


def test_a_report_filed_during_a_publish_lands_in_a_live_grid(two_servers, clients):
    """A report in the part of a grid that a publish splits off, filed while the publish
    runs: whichever commits first, the report ends in the grid that covers it now, never in
    the grid as it was before the publish."""
    pub, worker = clients(0, "planner"), clients(1, "operator")
    rng = random.Random(11)
    stale, latency = [], 0.0
    with open_store(two_servers.db_url) as store:
        for n in range(ROUNDS):
            doc = ok(pub.post("/api/v1/plans", json={"area_code": COMMUNITY, "title": f"i{n}"}),
                     201)
            draft, grids = doc["draft"]["id"], _grids(doc)
            key = max(grids, key=lambda k: shape(grids[k]["geometry"]).area)
            split = ok(pub.post(f"/api/v1/plans/{draft}/split",
                                json={"key": key, "line": _cut_across(shape(grids[key]["geometry"]))},
                                headers={"If-Match": grids[key]["properties"]["etag"]}))
            piece = next(f for k, f in _grids(split).items() if k not in grids)
            point = shape(piece["geometry"]).representative_point()
            (p, took), r = together(
                partial(timed, pub.post, f"/api/v1/plans/{draft}/publish",
                        headers={"If-Match": split["draft"]["etag"]}),
                partial(later, rng.uniform(0, latency), worker.post, "/api/v1/issues",
                        json={"category_code": "L01", "description": "race", "lon": point.x,
                              "lat": point.y}))
            latency = max(latency, took)
            assert p.status_code == 200, p.text
            assert r.status_code == 201, r.text
            filed = ok(worker.get(f"/api/v1/issues/{r.json()['issue']['id']}"))
            live = store.locate(point.x, point.y)
            assert live is not None
            if filed["grid_code"] != live.grid_code:
                stale.append((n, filed["grid_code"], live.grid_code))
    assert not stale, (f"{two_servers.backend}: {len(stale)} of {ROUNDS} reports kept a grid "
                       f"the publish had redrawn: {stale}")
