"""Dispute mediation over real HTTP on both backends: the resolution rates against hand counts
of planted disputes (and the demo city's against a pandas count of its frame); a dispute's
whole life with its audit trail; refused transitions in words; the risk flag lifting a dispute
to the street and its notice reaching the police station that serves it; who reads the
parties whole, masked or not at all; bad input refused with 4xx."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from fixtures.timeline import REFERENCE_TIME
from geo.casework.users import add_user
from geo.mediation.people import id_check_character
from geo.store import open_store
from tests.citycopy import private_city
from tests.http import Server
from tests.processes import together

JAN = datetime(2022, 1, 10, tzinfo=UTC)  # planted disputes live before the demo's history
PERIOD = {"since": "2022-01-01T00:00:00Z", "until": "2022-02-01T00:00:00Z"}
ID17 = "22020419800101123"
ID_NUMBER = ID17 + id_check_character(ID17)


def ok(r, status=200) -> dict:
    assert r.status_code == status, r.text
    return r.json()


def refused(r, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == code, body
    return body


@dataclass
class World:
    api: Server
    a: str  # a community of street s, with a second community a2
    a2: str
    b: str  # a community of another district
    s: str
    s3: str  # another street of s's district, without a police station of its own
    stations: dict[str, str]  # which station: street s, its district, another street


def _places(store, city):
    communities = city.communities.code.tolist()
    by_street = pd.Series(communities).groupby(pd.Series(communities).str[:9]).apply(list)
    s = next(code for code, cs in by_street.items() if len(cs) >= 2
             and sum(k[:6] == code[:6] for k in by_street.index) >= 2)
    a, a2 = by_street[s][:2]
    s3 = next(k for k in by_street.index if k[:6] == s[:6] and k != s)
    b = next(c for c in communities if c[:6] != s[:6])
    return a, a2, b, s, s3


@pytest.fixture(scope="module", params=["sqlite", "postgis"])
def world(request, city, tmp_path_factory):
    """One server per backend for the module, on a private copy of the test city, with the
    police stations of one district replaced by planted ones and accounts for each reader."""
    with private_city(request, tmp_path_factory) as url, open_store(url) as store:
        yield from _served_world(store, city)


def _served_world(store, city):
    """Plant the stations and the readers' accounts, then serve the store."""
    a, a2, b, s, s3 = _places(store, city)
    district = s[:6]
    stations = {"street": "PS-street", "district": "PS-district", "other": "PS-other"}
    with store.tx() as tx:
        tx.run("DELETE FROM department WHERE kind = 'police_station' AND (area_code = :d OR "
               "substr(area_code, 1, 6) = :d)", {"d": district})
        for key, area in (("street", s), ("district", district), ("other", b[:9])):
            tx.run("INSERT INTO department (id, name, kind, area_code) VALUES "
                   "(:i, :n, 'police_station', :a)", {"i": stations[key], "n": key, "a": area})
    for name, role, where, dep in (("med-a", "mediator", [a], None),
                                   ("med-b", "mediator", [b], None),
                                   ("med-s", "mediator", [s, s3], None),
                                   ("sup-s", "supervisor", [s], None),
                                   ("gw-s", "grid_worker", [s], None),
                                   ("police-s", "department", [], stations["street"]),
                                   ("police-d", "department", [], stations["district"]),
                                   ("police-o", "department", [], stations["other"])):
        add_user(store, name, "demo", role, where, department_id=dep)
    server = Server(store)
    try:
        yield World(server, a, a2, b, s, s3, stations)
    finally:
        server.stop()


def dispute(community, found_at=JAN, **extra) -> dict:
    return {"type": "neighbours", "summary": "楼上漏水引发邻里纠纷",
            "found_at": found_at.isoformat(), "found_by": "网格长王伟",
            "community_code": community,
            "parties": [{"name": "王小明", "role": "applicant", "phone": "13912341234",
                         "id_number": ID_NUMBER},
                        {"name": "李华", "role": "respondent", "phone": "0432-62345678"}],
            **extra}


def members(store, community) -> list[int]:
    with store.snapshot() as tx:
        return [int(r["id"]) for r in tx.rows(
            "SELECT m.id FROM squad_member m JOIN mediation_squad q ON q.id = m.squad_id "
            "WHERE q.community_code = :c ORDER BY m.id", {"c": community})]


