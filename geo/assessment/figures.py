"""The assessment's figures for one month, under the reader's jurisdiction (in SQL).

Areas (streets, communities) and teams are assessed on the issues closed in the month: an
issue is a team's when the team is its active lead assignment, an area's when it lies there.
- closed: issues closed (结案) in the month; on time (按时结案) with no step past its deadline
  (`overdue_steps = 0`, as the national indicators count it); reworked (返工) after at least one
  failed check; the mean of the citizens' ratings (满意度, 1-5) of those rated;
- escalations received: `escalate` entries of the issues' trails in the month, on the issues
  that lie in the area or are the team's now;
- whistles: those called in the month in the area.
Departments are assessed on the units of the whistles called in the month that called them:
- report-ins due: units that reported in or whose deadline has passed; on time (按时报到): those
  that reported in before their deadline; missed: still not reported in past it; late: reported
  after it; parts done and done on time; the mean of their ratings at the evaluation;
- escalations received: `escalate` entries in the month on the issues whose whistle called them.
"""

from __future__ import annotations

from datetime import datetime

from geo.casework.scope import Actor, visible_issues
from geo.store.sql import Tx

AREA_COLUMNS = {"street": "street_code", "community": "community_code"}
NAMES = {"street": "street", "community": "community"}


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _mean(value) -> float | None:
    return None if value is None else round(float(value), 2)


def _closed_sql(group: str, join: str, where: str) -> str:
    return (f"SELECT {group} AS code, count(*) AS closed, "
            "sum(CASE WHEN i.overdue_steps = 0 THEN 1 ELSE 0 END) AS on_time, "
            "sum(CASE WHEN i.rework_count > 0 THEN 1 ELSE 0 END) AS reworked, "
            "count(i.rating) AS rated, avg(i.rating * 1.0) AS mean_rating "
            f"FROM issue i{join} WHERE {where} AND i.state = 'closed' "
            f"AND i.closed_at >= :start AND i.closed_at < :end AND {group} IS NOT NULL "
            f"GROUP BY {group}")


def _escalations_sql(group: str, join: str, where: str) -> str:
    return (f"SELECT {group} AS code, count(DISTINCT e.id) AS n FROM issue_event e "
            f"JOIN issue i ON i.id = e.issue_id{join} WHERE {where} AND e.action = 'escalate' "
            f"AND e.at >= :start AND e.at < :end AND {group} IS NOT NULL GROUP BY {group}")


def _casework(tx: Tx, group: str, join: str, where: str, params: dict) -> dict[str, dict]:
    """Closed issues and escalations per `group` (an SQL expression over i and its joins)."""
    out: dict[str, dict] = {}
    for r in tx.rows(_closed_sql(group, join, where), params):
        closed, on_time, reworked = int(r["closed"]), int(r["on_time"]), int(r["reworked"])
        out[r["code"]] = {"code": r["code"], "closed": closed, "closed_on_time": on_time,
                          "on_time_rate": _rate(on_time, closed), "reworked": reworked,
                          "rework_rate": _rate(reworked, closed), "rated": int(r["rated"]),
                          "mean_rating": _mean(r["mean_rating"]), "escalations": 0}
    for r in tx.rows(_escalations_sql(group, join, where), params):
        row = out.setdefault(r["code"], {
            "code": r["code"], "closed": 0, "closed_on_time": 0, "on_time_rate": None,
            "reworked": 0, "rework_rate": None, "rated": 0, "mean_rating": None,
            "escalations": 0})
        row["escalations"] = int(r["n"])
    return out


def areas(tx: Tx, actor: Actor, level: str, start: datetime, end: datetime) -> list[dict]:
    """Per street or community of the reader's issues."""
    column = f"i.{AREA_COLUMNS[level]}"
    where, params = visible_issues(actor, tx.dialect)
    params = {**params, "start": start, "end": end}
    out = _casework(tx, column, "", where, params)
    for r in tx.rows(f"SELECT w.{AREA_COLUMNS[level]} AS code, count(*) AS n FROM whistle w "
                     f"JOIN issue i ON i.id = w.issue_id WHERE {where} AND w.called_at >= :start "
                     f"AND w.called_at < :end AND w.{AREA_COLUMNS[level]} IS NOT NULL "
                     f"GROUP BY w.{AREA_COLUMNS[level]}", params):
        if r["code"] in out:
            out[r["code"]]["whistles"] = int(r["n"])
    names = _names(tx, NAMES[level], "code", list(out))
    return [{**row, "name": names.get(code, ""), "whistles": row.get("whistles", 0)}
            for code, row in out.items()]


