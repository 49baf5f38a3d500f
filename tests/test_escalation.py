"""Owning levels and escalation (小事不出楼栋、大事不出社区), over real HTTP on both backends:
where each category starts, escalating up the chain with the audit trail, the refusals
(past the city, a finished case, outside the jurisdiction, a stale If-Match), the suggestion
a step gone red makes, the issues solved per level against a pandas count, and two
escalations decided on one version in two server processes: one wins."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pandas as pd
import pytest

from fixtures.timeline import REFERENCE_TIME
from geo.escalation.levels import DEFAULT_LEVELS, LEVELS, default_level, default_level_sql
from geo.taxonomy import CATEGORY_BY_CODE
from tests.citycopy import private_server
from tests.processes import together

NOW = REFERENCE_TIME + timedelta(hours=1)  # after the seeded history's last step
SCHOOL = "电东胡同小学门口"  # 长春路街道, 船营区: the demo staff's jurisdiction
FOREIGN = "劳动路"  # 山前街道, 龙潭区: nobody's but the admin's
ROUNDS = 4


def ok(r, status=200) -> dict:
    assert r.status_code == status, r.text
    return r.json()


@pytest.fixture(scope="module", params=["sqlite", "postgis"])
def api(request, tmp_path_factory):
    """One server per backend for the module, on a private copy of the test city."""
    with private_server(request, tmp_path_factory) as server:
        server.now = NOW
        yield server


def report(c, city, place=SCHOOL, category="L01") -> int:
    lon, lat = city.landmarks[place]
    return ok(c.post("/api/v1/issues", json={"category_code": category, "description": "楼道",
                                             "lon": lon, "lat": lat}), 201)["issue"]["id"]


def escalate(c, issue_id, status=200, if_match=None, **body):
    body.setdefault("reason", "本级无法解决")
    headers = {"If-Match": if_match} if if_match else {}
    return ok(c.post(f"/api/v1/issues/{issue_id}/escalate", json=body, headers=headers), status)


def test_default_levels_per_category(api):
    # The rule as the developers' guide words it, case by case.
    assert default_level("L07", "220204001001XQ003-07", "220204001001XQ003") == "building"
    assert default_level("S04", "220204001001XQ003-07", "220204001001XQ003") == "building"
    assert default_level("S02", None, "220204001001XQ003") == "community"
    assert default_level("L07", None, None) == "community"
    for vendors_or_parking in ("L01", "L04", "L06"):
        for place in (("b", "c"), (None, "c"), (None, None)):
            assert default_level(vendors_or_parking, *place) == "street"
    assert set(DEFAULT_LEVELS) == set(CATEGORY_BY_CODE)
    # The SQL says the same as the table for every stored issue (buildings, compounds or none).
    with api.store.snapshot() as tx:
        rows = tx.rows("SELECT i.category_code, i.building_code, i.compound_code, "
                       f"{default_level_sql('i')} AS level FROM issue i")
    places = set()
    for r in rows:
        assert r["level"] == default_level(r["category_code"], r["building_code"],
                                           r["compound_code"]), r
        places.add((r["building_code"] is not None, r["compound_code"] is not None))
    assert (False, False) in places and len(places) >= 2  # some issues lie in compounds


def test_escalate_up_the_chain_with_the_audit_trail(api, city):
    with api.client("dispatcher") as c:
        iid = report(c, city)
        status = ok(c.get(f"/api/v1/issues/{iid}/escalation"))
        assert (status["level"], status["default_level"], status["escalations"]) == (
            "street", "street", [])
        version = ok(c.get(f"/api/v1/issues/{iid}")).get("version")
        up = escalate(c, iid, if_match=f'"{version}"', reason="需区级统筹")
        assert (up["level"], up["level_name"], up["version"]) == ("district", "区县", version + 1)
        top = escalate(c, iid, to_level="city", reason="跨区协调")
        assert top["level"] == "city" and [m["to_level"] for m in top["escalations"]] == [
            "district", "city"]
        refused = escalate(c, iid, 409)
        assert refused["code"] == "past_city" and "最高层级" in refused["detail"]
        trail = ok(c.get(f"/api/v1/issues/{iid}/events"))
        moves = [e for e in trail if e["action"] == "escalate"]
        assert [(e["details"]["from_level"], e["details"]["to_level"]) for e in moves] == [
            ("street", "district"), ("district", "city")]
        assert [(e["details"]["from_level_name"], e["details"]["to_level_name"])
                for e in moves] == [("街道", "区县"), ("区县", "市")]
        assert all(e["from_state"] == e["to_state"] == "reported" for e in moves)
        assert [e["reason"] for e in moves] == ["需区级统筹", "跨区协调"]
        assert ok(c.get(f"/api/v1/issues/{iid}"))["state"] == "reported"  # the state stays
    with api.client("dispatcher", lang="en") as c:
        words = ok(c.get(f"/api/v1/issues/{iid}/events"))[-1]["details"]
        assert (words["from_level_name"], words["to_level_name"]) == ("district", "city")


def test_refusals_with_their_codes(api, city):
    with api.store.snapshot() as tx:
        closed = tx.one("SELECT id FROM issue WHERE state = 'closed' AND street_code = :s "
                        "ORDER BY id LIMIT 1",
                        {"s": api.store.locate(*city.landmarks[SCHOOL]).street_code})["id"]
    with api.client("dispatcher") as c, api.client("admin") as admin:
        finished = escalate(c, closed, 409)
        assert finished["code"] == "issue_finished" and "已办结" in finished["detail"]
        foreign = report(admin, city, FOREIGN)
        assert escalate(c, foreign, 404)["code"] == "not_found"  # no hint that it exists
        iid = report(c, city)
        version = ok(c.get(f"/api/v1/issues/{iid}"))["version"]
        escalate(c, iid)
        stale = escalate(c, iid, 412, if_match=f'"{version}"')
        assert stale["code"] == "precondition_failed" and str(version + 1) in stale["detail"]
        down = escalate(c, iid, 409, to_level="street")
        assert down["code"] == "not_upwards" and "市" in down["detail"]
        assert escalate(c, iid, 422, reason=" ")["code"] == "reason_required"
        assert escalate(c, iid, 422, to_level="province")["code"] == "unknown_level"
        # Nothing of the refused requests was written: one escalation in the trail.
        trail = ok(c.get(f"/api/v1/issues/{iid}/events"))
        assert [e["action"] for e in trail] == ["report", "escalate"]
    with api.client("citizen") as c:
        r = c.post(f"/api/v1/issues/{iid}/escalate", json={"reason": "x"})
        assert r.status_code == 403 and r.json()["code"] == "insufficient_scope"


def test_a_step_gone_red_suggests_the_next_level(api, city):
    with api.client("dispatcher") as c:
        iid = report(c, city)
        try:
            api.now = NOW + timedelta(minutes=10)  # the report waits 30 minutes for its accept
            calm = ok(c.get(f"/api/v1/issues/{iid}/escalation"))
            assert calm["suggested_level"] is None and "尚无环节亮红灯" in calm["why"]
            api.now = NOW + timedelta(hours=2)
            red = ok(c.get(f"/api/v1/issues/{iid}/escalation"))
            assert (red["suggested_level"], red["suggested_level_name"]) == ("district", "区县")
            assert "超过时限" in red["why"] and "区县" in red["why"]
            up = escalate(c, iid)
            assert up["escalations"][-1]["suggested"] is True
            # Red already when it came up: the district is not told to pass it on at once.
            assert up["suggested_level"] is None and "已亮红灯" in up["why"]
            other = report(c, city)
            api.now = NOW + timedelta(hours=2, minutes=1)
            assert escalate(c, other, to_level="city")["escalations"][-1]["suggested"] is False
        finally:
            api.now = NOW


def test_solved_by_level_against_a_pandas_count(api):
    since, until = REFERENCE_TIME - timedelta(days=200), REFERENCE_TIME - timedelta(days=20)
    with api.client("supervisor") as c:
        got = ok(c.get("/api/v1/escalation/levels", params={"since": since.isoformat(),
                                                            "until": until.isoformat()}))
    with api.store.snapshot() as tx:
        frame = pd.DataFrame(tx.rows(
            "SELECT category_code, building_code, compound_code, owner_level, state, "
            "closed_at, district_code FROM issue"))
    frame["closed_at"] = pd.to_datetime(frame.closed_at, utc=True, format="ISO8601")
    mine = frame[(frame.district_code == "220204") & (frame.state == "closed")
                 & (frame.closed_at >= since) & (frame.closed_at < until)]
    text = lambda v: v if isinstance(v, str) else None  # noqa: E731 - pandas gives NaN for None
    level = mine.owner_level.fillna(mine.apply(lambda r: default_level(
        r.category_code, text(r.building_code), text(r.compound_code)), axis=1))
    expected = level.value_counts().reindex(list(LEVELS), fill_value=0)
    escalated = mine.owner_level.notna().groupby(level).sum().reindex(list(LEVELS),
                                                                      fill_value=0)
    assert [lv["level"] for lv in got["levels"]] == list(LEVELS)
    assert [lv["solved"] for lv in got["levels"]] == expected.tolist()
    assert [lv["escalated"] for lv in got["levels"]] == escalated.tolist()
    assert got["total"] == len(mine) > 100 and expected[["district", "city"]].sum() > 0
    assert got["levels"][0]["name"] == "楼栋"
    with api.client("citizen") as c:
        assert c.get("/api/v1/escalation/levels").status_code == 403


def test_two_escalations_on_one_version_one_wins(two_servers, city):
    a, b = two_servers.client(0, "dispatcher"), two_servers.client(1, "dispatcher")
    try:
        for _ in range(ROUNDS):
            iid = report(a, city)
            version = ok(a.get(f"/api/v1/issues/{iid}"))["version"]
            ra, rb = together(
                partial(a.post, f"/api/v1/issues/{iid}/escalate", json={"reason": "甲"},
                        headers={"If-Match": f'"{version}"'}),
                partial(b.post, f"/api/v1/issues/{iid}/escalate", json={"reason": "乙"},
                        headers={"If-Match": f'"{version}"'}))
            assert sorted([ra.status_code, rb.status_code]) == [200, 412], (ra.text, rb.text)
            trail = ok(a.get(f"/api/v1/issues/{iid}/events"))
            assert [e["action"] for e in trail] == ["report", "escalate"]
            assert ok(b.get(f"/api/v1/issues/{iid}/escalation"))["level"] == "district"
    finally:
        a.close()
        b.close()