def life(c, store, community, outcome="resolve", at=JAN) -> dict:
    """Register a dispute found at `at` and take it to `outcome` (None: left open)."""
    d = ok(c.post("/api/v1/disputes", json=dispute(community, at)), 201)
    if outcome is None:
        return d
    crew = members(store, community)[:2]
    result = {"resolve": "agreement", "refer": "no_agreement"}.get(outcome, "progress")
    ok(c.post(f"/api/v1/disputes/{d['id']}/sessions", json={
        "at": (at + timedelta(hours=2)).isoformat(), "mediators": crew, "result": result}), 201)
    body = {"resolve": {"outcome": "resolve", "agreement": "双方达成调解协议"},
            "refer": {"outcome": "refer", "referred_to": "court"},
            "withdraw": {"outcome": "withdraw", "note": "当事人自行和解"}}[outcome]
    return ok(c.post(f"/api/v1/disputes/{d['id']}/outcome", json=body))


def test_rates_against_hand_counts(world):
    w, api = world, world.api
    with api.client("admin") as admin:
        api.now = JAN + timedelta(days=5)
        for community, outcome in ((w.a, "resolve"), (w.a, "resolve"), (w.a, "refer"),
                                   (w.a2, "withdraw"), (w.a2, "resolve"), (w.b, "resolve")):
            life(admin, api.store, community, outcome)
        late = life(admin, api.store, w.a, None)  # resolved after the period: open at its end
        api.now = datetime(2022, 2, 15, tzinfo=UTC)
        ok(admin.post(f"/api/v1/disputes/{late['id']}/sessions", json={
            "at": "2022-02-14T09:00:00+08:00", "mediators": members(api.store, w.a)[:1],
            "result": "agreement"}), 201)
        ok(admin.post(f"/api/v1/disputes/{late['id']}/outcome",
                      json={"outcome": "resolve", "agreement": "分期履行"}))
        life(admin, api.store, w.a, "resolve", datetime(2022, 2, 3, tzinfo=UTC))  # outside
        got = ok(admin.get("/api/v1/disputes/rates", params={"level": "community", **PERIOD}))
        rows = {r["code"]: r for r in got["items"]}
        assert set(rows) == {w.a, w.a2, w.b}
        assert {k: rows[w.a][k] for k in ("found", "resolved", "referred", "withdrawn",
                                          "open", "rate")} == {
            "found": 4, "resolved": 2, "referred": 1, "withdrawn": 0, "open": 1, "rate": 0.5}
        assert (rows[w.a2]["found"], rows[w.a2]["withdrawn"], rows[w.a2]["rate"]) == (2, 1, 0.5)
        assert (rows[w.b]["found"], rows[w.b]["rate"]) == (1, 1.0)
        assert got["total"]["found"] == 7 and got["total"]["resolved"] == 4
        streets = ok(admin.get("/api/v1/disputes/rates", params={"level": "street", **PERIOD}))
        row = next(r for r in streets["items"] if r["code"] == w.s)
        assert (row["found"], row["resolved"], row["rate"]) == (6, 3, 0.5)
    # Under jurisdiction: the supervisor of street s sees its district made of s alone; the
    # mediator of a, community a alone.
    with api.client("sup-s") as sup:
        got = ok(sup.get("/api/v1/disputes/rates", params={"level": "district", **PERIOD}))
        assert [(r["code"], r["found"], r["resolved"]) for r in got["items"]] == [
            (w.s[:6], 6, 3)]
    with api.client("med-a") as med:
        got = ok(med.get("/api/v1/disputes/rates", params={"level": "community", **PERIOD}))
        assert [(r["code"], r["found"]) for r in got["items"]] == [(w.a, 4)]


def test_the_demo_citys_rates_against_pandas(world, city):
    api = world.api
    api.now = REFERENCE_TIME
    d = city.disputes.assign(found_at=pd.to_datetime(city.disputes.found_at, utc=True),
                             closed_at=pd.to_datetime(city.disputes.closed_at, utc=True))
    until = pd.Timestamp(REFERENCE_TIME)
    since = until - pd.Timedelta(days=365)
    found = d[(d.found_at >= since) & (d.found_at < until)]
    resolved = found[(found.state == "resolved") & (found.closed_at < until)]
    want = pd.DataFrame({"found": found.community_code.str[:9].value_counts(),
                         "resolved": resolved.community_code.str[:9].value_counts()}).fillna(0)
    with api.client("admin") as admin:
        got = ok(admin.get("/api/v1/disputes/rates", params={"level": "street"}))
    have = {r["code"]: (r["found"], r["resolved"]) for r in got["items"]}
    assert have == {k: (int(v.found), int(v.resolved)) for k, v in want.iterrows()}
    rate = len(resolved) / len(found)
    assert got["total"]["rate"] == round(rate, 4) and 0.96 <= rate <= 0.995  # the seed: 98.2%


