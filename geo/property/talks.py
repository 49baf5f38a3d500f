"""Talks (约谈) recorded with property companies: who called the company in, when, why, over
which period's list."""

from __future__ import annotations

from datetime import datetime

from geo.casework.errors import Forbidden, InvalidInput
from geo.casework.scope import Actor
from geo.i18n import _
from geo.property.figures import known_company
from geo.property.period import from_label
from geo.store.sql import Tx, as_dt
from geo.workflow import role_label

TALK_ROLES = ("supervisor", "admin")
MAX_REASON = 2000


def latest(tx: Tx, company_id: str, limit: int) -> list[dict]:
    rows = tx.rows("SELECT id, company_id, at, recorded_by, reason, period FROM property_talk "
                   "WHERE company_id = :c ORDER BY at DESC, id DESC LIMIT :n",
                   {"c": company_id, "n": limit})
    return [{**r, "at": as_dt(r["at"])} for r in rows]


def record(store, actor: Actor, company_id: str, reason: str, period: str | None,
           now: datetime) -> dict:
    """Record a talk with a company `actor` may see (supervisors and administrators), about
    the list of `period` (a label: '2026-10' or '2026-10-01..2026-10-15'; by default the last
    whole month)."""
    if actor.role not in TALK_ROLES:
        raise Forbidden(_("only supervisors and administrators record talks with property "
                          "companies, not role {role}").format(role=role_label(actor.role)),
                        code="role_not_allowed")
    label = from_label(period, now).label
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON:
        raise InvalidInput(_("a talk needs a reason of 1 to {n} characters").format(
            n=MAX_REASON), code="invalid_reason")
    with store.tx() as tx:
        known_company(tx, actor, company_id)
        row = tx.one("INSERT INTO property_talk (company_id, at, recorded_by, reason, period) "
                     "VALUES (:c, :at, :by, :reason, :period) "
                     "RETURNING id, company_id, at, recorded_by, reason, period",
                     {"c": company_id, "at": now, "by": actor.username, "reason": reason,
                      "period": label})
    return {**row, "at": as_dt(row["at"])}
