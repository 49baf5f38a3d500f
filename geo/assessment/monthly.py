"""The monthly assessment (考核评价) as one answer: per team, per department and per street and
community, each ranked by its rule (geo.assessment.ranking), under the reader's jurisdiction."""

from __future__ import annotations

from datetime import datetime

from geo.assessment import figures
from geo.assessment.period import bounds, month_of
from geo.assessment.ranking import ranked, rule_text
from geo.casework.scope import Actor
from geo.i18n import TIMEZONE
from geo.store import Store

KINDS = ("teams", "departments", "streets", "communities")
MAX_ROWS = 1000


def assessment(store: Store, actor: Actor, month: str | None, now: datetime,
               limit: int = MAX_ROWS) -> dict:
    """The month's figures and rankings (`month` '2026-11'; None: the month of `now`)."""
    month = month or month_of(now)
    start, end = bounds(month)
    with store.snapshot() as tx:
        kinds = {
            "teams": ranked(figures.teams(tx, actor, start, end), "casework"),
            "departments": ranked(figures.departments(tx, actor, start, end, now),
                                  "departments"),
            "streets": ranked(figures.areas(tx, actor, "street", start, end), "casework"),
            "communities": ranked(figures.areas(tx, actor, "community", start, end),
                                  "casework"),
        }
    limit = max(1, min(limit, MAX_ROWS))
    return {"month": month, "from": start, "until": end, "timezone": str(TIMEZONE),
            "rules": {"casework": rule_text("casework"),
                      "departments": rule_text("departments")},
            **{k: {"total": len(rows), "items": rows[:limit]} for k, rows in kinds.items()}}