def test_a_disputes_life_with_its_audit_trail(world):
    w, api = world, world.api
    api.now = REFERENCE_TIME
    at = REFERENCE_TIME - timedelta(days=3)
    crew = members(api.store, w.a)
    with api.client("med-a") as c:
        d = ok(c.post("/api/v1/disputes", json=dispute(w.a, at)), 201)
        assert (d["state"], d["level"], d["registered_by"]) == ("registered", "community", "med-a")
        assert d["parties"][0] == {"id": d["parties"][0]["id"], "role": "applicant",
                                   "name": "王小明", "phone": "13912341234",
                                   "id_number": ID_NUMBER, "masked": False}
        url = f"/api/v1/disputes/{d['id']}"
        s1 = ok(c.post(f"{url}/sessions", json={"at": (at + timedelta(hours=3)).isoformat(),
                                                "mediators": crew[:3], "result": "progress",
                                                "notes": "分别听取双方诉求"}), 201)
        assert s1["state"] == "mediating"
        s2 = ok(c.post(f"{url}/sessions", json={"at": (at + timedelta(days=1)).isoformat(),
                                                "mediators": crew[:2], "result": "agreement"}),
                201)
        assert [len(s["mediators"]) for s in s2["sessions"]] == [3, 2]
        done = ok(c.post(f"{url}/outcome", json={"outcome": "resolve",
                                                 "agreement": "赔偿维修费800元"}))
        assert (done["state"], done["agreement"]) == ("resolved", "赔偿维修费800元")
        assert done["closed_at"] is not None
        visit = ok(c.post(f"{url}/follow-ups", json={"at": REFERENCE_TIME.isoformat(),
                                                     "satisfied": True}), 201)
        assert visit["state"] == "resolved" and visit["follow_ups"][0]["satisfied"] is True
        trail = [(e["action"], e["from_state"], e["to_state"], e["actor"])
                 for e in ok(c.get(url))["events"]]
    assert trail == [("register", None, "registered", "med-a"),
                     ("session", "registered", "mediating", "med-a"),
                     ("session", "mediating", "mediating", "med-a"),
                     ("resolve", "mediating", "resolved", "med-a"),
                     ("follow_up", "resolved", "resolved", "med-a")]


def test_refused_transitions_in_words(world):
    w, api = world, world.api
    api.now = REFERENCE_TIME
    at = REFERENCE_TIME - timedelta(days=1)
    with api.client("med-a", lang="en") as c, api.client("med-a") as zh:
        d = ok(c.post("/api/v1/disputes", json=dispute(w.a, at)), 201)
        url = f"/api/v1/disputes/{d['id']}"
        body = refused(c.post(f"{url}/follow-ups", json={"at": at.isoformat(),
                                                         "satisfied": True}),
                       409, "dispute_state")
        assert body["detail"] == ("cannot record a follow-up visit on a dispute that is "
                                  "registered; allowed now: record a mediation session, refer, "
                                  "record a withdrawal, flag a risk of turning criminal")
        assert body["allowed_actions"] == ["session", "refer", "withdraw", "flag_risk"]
        zh_body = refused(zh.post(f"{url}/follow-ups", json={"at": at.isoformat(),
                                                             "satisfied": True}),
                          409, "dispute_state")
        assert "回访" in zh_body["detail"] and "cannot" not in zh_body["detail"]
        # An agreement needs a session that reached it.
        ok(c.post(f"{url}/sessions", json={"at": at.isoformat(),
                                           "mediators": members(api.store, w.a)[:1],
                                           "result": "progress"}), 201)
        body = refused(c.post(f"{url}/outcome", json={"outcome": "resolve",
                                                      "agreement": "x"}),
                       409, "no_agreement_session")
        assert "reached an agreement" in body["detail"]
        ok(c.post(f"{url}/outcome", json={"outcome": "withdraw", "note": "撤回"}))
        body = refused(c.post(f"{url}/risk", json={"reason": "扬言报复"}), 409, "dispute_state")
        assert body["detail"] == ("cannot flag a risk of turning criminal on a dispute that is "
                                  "withdrawn; nothing more can be done with it")
        assert ok(c.get(url))["risk"] is False


