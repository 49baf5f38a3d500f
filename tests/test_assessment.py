"""The monthly assessment (考核评价) over real HTTP on both backends: every figure of every
kind against a pandas count of the same rows under the reader's jurisdiction, the ranking's
order, the refusals; and the printable page in a real browser, matching the API in both
languages."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from fixtures.timeline import REFERENCE_TIME
from geo.casework.users import add_user
from tests.pages import browser, untranslated

NOW = REFERENCE_TIME
MONTH = "2026-11"  # Shanghai: 2026-10-31T16:00Z to 2026-11-30T16:00Z
START, END = pd.Timestamp("2026-10-31T16:00Z"), pd.Timestamp("2026-11-30T16:00Z")
SCHOOL = "电东胡同小学门口"
STREET, DISTRICT = "220204001", "220204"
ENFORCEMENT, URBAN, POLICE = (f"D-{STREET}-enforcement", f"D-{DISTRICT}-urban",
                              f"D-{STREET}-police")


def ok(r, status=200) -> dict:
    assert r.status_code == status, r.text
    return r.json()


def _whistles(api, city) -> None:
    """Two whistles of the month: one with a unit on time, one late and one missing; one
    evaluated with ratings."""
    add_user(api.store, "enforcement", "demo", "department", department_id=ENFORCEMENT)
    add_user(api.store, "urban", "demo", "department", department_id=URBAN)
    caller = api.client("dispatcher")
    lon, lat = city.landmarks[SCHOOL]
    api.now = NOW - timedelta(hours=31)
    made = []
    for _ in range(2):
        issue = ok(caller.post("/api/v1/issues", json={"category_code": "L01", "lon": lon,
                                                       "lat": lat}), 201)["issue"]["id"]
        made.append(issue)
    api.now = NOW - timedelta(hours=30)
    w1 = ok(caller.post(f"/api/v1/issues/{made[0]}/whistle",
                        json={"department_ids": [ENFORCEMENT, URBAN, POLICE]}), 201)["id"]
    w2 = ok(caller.post(f"/api/v1/issues/{made[1]}/whistle",
                        json={"department_ids": [ENFORCEMENT, POLICE]}), 201)["id"]
    api.now = NOW - timedelta(hours=29)
    for w in (w1, w2):
        ok(api.client("enforcement").post(f"/api/v1/whistles/{w}/units/{ENFORCEMENT}/report-in"))
    ok(api.client("department").post(f"/api/v1/whistles/{w2}/units/{POLICE}/report-in"))
    api.now = NOW - timedelta(hours=20)  # past the 2 h deadline
    ok(api.client("department").post(f"/api/v1/whistles/{w1}/units/{POLICE}/report-in"))
    ok(caller.post(f"/api/v1/whistles/{w2}/consult", json={"plan": "联合执法"}))
    for user, dep in (("enforcement", ENFORCEMENT), ("department", POLICE)):
        ok(api.client(user).post(f"/api/v1/whistles/{w2}/units/{dep}/done"))
    ok(caller.post(f"/api/v1/whistles/{w2}/evaluate",
                   json={"rating": 4, "unit_ratings": {ENFORCEMENT: 5, POLICE: 3}}))
    api.now = NOW


def _escalations(store) -> int:
    """`escalate` entries (as the escalation room writes them) on some issues closed this
    month, one before the month, and one on a whistle's issue; how many of the month's there
    were before (on issues in a street)."""
    with store.tx() as tx:
        before = tx.one("SELECT count(*) AS n FROM issue_event e JOIN issue i ON i.id = "
                        "e.issue_id WHERE e.action = 'escalate' AND e.at >= :s AND e.at < :e "
                        "AND i.street_code IS NOT NULL",
                        {"s": START.to_pydatetime(), "e": END.to_pydatetime()})["n"]
        closed = tx.rows("SELECT id, state FROM issue WHERE state = 'closed' AND closed_at >= :s "
                         "ORDER BY id LIMIT 12", {"s": START.to_pydatetime()})
        whistled = tx.one("SELECT issue_id AS id, 'dispatched' AS state FROM whistle "
                          "WHERE open = :yes ORDER BY id LIMIT 1", {"yes": True})
        for n, row in enumerate([*closed, whistled]):
            at = (START - timedelta(days=1)) if n == 0 else (START + timedelta(days=n))
            tx.run("INSERT INTO issue_event (issue_id, at, actor, action, from_state, to_state, "
                   "reason, details) VALUES (:i, :at, 'operator', 'escalate', :s, :s, '', :d)",
                   {"i": row["id"], "at": at.to_pydatetime(), "s": row["state"],
                    "d": {"from_level": "community", "to_level": "street"}})
    return int(before)


def _frame(tx, sql: str, times=(), params=None) -> pd.DataFrame:
    f = pd.DataFrame(tx.rows(sql, params))
    for c in times:
        f[c] = pd.to_datetime(f[c], utc=True, format="ISO8601")
    return f


def _oracle(store, visible) -> dict[str, dict]:
    """Each kind's figures from the raw rows with pandas; `visible` keeps the reader's issues."""
    with store.snapshot() as tx:
        issues = _frame(tx, "SELECT id, street_code, community_code, district_code, state, "
                            "closed_at, overdue_steps, rework_count, rating FROM issue",
                        ["closed_at"])
        events = _frame(tx, "SELECT id, issue_id, at FROM issue_event WHERE action = "
                            "'escalate'", ["at"])
        leads = _frame(tx, "SELECT issue_id, team_id FROM assignment WHERE lead = :y AND "
                           "active = :y", params={"y": True})
        whistles = _frame(tx, "SELECT id, issue_id, street_code, community_code, called_at "
                              "FROM whistle", ["called_at"])
        units = _frame(tx, "SELECT whistle_id, department_id, report_in_due, reported_in_at, "
                           "reported_in_late, done_at, done_late, rating FROM whistle_unit",
                       ["report_in_due", "reported_in_at", "done_at"])
    issues = issues[visible(issues)]
    closed = issues[(issues.state == "closed") & (issues.closed_at >= START)
                    & (issues.closed_at < END)]
    month_events = events[(events["at"] >= START) & (events["at"] < END)].merge(
        issues, left_on="issue_id", right_on="id", suffixes=("_e", ""))

    def casework(frame: pd.DataFrame, escalated: pd.DataFrame, key: str) -> dict:
        g = frame.groupby(key)
        out = pd.DataFrame({"closed": g.size(), "on_time": g.overdue_steps.apply(
            lambda s: int((s == 0).sum())), "reworked": g.rework_count.apply(
            lambda s: int((s > 0).sum())), "rated": g.rating.count(),
            "mean": g.rating.mean().round(2)})
        esc = escalated.groupby(key).id_e.nunique()
        out = out.reindex(out.index.union(esc.index))
        out["escalations"] = esc.reindex(out.index).fillna(0).astype(int)
        out[["closed", "on_time", "reworked", "rated"]] = out[
            ["closed", "on_time", "reworked", "rated"]].fillna(0).astype(int)
        return {code: (r.closed, r.on_time, r.reworked, r.rated,
                       None if pd.isna(r["mean"]) else float(r["mean"]), r.escalations)
                for code, r in out.iterrows()}

    result = {"streets": casework(closed, month_events, "street_code"),
              "communities": casework(closed, month_events, "community_code"),
              "teams": casework(closed.merge(leads, left_on="id", right_on="issue_id"),
                                month_events.merge(leads, on="issue_id"), "team_id")}
    w = whistles[(whistles.called_at >= START) & (whistles.called_at < END)
                 & whistles.issue_id.isin(issues.id)]
    u = units.merge(w, left_on="whistle_id", right_on="id")
    now = pd.Timestamp(NOW)
    u = u.assign(due=u.reported_in_at.notna() | (u.report_in_due <= now),
                 on_time=u.reported_in_late.notna() & ~u.reported_in_late.astype(bool),
                 late=u.reported_in_late.notna() & u.reported_in_late.astype(bool),
                 missed=u.reported_in_at.isna() & (u.report_in_due <= now),
                 done=u.done_at.notna(),
                 done_on_time=u.done_late.notna() & ~u.done_late.astype(bool))
    esc = events[(events["at"] >= START) & (events["at"] < END)].merge(
        whistles[whistles.issue_id.isin(issues.id)], on="issue_id", suffixes=("_e", "")).merge(
        units, left_on="id", right_on="whistle_id").groupby("department_id").id_e.nunique()
    result["departments"] = {
        dep: (len(g), int(g.due.sum()), int(g.on_time.sum()), int(g.late.sum()),
              int(g.missed.sum()), int(g.done.sum()), int(g.done_on_time.sum()),
              int(g.rating.count()), None if g.rating.isna().all()
              else round(float(g.rating.mean()), 2), int(esc.get(dep, 0)))
        for dep, g in u.groupby("department_id")}
    return result


def _answered(body: dict) -> dict[str, dict]:
    def casework(items):
        return {r["code"]: (r["closed"], r["closed_on_time"], r["reworked"], r["rated"],
                            r["mean_rating"], r["escalations"]) for r in items}

    return {"streets": casework(body["streets"]["items"]),
            "communities": casework(body["communities"]["items"]),
            "teams": casework(body["teams"]["items"]),
            "departments": {r["code"]: (
                r["called"], r["report_ins_due"], r["reported_in_on_time"],
                r["reported_in_late"], r["missed_report_in"], r["parts_done"],
                r["parts_on_time"], r["rated"], r["mean_rating"], r["escalations"])
                for r in body["departments"]["items"]}}


def _ranked_by_rule(items: list[dict], keys) -> None:
    """Each row is not beaten by the next on the rule's keys, read in order."""
    for a, b in zip(items, items[1:], strict=False):
        for name, sign in keys:
            va, vb = a[name], b[name]
            if va is None or vb is None:
                assert va is not None or vb is None, (a, b)
                if (va is None) != (vb is None):
                    break
                continue
            if va != vb:
                assert sign * va < sign * vb, (name, a, b)
                break
    assert [r["rank"] for r in items] == list(range(1, len(items) + 1))


