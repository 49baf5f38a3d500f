"""Open issues by light (亮灯督办) and the overdue list, as the live map shows them.

A light is `geo.workflow.light` of the issue's step start and deadline. The screen counts the
lights in SQL rather than reading every open issue: red is `workflow.overdue_sql` (the
deadline reached), yellow is a step start at or before the step's warning point, worked out
here per state and category by `workflow.warn_since` and bound as parameters, so that neither
backend does time arithmetic. Deadlines are the step's start plus `workflow.step_limit`
(intake, transitions and imports all set them so), which makes the two agree; the tests hold
the counts to the live layer's lights. The overdue list is the supervisors' list
(`GET /issues/overdue`): open issues past their step's deadline, most overdue first.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from geo.casework.read import is_open
from geo.casework.scope import Actor, visible_issues
from geo.store.sql import Dialect, Tx, as_dt
from geo.taxonomy import CATEGORIES, category_label
from geo.workflow import OPEN_STATES, WAITING_FOR, overdue_sql, warn_since

OVERDUE_TOP = 10


def _warned(d: Dialect, now: datetime) -> tuple[str, dict]:
    """An SQL condition: the issue's warning point has passed at `now`. One clause per open
    state and distinct warning instant (categories sharing a deadline share a clause)."""
    clauses, params = [], {}
    for k, state in enumerate(OPEN_STATES):
        groups: dict[datetime, list[str]] = defaultdict(list)
        for c in CATEGORIES:
            groups[warn_since(c.code, state, now)].append(c.code)
        for j, (instant, codes) in enumerate(groups.items()):
            p = f"warn_{k}_{j}"
            clause = f"i.state = :{p}_state AND i.state_since <= :{p}"
            params.update({f"{p}_state": state, p: instant})
            if len(groups) > 1:
                clause += f" AND {d.in_list('i.category_code', p + '_codes')}"
                params[f"{p}_codes"] = codes
            clauses.append(f"({clause})")
    return " OR ".join(clauses), params


def light_counts(tx: Tx, actor: Actor, now: datetime) -> dict:
    """{open, green, yellow, red} of the open issues `actor` may see."""
    d = tx.dialect
    where, params = visible_issues(actor, d)
    warned, warn_params = _warned(d, now)
    red = overdue_sql("i.due_at", ":now")
    r = tx.one(
        "SELECT count(*) AS open, "
        f"sum(CASE WHEN {red} THEN 1 ELSE 0 END) AS red, "
        f"sum(CASE WHEN {red} THEN 0 WHEN {warned} THEN 1 ELSE 0 END) AS yellow, "
        f"sum(CASE WHEN i.due_at IS NULL OR {red} OR {warned} THEN 0 ELSE 1 END) AS green "
        f"FROM issue i WHERE {where} AND {is_open('i')}",
        {**params, **warn_params, "now": now})
    return {k: int(r[k] or 0) for k in ("open", "green", "yellow", "red")}


def overdue_list(tx: Tx, actor: Actor, now: datetime, limit: int = OVERDUE_TOP) -> dict:
    """The `limit` most overdue open issues, with their grid, street, category and step, and how
    many issues are overdue in all."""
    d = tx.dialect
    where, params = visible_issues(actor, d)
    cond = (f"{where} AND {overdue_sql('i.due_at', ':now')} "
            f"AND {d.in_list('i.state', 'open_states')}")
    params = {**params, "now": now, "open_states": list(OPEN_STATES)}
    total = tx.one(f"SELECT count(*) AS n FROM issue i WHERE {cond}", params)["n"]
    rows = tx.rows(
        "SELECT i.id, i.category_code, i.state, i.due_at, i.grid_code, i.street_code, "
        "i.district_code, g.name AS grid_name, s.name AS street_name FROM issue i "
        "LEFT JOIN grid g ON g.code = i.grid_code AND g.valid_to IS NULL "
        "LEFT JOIN street s ON s.code = i.street_code "
        f"WHERE {cond} ORDER BY i.due_at, i.id LIMIT :limit", {**params, "limit": limit})
    items = []
    for r in rows:
        due = as_dt(r["due_at"])
        items.append({
            "id": r["id"], "category_code": r["category_code"],
            "category_name": category_label(r["category_code"]),
            "state": r["state"], "step": WAITING_FOR[r["state"]], "due_at": due,
            "overdue_seconds": int((now - due).total_seconds()),
            "grid_code": r["grid_code"], "grid_name": r["grid_name"],
            "street_code": r["street_code"], "street_name": r["street_name"]})
    return {"total": int(total), "items": items}
