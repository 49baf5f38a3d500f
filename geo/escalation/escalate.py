"""Escalate an issue (升级/上报): its owning level moves up, in one transaction on the locked
issue, with an audit entry. An escalation goes up only, never past the city, and never on a
finished case; If-Match is honoured as by the loop's transitions (geo.casework.transitions):
of two escalations decided on the same version, one wins and the other is a 412."""

from __future__ import annotations

from datetime import datetime

from geo.casework.errors import InvalidInput, PreconditionFailed, StateConflict
from geo.casework.scope import Actor
from geo.escalation import status, trail
from geo.escalation.levels import LEVELS, level_label, next_level, rank
from geo.i18n import _
from geo.store import Store
from geo.store.sql import as_dt
from geo.workflow import TERMINAL, allowed_actions, labels, state_label

MAX_REASON = 2000


def _check(reason: str, to_level: str | None) -> None:
    if not reason.strip():
        raise InvalidInput(_("an escalation needs a reason: why this level cannot solve it"),
                           code="reason_required")
    if len(reason) > MAX_REASON:
        raise InvalidInput(_("reason is longer than {n} characters").format(n=MAX_REASON))
    if to_level is not None and to_level not in LEVELS:
        raise InvalidInput(_("unknown level {level}; expected one of {levels}").format(
            level=to_level, levels=", ".join(LEVELS)), code="unknown_level")


def _target(row: dict, current: str, to_level: str | None) -> str:
    """The level asked for (the next one by default), or the refusal in words."""
    state = row["state"]
    if state in TERMINAL:
        raise StateConflict(_("issue {issue} is {state}: a finished case is not escalated")
                            .format(issue=row["id"], state=state_label(state)),
                            allowed_actions(state), state, code="issue_finished")
    higher = next_level(current)
    if higher is None:
        raise StateConflict(_("issue {issue} is owned by the city, the highest level: it "
                              "cannot be escalated further").format(issue=row["id"]),
                            allowed_actions(state), state, code="past_city")
    target = to_level or higher
    if rank(target) <= rank(current):
        raise StateConflict(_("issue {issue} is owned by the {level}: an escalation goes up, "
                              "to the {levels}").format(
            issue=row["id"], level=level_label(current),
            levels=labels(LEVELS[rank(current) + 1:], level_label)),
            allowed_actions(state), state, code="not_upwards")
    return target


def escalate(store: Store, actor: Actor, issue_id: int, reason: str, now: datetime,
             to_level: str | None = None, expected_version: int | None = None) -> dict:
    """Move the issue's owning level up (to `to_level`, else the next level); returns the
    issue's escalation status afterwards (geo.escalation.status.describe)."""
    _check(reason, to_level)
    with store.tx() as tx:
        row = status.fetch(tx, actor, issue_id, lock=True)
        if expected_version is not None and row["version"] != expected_version:
            raise PreconditionFailed(_(
                "issue {issue} changed since you loaded it (version {expected}): it is now "
                "version {version}, {state}; reload it and decide again").format(
                    issue=issue_id, expected=expected_version, version=row["version"],
                    state=state_label(row["state"])))
        events = status.escalations(tx, issue_id)
        last = tx.one("SELECT max(at) AS at FROM issue_event WHERE issue_id = :id",
                      {"id": issue_id})
        # After the trail's last entry, whatever this process's clock says (as transitions).
        now = max(now, as_dt(last["at"]) or now)
        current = status.owning_level(row)
        target = _target(row, current, to_level)
        suggested, _why = status.suggestion(row, events[-1]["at"] if events else None, now)
        changed = tx.run("UPDATE issue SET owner_level = :to, version = version + 1, "
                         "updated_at = :now WHERE id = :id AND version = :version",
                         {"to": target, "now": now, "id": issue_id, "version": row["version"]})
        if not changed:  # unreachable under the row lock; kept as the write's own guard
            raise StateConflict(_("issue {issue} changed while you were acting: it is now "
                                  "{state}").format(issue=issue_id,
                                                    state=state_label(row["state"])),
                                allowed_actions(row["state"]), row["state"])
        tx.run("INSERT INTO issue_event (issue_id, at, actor, action, from_state, to_state, "
               "reason, details) VALUES (:id, :now, :actor, :action, :s, :s, :reason, :d)",
               {"id": issue_id, "now": now, "actor": actor.username, "action": trail.ACTION,
                "s": row["state"], "reason": reason,
                "d": {"from_level": current, "to_level": target,
                      "suggested": suggested == target}})
        after = status.fetch(tx, actor, issue_id)
        events = status.escalations(tx, issue_id)
    return status.describe(after, events, now)