@pytest.fixture
def assessed(api, city):
    api.now = NOW
    _whistles(api, city)
    api.escalated_before = _escalations(api.store)
    return api


def test_figures_match_a_pandas_count_of_the_same_rows(assessed):
    api = assessed
    everyone = ok(api.client("admin").get(f"/api/v1/assessment?month={MONTH}"))
    assert everyone["month"] == MONTH and everyone["timezone"] == "Asia/Shanghai"
    expected = _oracle(api.store, lambda f: pd.Series(True, index=f.index))
    got = _answered(everyone)
    for kind in ("teams", "departments", "streets", "communities"):
        assert got[kind] == expected[kind], kind
        assert everyone[kind]["total"] == len(expected[kind])
    # ours: 12 in the month, the 13th before it
    assert sum(v[-1] for v in got["streets"].values()) == api.escalated_before + 12
    deps = everyone["departments"]["items"]
    by = {r["code"]: r for r in deps}
    assert by[URBAN]["missed_report_in"] >= 1 and by[POLICE]["reported_in_late"] >= 1
    casework = (("on_time_rate", -1), ("rework_rate", 1), ("mean_rating", -1), ("closed", -1))
    for kind in ("teams", "streets", "communities"):
        _ranked_by_rule(everyone[kind]["items"], casework)
    _ranked_by_rule(deps, (("on_time_report_in_rate", -1), ("on_time_part_rate", -1),
                           ("mean_rating", -1), ("called", -1)))
    # A supervisor of one district: the same counts, of that district's rows only.
    theirs = ok(api.client("supervisor").get(f"/api/v1/assessment?month={MONTH}"))
    expected = _oracle(api.store, lambda f: f.district_code == DISTRICT)
    assert _answered(theirs) == expected
    assert all(code.startswith(DISTRICT) for code in expected["streets"])
    assert len(expected["streets"]) < len(_answered(everyone)["streets"])


