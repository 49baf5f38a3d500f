"""Which level owns an issue, where it would start, and whether a step gone red at its level
suggests escalating it to the next one.

A step "goes red at a level" when its deadline passes while that level owns the issue, that
is after the issue's last escalation (or at any time when it was never escalated). Escalating
does not restart the step's clock, so a step that was red already when the issue came up to
this level suggests nothing more: the new owner has the issue's next deadline to act."""

from __future__ import annotations

from datetime import datetime

from geo.casework.errors import NotFound
from geo.casework.scope import Actor, visible_issues
from geo.escalation import trail
from geo.escalation.levels import default_level, level_label, next_level
from geo.i18n import _, format_datetime
from geo.store import Store
from geo.store.sql import Tx, as_dt, as_json
from geo.workflow import TERMINAL, overdue, state_label

COLUMNS = ("i.id, i.category_code, i.state, i.version, i.state_since, i.due_at, "
           "i.owner_level, i.building_code, i.compound_code, i.community_code, i.street_code")


def fetch(tx: Tx, actor: Actor, issue_id: int, lock: bool = False) -> dict:
    """The issue's row as escalation needs it, if `actor` may see it (else NotFound);
    `lock` holds it until the transaction ends."""
    where, params = visible_issues(actor, tx.dialect)
    row = tx.one(f"SELECT {COLUMNS} FROM issue i WHERE i.id = :id AND {where}"
                 f"{tx.dialect.for_update() if lock else ''}", {**params, "id": issue_id})
    if row is None:
        raise NotFound(_("no issue {issue} that you can see").format(issue=issue_id))
    return row


def escalations(tx: Tx, issue_id: int) -> list[dict]:
    """The issue's escalate entries, oldest first."""
    rows = tx.rows("SELECT at, actor, action, reason, details FROM issue_event "
                   "WHERE issue_id = :id AND action = :a ORDER BY id",
                   {"id": issue_id, "a": trail.ACTION})
    return [{**r, "at": as_dt(r["at"]), "details": as_json(r["details"])} for r in rows]


def owning_level(row: dict) -> str:
    return row["owner_level"] or default_level(row["category_code"], row["building_code"],
                                               row["compound_code"])


def suggestion(row: dict, last_escalated: datetime | None, now: datetime
               ) -> tuple[str | None, str]:
    """The level to escalate to (None: none suggested) and why, in words."""
    level = owning_level(row)
    due = as_dt(row["due_at"])
    if row["state"] in TERMINAL:
        return None, _("the issue is {state}: it is no longer owned by any level").format(
            state=state_label(row["state"]))
    higher = next_level(level)
    red = overdue(due, now)
    if red and (last_escalated is None or due > last_escalated):
        if higher is None:
            return None, _("the step went red at the city level, the highest: there is no "
                           "level to escalate to")
        return higher, _("the issue has been {state} past its deadline ({due}) while the "
                         "{level} owned it: escalate it to the {next}").format(
            state=state_label(row["state"]), due=format_datetime(due),
            level=level_label(level), next=level_label(higher))
    if red:
        return None, _("the step was red already when the issue came up to the {level}: it "
                       "has until the next deadline").format(level=level_label(level))
    return None, _("no step has gone red while the {level} owned the issue").format(
        level=level_label(level))


def describe(row: dict, events: list[dict], now: datetime) -> dict:
    """An issue's owning level, its default, the suggestion and the escalations so far."""
    level = owning_level(row)
    start = default_level(row["category_code"], row["building_code"], row["compound_code"])
    last = events[-1]["at"] if events else None
    suggested, why = suggestion(row, last, now)
    return {"issue_id": row["id"], "state": row["state"], "version": row["version"],
            "level": level, "level_name": level_label(level),
            "default_level": start, "default_level_name": level_label(start),
            "suggested_level": suggested, "suggested_level_name": level_label(suggested),
            "why": why, "escalations": trail.moves(events)}


def escalation_status(store: Store, actor: Actor, issue_id: int, now: datetime) -> dict:
    """GET /issues/{id}/escalation: the issue's level, default, suggestion and moves."""
    with store.snapshot() as tx:
        row = fetch(tx, actor, issue_id)
        events = escalations(tx, issue_id)
    return describe(row, events, now)