def test_a_risk_flag_escalates_and_notifies_the_police_station(world, city):
    w, api = world, world.api
    api.now = REFERENCE_TIME
    at = REFERENCE_TIME - timedelta(hours=6)
    with api.client("med-s") as c:
        d = ok(c.post("/api/v1/disputes", json=dispute(w.a, at)), 201)
        flagged = ok(c.post(f"/api/v1/disputes/{d['id']}/risk",
                            json={"reason": "当事人扬言报复"}))
        assert (flagged["risk"], flagged["level"], flagged["state"]) == (True, "street",
                                                                         "registered")
        assert flagged["notice"]["department_id"] == w.stations["street"]
        assert flagged["events"][-1]["details"] == {"from_level": "community",
                                                    "to_level": "street",
                                                    "notified": w.stations["street"]}
        refused(c.post(f"/api/v1/disputes/{d['id']}/risk", json={"reason": "again"}), 409,
                "already_flagged")
        # A street without a station of its own: its district's.
        community = next(x for x in city.communities.code if x.startswith(w.s3))
        e = ok(c.post("/api/v1/disputes", json=dispute(community, at)), 201)
        other = ok(c.post(f"/api/v1/disputes/{e['id']}/risk", json={"reason": "持械威胁"}))
        assert other["notice"]["department_id"] == w.stations["district"]
    with api.client("police-s") as p:
        got = ok(p.get("/api/v1/disputes/notices"))
        assert [(n["dispute_id"], n["reason"]) for n in got["items"]] == [
            (d["id"], "当事人扬言报复")]
        assert "parties" not in got["items"][0]
        refused(p.get(f"/api/v1/disputes/{d['id']}"), 403, "insufficient_scope")
    with api.client("police-d") as p:
        assert [n["dispute_id"] for n in ok(p.get("/api/v1/disputes/notices"))["items"]] == [
            e["id"]]
    with api.client("police-o") as p:
        assert ok(p.get("/api/v1/disputes/notices"))["items"] == []
    with api.client("gw-s") as g:  # reads issues, not disputes
        assert ok(g.get("/api/v1/disputes/notices"))["items"] == []


def test_who_reads_the_parties(world):
    w, api = world, world.api
    api.now = REFERENCE_TIME
    at = REFERENCE_TIME - timedelta(days=2)
    with api.client("med-a") as c:
        d = ok(c.post("/api/v1/disputes", json=dispute(w.a, at)), 201)
        refused(c.post("/api/v1/disputes", json=dispute(w.b, at)), 403, "outside_jurisdiction")
    url = f"/api/v1/disputes/{d['id']}"
    with api.client("med-b") as c:  # a mediator of another community: the dispute is not there
        refused(c.get(url), 404, "dispute_not_found")
        refused(c.post(f"{url}/risk", json={"reason": "x"}), 404, "dispute_not_found")
        assert d["id"] not in [x["id"] for x in ok(c.get("/api/v1/disputes",
                                                         params={"limit": 500}))["items"]]
    with api.client("sup-s") as c:  # a supervisor: the dispute, its parties masked
        parties = ok(c.get(url))["parties"]
        assert [(p["name"], p["phone"], p["id_number"], p["masked"]) for p in parties] == [
            ("王**", "139****1234", None, True), ("李*", "043******5678", None, True)]
        assert ok(c.get("/api/v1/disputes/rates"))["total"]["found"] > 0
        listed = ok(c.get("/api/v1/disputes", params={"area": w.a, "limit": 500}))
        assert d["id"] in [x["id"] for x in listed["items"]] and "parties" not in listed["items"][0]
    with api.client("admin") as c:
        assert ok(c.get(url))["parties"][0]["id_number"] == ID_NUMBER
    with api.client("gw-s") as c:
        refused(c.get(url), 403, "insufficient_scope")
        refused(c.get("/api/v1/disputes/rates"), 403, "insufficient_scope")


