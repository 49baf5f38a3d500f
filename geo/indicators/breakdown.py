"""Where the work is: the four networks (四张网), the top categories and the ranking of areas.

A category's network is `geo.taxonomy.Category.network`, the one place it is said; the
queries group by category and the networks are summed from that table here.
"""

from __future__ import annotations

from datetime import datetime

from geo.casework.read import is_open
from geo.casework.scope import Actor, visible_issues
from geo.store.sql import Tx
from geo.taxonomy import CATEGORIES, CATEGORY_BY_CODE, NETWORKS
from geo.workflow import OPEN_STATES, overdue_sql

TOP_CATEGORIES = 8
TOP_AREAS = 10


def by_category(tx: Tx, actor: Actor, since: datetime) -> dict[str, dict]:
    """Per category code: issues reported since `since`, and open issues now (of any age)."""
    where, params = visible_issues(actor, tx.dialect)
    out = {c.code: {"reported": 0, "open": 0} for c in CATEGORIES}
    for r in tx.rows(f"SELECT i.category_code AS code, count(*) AS n FROM issue i WHERE {where} "
                     "AND i.reported_at >= :since GROUP BY i.category_code",
                     {**params, "since": since}):
        out[r["code"]]["reported"] = int(r["n"])
    for r in tx.rows(f"SELECT i.category_code AS code, count(*) AS n FROM issue i WHERE {where} "
                     f"AND {is_open('i')} GROUP BY i.category_code", params):
        out[r["code"]]["open"] = int(r["n"])
    return out


def networks(counts: dict[str, dict]) -> list[dict]:
    """The four networks' sums of `by_category`, in the taxonomy's order."""
    out = {n: {"network": n, "reported": 0, "open": 0} for n in NETWORKS}
    for code, c in counts.items():
        net = out[CATEGORY_BY_CODE[code].network]
        net["reported"] += c["reported"]
        net["open"] += c["open"]
    return list(out.values())


def top_categories(counts: dict[str, dict], limit: int = TOP_CATEGORIES) -> list[dict]:
    """The categories with most reports in the window (then most open), at most `limit`."""
    ranked = sorted(((code, c) for code, c in counts.items() if c["reported"] or c["open"]),
                    key=lambda item: (-item[1]["reported"], -item[1]["open"], item[0]))
    return [{"category_code": code, "network": CATEGORY_BY_CODE[code].network, **c}
            for code, c in ranked[:limit]]


def ranking_level(tx: Tx, actor: Actor) -> str:
    """District when the viewer sees several districts' issues, else street."""
    where, params = visible_issues(actor, tx.dialect)
    row = tx.one(f"SELECT count(DISTINCT i.district_code) AS n FROM issue i WHERE {where} "
                 "AND i.district_code IS NOT NULL", params)
    return "district" if int(row["n"] or 0) > 1 else "street"


def ranking(tx: Tx, actor: Actor, level: str, now: datetime, since: datetime,
            limit: int = TOP_AREAS) -> list[dict]:
    """Per area (`level` street or district) of the issues reported since `since`, as
    `GET /stats?level=...&since=...` counts them: open, overdue (past the step's deadline),
    closed, closed on time; most overdue first, then most open; at most `limit` areas."""
    column = {"street": "street_code", "district": "district_code"}[level]
    table = level
    d = tx.dialect
    where, params = visible_issues(actor, d)
    rows = tx.rows(  # counted first, named after: the names are looked up per area only
        "SELECT r.*, a.name FROM (SELECT "
        f"i.{column} AS code, "
        f"sum(CASE WHEN {d.in_list('i.state', 'open_states')} THEN 1 ELSE 0 END) AS open, "
        f"sum(CASE WHEN {d.in_list('i.state', 'open_states')} AND "
        f"{overdue_sql('i.due_at', ':now')} THEN 1 ELSE 0 END) AS overdue, "
        "sum(CASE WHEN i.state = 'closed' THEN 1 ELSE 0 END) AS closed, "
        "sum(CASE WHEN i.state = 'closed' AND i.overdue_steps = 0 THEN 1 ELSE 0 END) "
        f"AS closed_on_time FROM issue i WHERE {where} AND i.{column} IS NOT NULL "
        f"AND i.reported_at >= :since GROUP BY i.{column}) r "
        f"LEFT JOIN {table} a ON a.code = r.code "
        "ORDER BY r.overdue DESC, r.open DESC, r.code LIMIT :limit",
        {**params, "open_states": list(OPEN_STATES), "now": now, "since": since,
         "limit": limit})
    out = []
    for r in rows:
        closed = int(r["closed"] or 0)
        out.append({"code": r["code"], "name": r["name"], "open": int(r["open"] or 0),
                    "overdue": int(r["overdue"] or 0), "closed": closed,
                    "closed_on_time": int(r["closed_on_time"] or 0),
                    "on_time_rate": (round(int(r["closed_on_time"] or 0) / closed, 4)
                                     if closed else None)})
    return out