def test_who_may_read_it_and_bad_months(api):
    api.now = NOW
    for user in ("grid_worker", "dispatcher", "department", "team"):
        r = api.client(user).get("/api/v1/assessment")
        assert r.status_code == 403 and r.json()["code"] == "insufficient_scope", (user, r.text)
    for month in ("2026-13", "2026-1", "november"):
        r = api.client("operator").get(f"/api/v1/assessment?month={month}")
        assert r.status_code == 422, r.text
    r = api.client("operator").get("/api/v1/assessment")  # this month, by the server's clock
    assert ok(r)["month"] == MONTH


@pytest.fixture(scope="module")
def chromium():
    with browser() as b:
        yield b


def test_the_printed_page_matches_the_api_in_both_languages(sqlite_store, city, chromium):
    from tests.http import Server
    from tests.pages import Tab

    server = Server(sqlite_store)
    try:
        server.now = NOW
        _whistles(server, city)
        answer = ok(server.client("supervisor").get(f"/api/v1/assessment?month={MONTH}"))
        ready = "() => document.querySelectorAll('table.gd-rank').length === 4"
        tab = Tab(chromium, server, "supervisor", f"/maps/assessment?month={MONTH}",
                  ready=ready)
        try:
            assert tab.lang() == "zh-CN"
            for kind in ("teams", "departments", "streets", "communities"):
                shown = tab.js("(k) => [...document.querySelectorAll(`table[data-kind=${k}] "
                               "tbody tr[data-code]`)].map(r => [r.dataset.code, "
                               "r.cells[0].textContent, r.cells[1].textContent])", kind)
                assert shown == [[r["code"], str(r["rank"]), r["name"]]
                                 for r in answer[kind]["items"]], kind
            police = tab.js("() => [...document.querySelector("
                            f"'table[data-kind=departments] tr[data-code=\"{POLICE}\"]').cells]"
                            ".map(c => c.textContent)")
            row = next(r for r in answer["departments"]["items"] if r["code"] == POLICE)
            assert police[2] == str(row["called"]) and police[5] == str(row["reported_in_late"])
            assert tab.js("() => document.body.textContent").count("按时报到率") >= 1
            assert untranslated(tab.page, ("supervisor",)) == []
            assert tab.foreign_requests() == [] and tab.console_errors == []
            tab.shot("assessment-zh")
            tab.page.locator("#kind-departments").scroll_into_view_if_needed()
            tab.shot("assessment-departments-zh")
            assert tab.switch_language(ready=ready) == "en"
            assert "On-time report-in rate" in tab.js("() => document.body.textContent")
            assert untranslated(tab.page, ("supervisor",)) == []
            tab.shot("assessment-en")
            tab.page.emulate_media(media="print")
            assert tab.js("() => getComputedStyle(document.querySelector('.gd-controls'))"
                          ".display") == "none"
        finally:
            tab.close()
    finally:
        server.stop()