def test_issue_link_and_bad_input(world):
    w, api = world, world.api
    api.now = REFERENCE_TIME
    at = (REFERENCE_TIME - timedelta(days=1)).isoformat()
    with api.store.snapshot() as tx:
        issue = tx.one("SELECT i.id, i.community_code FROM issue i WHERE i.category_code = 'S02' "
                       "AND i.street_code = :s AND NOT EXISTS (SELECT 1 FROM dispute d "
                       "WHERE d.issue_id = i.id) ORDER BY i.id", {"s": w.s})
        other = tx.one("SELECT id FROM issue WHERE category_code <> 'S02' AND street_code = :s "
                       "ORDER BY id", {"s": w.s})
    with api.client("med-s", lang="en") as c:
        body = dispute(None, REFERENCE_TIME - timedelta(days=1), issue_id=issue["id"])
        del body["community_code"]
        linked = ok(c.post("/api/v1/disputes", json=body), 201)
        assert (linked["issue_id"], linked["community_code"]) == (issue["id"],
                                                                  issue["community_code"])
        refused(c.post("/api/v1/disputes", json=body), 409, "issue_has_dispute")
        refused(c.post("/api/v1/disputes", json={**body, "issue_id": other["id"]}), 422,
                "issue_not_a_dispute")
        base = dispute(w.a, REFERENCE_TIME - timedelta(days=1))
        bad_party = {**base["parties"][0]}
        cases = [
            ({**base, "type": "murder"}, "validation_failed"),
            ({**base, "state": "resolved"}, "validation_failed"),  # server-owned
            ({**base, "found_at": (REFERENCE_TIME + timedelta(hours=1)).isoformat()},
             "time_in_future"),
            ({**base, "found_at": "2026-11-20T08:00:00"}, "time_zone"),
            ({**base, "parties": [{**bad_party, "phone": "12345"}]}, "bad_phone"),
            ({**base, "parties": [{**bad_party, "id_number": ID17 + "0"
                                   if ID_NUMBER[-1] != "0" else ID17 + "1"}]}, "bad_id_number"),
            ({**base, "parties": []}, "validation_failed"),
            ({**base, "community_code": "999999999999"}, "outside_jurisdiction"),
            ({**base, "compound_code": w.b + "XQ001"}, "compound_elsewhere"),
        ]
        for payload, code in cases:
            r = c.post("/api/v1/disputes", json=payload)
            assert 400 <= r.status_code < 500 and r.json()["code"] == code, (code, r.text)
        d = ok(c.post("/api/v1/disputes", json=base), 201)
        refused(c.post(f"/api/v1/disputes/{d['id']}/sessions", json={
            "at": at, "mediators": [10**12], "result": "progress"}), 422, "unknown_mediator")
        refused(c.post(f"/api/v1/disputes/{d['id']}/outcome", json={"outcome": "refer"}), 422,
                "bad_referred_to")
        refused(c.post(f"/api/v1/disputes/{d['id']}/risk", json={"reason": ""}), 422,
                "validation_failed")
        refused(c.get("/api/v1/disputes/rates", params={"level": "grid"}), 422,
                "validation_failed")
        refused(c.get("/api/v1/disputes/rates", params={"since": "2026-02-01T00:00:00Z",
                                                        "until": "2026-01-01T00:00:00Z"}),
                422, "bad_period")
        refused(c.get("/api/v1/disputes", params={"limit": 0}), 422, "validation_failed")
        refused(c.get("/api/v1/disputes/99999999"), 404, "dispute_not_found")


def test_two_outcomes_at_once_one_wins(world):
    """Two mediators finish the same dispute at the same moment: one outcome is written, the
    other is refused with the state it found, and the trail holds one outcome."""
    w, api = world, world.api
    api.now = REFERENCE_TIME
    at = REFERENCE_TIME - timedelta(days=1)
    with api.client("med-a") as a, api.client("med-s") as s:
        d = ok(a.post("/api/v1/disputes", json=dispute(w.a, at)), 201)
        url = f"/api/v1/disputes/{d['id']}"
        ok(a.post(f"{url}/sessions", json={"at": at.isoformat(), "result": "agreement",
                                           "mediators": members(api.store, w.a)[:2]}), 201)
        first, second = together(
            lambda: a.post(f"{url}/outcome", json={"outcome": "resolve", "agreement": "和解"}),
            lambda: s.post(f"{url}/outcome", json={"outcome": "withdraw", "note": "撤回"}))
        statuses = sorted([first.status_code, second.status_code])
        assert statuses == [200, 409], (first.text, second.text)
        loser = first if first.status_code == 409 else second
        assert loser.json()["code"] == "dispute_state"
        final = ok(a.get(url))
    outcomes = [e["action"] for e in final["events"] if e["action"] in ("resolve", "withdraw")]
    assert len(outcomes) == 1 and final["state"] == {"resolve": "resolved",
                                                     "withdraw": "withdrawn"}[outcomes[0]]