def teams(tx: Tx, actor: Actor, start: datetime, end: datetime) -> list[dict]:
    """Per team, of the reader's issues that are the team's (its active lead assignment)."""
    where, params = visible_issues(actor, tx.dialect)
    params = {**params, "start": start, "end": end, "yes": True}
    join = " JOIN assignment a ON a.issue_id = i.id AND a.lead = :yes AND a.active = :yes"
    out = _casework(tx, "a.team_id", join, where, params)
    info = {r["id"]: r for r in tx.rows(
        f"SELECT id, name, kind FROM team WHERE {tx.dialect.in_list('id', 'ids')}",
        {"ids": list(out)})} if out else {}
    return [{**row, "name": info.get(code, {}).get("name", ""),
             "team_kind": info.get(code, {}).get("kind", "")} for code, row in out.items()]


def departments(tx: Tx, actor: Actor, start: datetime, end: datetime,
                now: datetime) -> list[dict]:
    """Per department called by the whistles of the month on the reader's issues."""
    where, params = visible_issues(actor, tx.dialect)
    params = {**params, "start": start, "end": end, "now": now, "no": False, "yes": True}
    rows = tx.rows(
        "SELECT u.department_id AS code, count(*) AS called, "
        "sum(CASE WHEN u.reported_in_at IS NOT NULL OR u.report_in_due <= :now THEN 1 ELSE 0 "
        "END) AS due, "
        "sum(CASE WHEN u.reported_in_late = :no THEN 1 ELSE 0 END) AS on_time, "
        "sum(CASE WHEN u.reported_in_late = :yes THEN 1 ELSE 0 END) AS late, "
        "sum(CASE WHEN u.reported_in_at IS NULL AND u.report_in_due <= :now THEN 1 ELSE 0 END) "
        "AS missed, "
        "sum(CASE WHEN u.done_at IS NOT NULL THEN 1 ELSE 0 END) AS done, "
        "sum(CASE WHEN u.done_late = :no THEN 1 ELSE 0 END) AS done_on_time, "
        "count(u.rating) AS rated, avg(u.rating * 1.0) AS mean_rating "
        "FROM whistle_unit u JOIN whistle w ON w.id = u.whistle_id "
        f"JOIN issue i ON i.id = w.issue_id WHERE {where} AND w.called_at >= :start "
        "AND w.called_at < :end GROUP BY u.department_id", params)
    escalated = {r["code"]: int(r["n"]) for r in tx.rows(
        "SELECT u.department_id AS code, count(DISTINCT e.id) AS n FROM issue_event e "
        "JOIN issue i ON i.id = e.issue_id JOIN whistle w ON w.issue_id = e.issue_id "
        f"JOIN whistle_unit u ON u.whistle_id = w.id WHERE {where} AND e.action = 'escalate' "
        "AND e.at >= :start AND e.at < :end GROUP BY u.department_id", params)}
    codes = [r["code"] for r in rows]
    info = {r["id"]: r for r in tx.rows(
        f"SELECT id, name, kind, area_code FROM department WHERE "
        f"{tx.dialect.in_list('id', 'ids')}", {"ids": codes})} if codes else {}
    out = []
    for r in rows:
        n = {k: int(r[k] or 0) for k in ("called", "due", "on_time", "late", "missed", "done",
                                         "done_on_time", "rated")}
        d = info.get(r["code"], {})
        out.append({"code": r["code"], "name": d.get("name", ""), "kind": d.get("kind", ""),
                    "area_code": d.get("area_code", ""), **{
                        "called": n["called"], "report_ins_due": n["due"],
                        "reported_in_on_time": n["on_time"], "reported_in_late": n["late"],
                        "missed_report_in": n["missed"],
                        "on_time_report_in_rate": _rate(n["on_time"], n["due"]),
                        "parts_done": n["done"], "parts_on_time": n["done_on_time"],
                        "on_time_part_rate": _rate(n["done_on_time"], n["done"]),
                        "rated": n["rated"], "mean_rating": _mean(r["mean_rating"]),
                        "escalations": escalated.get(r["code"], 0)}})
    return out


def _names(tx: Tx, table: str, key: str, codes: list[str]) -> dict[str, str]:
    if not codes:
        return {}
    return {r["code"]: r["name"] for r in tx.rows(
        f"SELECT {key} AS code, name FROM {table} WHERE {tx.dialect.in_list(key, 'codes')}",
        {"codes": codes})}
