"""The red/black list of property companies (GET /api/v1/property/...) on both backends: every
figure, the score order, the red and black lists, the talks proposed and the trend equal an
independent pandas aggregation of the same issues read with plain SQL and the rule as the
README writes it; a company's account sees only its own company, a district's supervisor only
the companies with compounds there; the CSV bulletin holds the same numbers; talks recorded.

The small test city has few complaints in its compounds, so the module's copy of it moves
issues of September to November 2026 into compounds (and some into the complaint categories),
keeping their states, ratings, reworks and late steps."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pandas as pd
import pytest

from geo.casework.users import add_user
from tests.citycopy import private_server

MONTH, BEFORE = "2026-10", "2026-09"
COMPLAINTS = ("L07", "L06", "L04")
WEIGHTS = {"density": 30.0, "on_time": 30.0, "rework": 15.0, "rating": 25.0}
MIN_COMPLAINTS, SHARE, TALK_SCORE = 5, 0.2, 60.0


def plant(store, seed: int = 15) -> None:
    """Move issues reported from August 2026 on into compounds, most of them into the
    complaint categories; compounds draw unequal shares so that companies differ."""
    rng = np.random.default_rng(seed)
    with store.tx() as tx:
        codes = [r["code"] for r in tx.rows("SELECT code FROM compound ORDER BY code")]
        ids = [r["id"] for r in tx.rows("SELECT id FROM issue WHERE reported_at >= :t "
                                        "ORDER BY id", {"t": pd.Timestamp("2026-08-01", tz="UTC")
                                                        .to_pydatetime()})]
        chosen = [i for i in ids if rng.random() < 0.8]
        weights = rng.gamma(0.8, size=len(codes))
        where = rng.choice(len(codes), size=len(chosen), p=weights / weights.sum())
        kinds = rng.choice(["L07", "L06", "L04", "L01"], size=len(chosen), p=[.4, .25, .2, .15])
        tx.run_many("UPDATE issue SET compound_code = :c, category_code = :k WHERE id = :i",
                    [{"c": codes[w], "k": str(k), "i": int(i)}
                     for i, w, k in zip(chosen, where, kinds, strict=True)])


@pytest.fixture(scope="module", params=["sqlite", "postgis"])
def served(request, city, tmp_path_factory):
    """One server per backend for the module, on a private copy of the city with planted
    complaints."""
    with private_server(request, tmp_path_factory, prepare=plant) as server:
        yield server


def get(server, user, path, lang=None, status=200, **params):
    with server.client(user, lang=lang) as c:
        r = c.get(path, params=params)
    assert r.status_code == status, r.text[:400]
    return r


# --- the oracle: plain SQL reads, pandas, and the rule as the README states it ------------

def tables(store) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    with store.snapshot() as tx:
        issues = pd.DataFrame(tx.rows(
            "SELECT id, compound_code, category_code, state, reported_at, overdue_steps, "
            "rework_count, rating FROM issue WHERE compound_code IS NOT NULL"))
        compounds = pd.DataFrame(tx.rows(
            "SELECT code, community_code, property_company_id AS company, households "
            "FROM compound"))
        companies = pd.DataFrame(tx.rows("SELECT id AS company, name FROM property_company"))
    issues["reported_at"] = pd.to_datetime(issues["reported_at"], utc=True, format="ISO8601")
    return issues, compounds, companies


def month_bounds(month: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    start = pd.Timestamp(month + "-01", tz="Asia/Shanghai")
    return start.tz_convert("UTC"), (start + pd.offsets.MonthBegin(1)).tz_convert("UTC")


def oracle_figures(issues, compounds, companies, start, end) -> pd.DataFrame:
    own = compounds.dropna(subset=["company"])
    homes = own.groupby("company").agg(compounds=("code", "size"), households=("households", "sum"))
    i = issues.merge(own[["code", "company"]], left_on="compound_code", right_on="code")
    i = i[i.category_code.isin(COMPLAINTS) & ~i.state.isin(["rejected", "merged"])
          & (i.reported_at >= start) & (i.reported_at < end)]
    closed = i.state == "closed"
    i = i.assign(closed=closed, on_time=closed & (i.overdue_steps == 0),
                 reworked=closed & (i.rework_count > 0), rated=closed & i.rating.notna(),
                 stars=np.where(closed, i.rating.fillna(0), 0))
    counts = i.groupby("company").agg(complaints=("id", "size"), closed=("closed", "sum"),
                                      on_time=("on_time", "sum"), reworked=("reworked", "sum"),
                                      rated=("rated", "sum"), stars=("stars", "sum"))
    out = companies.set_index("company").join(homes).join(counts).fillna(0)
    out["per_1000"] = np.where(out.households > 0, out.complaints * 1000 / out.households.where(
        out.households > 0, 1), np.nan)
    c = out.closed.where(out.closed > 0)
    out["on_time_rate"] = out.on_time / c
    out["rework_rate"] = out.reworked / c
    out["rating"] = out.stars / out.rated.where(out.rated > 0)
    return out


def oracle_rank(fig: pd.DataFrame, black_before=frozenset()) -> pd.DataFrame:
    fig = fig.copy()
    ranked = fig[(fig.households > 0) & (fig.complaints >= MIN_COMPLAINTS)].copy()
    worst = ranked.per_1000.max() if len(ranked) else 0.0

    def half(x):
        return x.fillna(0.5)
    density = 1 - ranked.per_1000 / worst if worst > 0 else pd.Series(1.0, index=ranked.index)
    ranked["score"] = (WEIGHTS["density"] * density + WEIGHTS["on_time"] * half(ranked.on_time_rate)
                       + WEIGHTS["rework"] * half(1 - ranked.rework_rate)
                       + WEIGHTS["rating"] * half((ranked.rating - 1) / 4))
    ranked = ranked.reset_index().sort_values(["score", "per_1000", "company"],
                                              ascending=[False, True, True])
    ranked["rank"] = np.arange(1, len(ranked) + 1)
    k = math.floor(len(ranked) * SHARE)
    ranked["standing"] = np.where(ranked["rank"] <= k, "red",
                                  np.where(ranked["rank"] > len(ranked) - k, "black", "middle"))
    ranked["talk"] = ((ranked.standing == "black") & ranked.company.isin(black_before)) | (
        ranked.score < TALK_SCORE)
    fig = fig.join(ranked.set_index("company")[["score", "rank", "standing", "talk"]])
    fig["standing"] = fig.standing.fillna("unranked")
    fig["talk"] = fig.talk.fillna(False).astype(bool)
    return fig


def expected(store, month: str = MONTH, before: str = BEFORE):
    issues, compounds, companies = tables(store)
    prev = oracle_rank(oracle_figures(issues, compounds, companies, *month_bounds(before)))
    now = oracle_rank(oracle_figures(issues, compounds, companies, *month_bounds(month)),
                      frozenset(prev.index[prev.standing == "black"]))
    return now, prev, compounds


def close(a, b, tol=0.006) -> bool:
    if a is None or (isinstance(b, float) and math.isnan(b)):
        return a is None and (b is None or math.isnan(b))
    return abs(a - b) <= tol


# --- the cases -------------------------------------------------------------------------

def test_the_list_equals_an_independent_aggregation(served):
    now, prev, _ = expected(served.store)
    answer = get(served, "admin", "/api/v1/property/ranking", period=MONTH).json()
    assert answer["period"] == MONTH and answer["previous_period"] == BEFORE
    lines = {c["company_id"]: c for c in answer["companies"]}
    assert set(lines) == set(now.index)  # the admin sees every company
    ranked = now.dropna(subset=["rank"]).sort_values("rank")
    assert len(ranked) >= 10, "too few ranked companies for the test to mean anything"
    assert answer["ranked"] == len(ranked)
    assert answer["list_size"] == math.floor(len(ranked) * SHARE) >= 2
    # the answer's order: ranked ones by rank, then the others
    assert [c["company_id"] for c in answer["companies"][:len(ranked)]] == list(ranked.index)
    for cid, row in now.iterrows():
        line = lines[cid]
        assert (line["compounds"], line["households"], line["complaints"], line["closed"],
                line["closed_on_time"], line["reworked"], line["rated"]) == (
            row.compounds, row.households, row.complaints, row.closed, row.on_time,
            row.reworked, row.rated), cid
        for key, tol in (("per_1000", 0.006), ("on_time_rate", 6e-5), ("rework_rate", 6e-5),
                         ("rating", 0.006), ("score", 0.006)):
            assert close(line[key], row[key], tol), (cid, key, line[key], row[key])
        assert line["standing"] == row.standing, cid
        assert line["talk_proposed"] == row.talk, cid
        assert line["rank"] == (None if math.isnan(row["rank"]) else int(row["rank"]))
        p = prev.loc[cid]
        assert line["previous"]["standing"] == p.standing
        before_rank = None if math.isnan(p["rank"]) else int(p["rank"])
        assert line["previous"]["rank"] == before_rank
        assert line["rank_change"] == (before_rank - line["rank"]
                                       if before_rank and line["rank"] else None)
        if line["score_change"] is not None:
            assert close(line["score_change"], row.score - p.score, 0.011)
    assert {c for c, line in lines.items() if line["standing"] == "red"} == set(
        ranked.index[:answer["list_size"]])
    assert answer["talk_proposals"] == [c for c in ranked.index if lines[c]["talk_proposed"]]
    assert any(c["rank_change"] for c in answer["companies"]), "no trend to compare"
    assert len(answer["rule"]) == 5 and "红榜" in " ".join(answer["rule"])


def test_dates_instead_of_a_month(served):
    issues, compounds, companies = tables(served.store)
    start = pd.Timestamp("2026-10-05", tz="Asia/Shanghai").tz_convert("UTC")
    end = pd.Timestamp("2026-10-20", tz="Asia/Shanghai").tz_convert("UTC")
    fig = oracle_figures(issues, compounds, companies, start, end)
    answer = get(served, "admin", "/api/v1/property/ranking", since="2026-10-05",
                 until="2026-10-19").json()
    assert answer["period"] == "2026-10-05..2026-10-19"
    assert answer["previous_period"] == "2026-09-20..2026-10-04"
    assert {c["company_id"]: c["complaints"] for c in answer["companies"]} == \
        fig.complaints.astype(int).to_dict()


@pytest.mark.parametrize("params, words", [
    ({"period": "2026-13"}, "YYYY-MM"), ({"period": "Oct"}, "YYYY-MM"),
    ({"since": "2026-10-05"}, "since"), ({"since": "2026-10-05", "until": "2026-10-01"}, "until"),
    ({"period": "2026-10", "since": "2026-10-01", "until": "2026-10-02"}, "period")])
def test_a_bad_period_is_a_422_in_words(served, params, words):
    body = get(served, "supervisor", "/api/v1/property/ranking", lang="en", status=422,
               **params).json()
    assert body["code"] == "invalid_period" and words in body["detail"]
    zh = get(served, "supervisor", "/api/v1/property/ranking.csv", status=422, **params).json()
    assert zh["code"] == "invalid_period" and any("\u4e00" <= ch <= "\u9fff" for ch in zh["detail"])


def test_a_property_account_sees_only_its_own_company(served):
    with served.store.snapshot() as tx:
        own = tx.one("SELECT company_id FROM app_user WHERE username = 'property'")["company_id"]
    now, _, compounds = expected(served.store)
    answer = get(served, "property", "/api/v1/property/ranking", period=MONTH).json()
    assert [c["company_id"] for c in answer["companies"]] == [own]
    line = answer["companies"][0]
    assert line["complaints"] == now.loc[own].complaints and line["standing"] == now.loc[own].standing
    page = get(served, "property", f"/api/v1/property/companies/{own}", period=MONTH).json()
    assert sorted(c["code"] for c in page["compound_list"]) == sorted(
        compounds.code[compounds.company == own])
    other = next(c for c in now.index if c != own)
    refused = get(served, "property", f"/api/v1/property/companies/{other}", status=404).json()
    assert refused["code"] == "company_not_found"
    with served.client("property") as c:
        r = c.post(f"/api/v1/property/companies/{own}/talks", json={"reason": "自己约谈自己"})
    assert r.status_code == 403
    shown = get(served, "property", "/api/v1/property/compounds", period=MONTH).json()
    assert {f["properties"]["company_id"] for f in shown["features"]} == {own}
    rows = list(csv.reader(io.StringIO(
        get(served, "property", "/api/v1/property/ranking.csv", period=MONTH).text.lstrip("\ufeff"))))
    assert len(rows) == 2 and rows[1][1] == own


def test_a_district_supervisor_sees_only_companies_with_compounds_there(served):
    _, _, compounds = expected(served.store)
    # the district with compounds of the fewest companies, so that some are out of sight
    by_district = compounds.dropna(subset=["company"]).assign(
        district=compounds.community_code.str[:6])
    district = by_district.groupby("district").company.nunique().idxmin()
    mine = set(by_district.company[by_district.district == district])
    everyone = set(by_district.company)
    assert mine and everyone - mine
    name = f"sup{district}"
    with served.store.snapshot() as tx:
        exists = tx.one("SELECT 1 AS x FROM app_user WHERE username = :u", {"u": name})
    if not exists:
        add_user(served.store, name, "demo", "supervisor", [district])
    answer = get(served, name, "/api/v1/property/ranking", period=MONTH).json()
    assert {c["company_id"] for c in answer["companies"]} == mine
    outside = sorted(everyone - mine)[0]
    get(served, name, f"/api/v1/property/companies/{outside}", status=404)
    inside = sorted(mine)[0]
    page = get(served, name, f"/api/v1/property/companies/{inside}", period=MONTH).json()
    assert page["compound_list"] and all(c["community_code"].startswith(district)
                                         for c in page["compound_list"])
    shown = get(served, name, "/api/v1/property/compounds", period=MONTH).json()
    assert shown["features"] and all(f["id"].startswith(district) for f in shown["features"])


@pytest.mark.parametrize("lang, heading", [(None, "物业公司"), ("en", "Company")])
def test_the_csv_bulletin_holds_the_same_numbers(served, lang, heading):
    answer = get(served, "admin", "/api/v1/property/ranking", lang=lang, period=MONTH).json()
    r = get(served, "admin", "/api/v1/property/ranking.csv", lang=lang, period=MONTH)
    assert r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith(b"\xef\xbb\xbf")  # Excel reads the BOM as UTF-8
    assert f"{MONTH}.csv" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert heading in rows[0] and len(rows) == len(answer["companies"]) + 1
    for row, line in zip(rows[1:], answer["companies"], strict=True):
        assert row[0] == ("" if line["rank"] is None else str(line["rank"]))
        assert row[1:3] == [line["company_id"], line["name"]]
        assert row[7] == str(line["complaints"])
        assert row[8] == ("" if line["per_1000"] is None else str(line["per_1000"]))
        if line["on_time_rate"] is not None:
            assert float(row[9]) == pytest.approx(line["on_time_rate"] * 100, abs=0.005)
        assert row[4] == ("" if line["score"] is None else str(line["score"]))


def test_a_supervisor_records_a_talk(served):
    answer = get(served, "supervisor", "/api/v1/property/ranking", period=MONTH).json()
    target = answer["companies"][-1]["company_id"]
    with served.client("supervisor", lang="en") as c:
        r = c.post(f"/api/v1/property/companies/{target}/talks",
                   json={"reason": "连续两月上黑榜，约谈物业经理", "period": MONTH})
        assert r.status_code == 201, r.text
        talk = r.json()
        assert talk["recorded_by"] == "supervisor" and talk["period"] == MONTH
        for body in ({"reason": "  "}, {"reason": "x", "period": "2026-13"},
                     {"reason": "x", "at": "2026-10-01T00:00:00Z"}):
            bad = c.post(f"/api/v1/property/companies/{target}/talks", json=body)
            assert bad.status_code == 422, (body, bad.text)
        assert c.post("/api/v1/property/companies/PC999/talks",
                      json={"reason": "x"}).status_code == 404
    page = get(served, "supervisor", f"/api/v1/property/companies/{target}", period=MONTH).json()
    assert page["talks"][0]["id"] == talk["id"]
    assert page["talks"][0]["reason"] == "连续两月上黑榜，约谈物业经理"
    with served.client("operator") as c:  # reads the list, records no talk
        assert c.post(f"/api/v1/property/companies/{target}/talks",
                      json={"reason": "x"}).status_code == 403
    get(served, "grid_worker", "/api/v1/property/ranking", status=403)
