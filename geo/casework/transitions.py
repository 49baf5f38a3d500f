"""Steps 2-6: move an issue through the loop, one audited transition at a time.

A transition first locks the rows it decides on: the issue, the issue a merge points to
(both in ascending id order, so that two merges of one pair cannot deadlock), the mode and
the teams a dispatch names (dispatch.py). It then checks them as they are, not as they were
when the request arrived, and writes with a conditional UPDATE on (id, version, state). Of
two concurrent requests one goes first; the other then sees its outcome and gets a 409 that
says what the issue is now. A request that names the version it was decided on (If-Match)
is refused with a 412 as soon as the locked issue has another one: two dispatchers who
looked at the same issue cannot both act on it, whatever the second one asks for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from geo.casework import read
from geo.casework.dispatch import check_teams, mode_for_dispatch
from geo.casework.errors import Forbidden, InvalidInput, NotFound, PreconditionFailed, StateConflict
from geo.casework.scope import Actor
from geo.i18n import _
from geo.store import Store
from geo.store.sql import Tx, as_dt
from geo.workflow import (
    ACTIONS,
    TERMINAL,
    TransitionError,
    action_label,
    allowed_actions,
    due_at,
    labels,
    overdue,
    role_label,
    state_label,
    target_state,
)

MAX_REASON = 2000


@dataclass(frozen=True)
class Move:
    """What the caller asks for: an action and the details some actions need."""

    action: str
    reason: str = ""
    team_ids: tuple[str, ...] = ()  # dispatch, reassign: the first is the lead team
    duplicate_of: int | None = None  # merge
    passed: bool | None = None  # check
    rating: int | None = None  # rate
    team_id: str | None = None  # claim by an admin on a team's behalf
    details: dict = field(default_factory=dict)
    expected_version: int | None = None  # If-Match: the version the caller decided on


def _check_request(actor: Actor, move: Move) -> None:
    action = ACTIONS.get(move.action)
    if action is None:
        raise InvalidInput(_("unknown action {action}; expected one of {actions}").format(
            action=move.action, actions=", ".join(ACTIONS)), code="unknown_action")
    if actor.role not in action.roles:
        raise Forbidden(_("role {role} may not {action}; roles that may: {roles}").format(
            role=role_label(actor.role), action=action_label(move.action),
            roles=labels(action.roles, role_label)),
            code="role_not_allowed")
    if len(move.reason) > MAX_REASON:
        raise InvalidInput(_("reason is longer than {n} characters").format(n=MAX_REASON))
    if action.needs_reason and not move.reason.strip():
        raise InvalidInput(_("{action} needs a reason").format(action=action_label(move.action)),
                           code="reason_required")
    if move.action == "check":
        if move.passed is None:
            raise InvalidInput(_("check needs passed: true (accept the result) or false "
                                 "(rework)"))
        if not move.passed and not move.reason.strip():
            raise InvalidInput(_("a failed check needs a reason: what must be reworked"),
                               code="reason_required")
    if move.action == "rate" and (move.rating is None or not 1 <= move.rating <= 5):
        raise InvalidInput(_("rate needs a rating from 1 to 5"))
    if move.action == "merge" and move.duplicate_of is None:
        raise InvalidInput(_("merge needs duplicate_of: the id of the open issue this one "
                             "repeats"))
    if move.action in ("dispatch", "reassign") and not move.team_ids:
        raise InvalidInput(_("{action} needs team_ids (the first is the lead team)").format(
            action=action_label(move.action)))


def _acting_team(tx: Tx, actor: Actor, issue_id: int, move: Move) -> str:
    """The team a claim/resolve/return is made for; it must be assigned to the issue."""
    team = actor.team_id if actor.role == "team" else move.team_id
    if team is None:
        raise InvalidInput(_("{action} on behalf of a team needs team_id").format(
            action=action_label(move.action)))
    row = tx.one("SELECT team_id FROM assignment WHERE issue_id = :id AND team_id = :t "
                 "AND active = :yes", {"id": issue_id, "t": team, "yes": True})
    if row is None:
        raise Forbidden(_("team {team} is not assigned to issue {issue}").format(
            team=team, issue=issue_id), code="team_not_assigned")
    return team


def _lock_issues(tx: Tx, ids: list[int]) -> None:
    """Row locks on the issues a transition decides on, in ascending id order."""
    d = tx.dialect
    tx.rows(f"SELECT id FROM issue WHERE {d.in_list('id', 'ids')} ORDER BY id{d.for_update()}",
            {"ids": sorted(set(ids))})


def _check_version(issue: dict, expected: int | None) -> None:
    """The issue (locked) must still be at the version the caller decided on."""
    if expected is not None and issue["version"] != expected:
        raise PreconditionFailed(_(
            "issue {issue} changed since you loaded it (version {expected}): it is now version "
            "{version}, {state}; reload it and decide again").format(
                issue=issue["id"], expected=expected, version=issue["version"],
                state=state_label(issue["state"])))


def _check_duplicate(tx: Tx, actor: Actor, issue: dict, other_id: int) -> None:
    """The merge target must be open now (it is locked): a target merged meanwhile, even
    into this very issue, would close a cycle that nobody acts on."""
    if other_id == issue["id"]:
        raise InvalidInput(_("an issue cannot be merged into itself"))
    try:
        other = read.fetch(tx, actor, other_id)
    except NotFound:
        raise InvalidInput(_("duplicate_of: no issue {issue} that you can see").format(
            issue=other_id)) from None
    if other["state"] in TERMINAL:
        message = (_("issue {issue} is {state} into {target}: merge into an open issue")
                   if other["duplicate_of"] else
                   _("issue {issue} is {state}: merge into an open issue"))
        raise StateConflict(message.format(issue=other_id, state=state_label(other["state"]),
                                           target=other["duplicate_of"]),
                            allowed_actions(issue["state"]), issue["state"],
                            code="merge_target_closed")
    if other["category_code"] != issue["category_code"]:
        raise InvalidInput(_("issue {issue} has category {category}, not {own}").format(
            issue=other_id, category=other["category_code"], own=issue["category_code"]),
            code="category_mismatch")


def apply(store: Store, actor: Actor, issue_id: int, move: Move, now: datetime) -> dict:
    """Take `move` on the issue; returns the issue as it is afterwards."""
    _check_request(actor, move)
    with store.tx() as tx:
        _lock_issues(tx, [issue_id, move.duplicate_of] if move.action == "merge" else [issue_id])
        issue = read.fetch(tx, actor, issue_id)
        state = issue["state"]
        _check_version(issue, move.expected_version)
        # A request that waited for the lock comes after the step it waited for, whatever
        # this process's clock says: the audit trail's times never run backwards.
        now = max(now, as_dt(issue["state_since"]) or now)
        try:
            target = target_state(move.action, state, move.passed)
        except TransitionError as exc:
            raise StateConflict(str(exc), exc.allowed, state) from None
        details = dict(move.details)
        changes = {}
        team = None
        if move.action in ("claim", "resolve") or (move.action == "return"
                                                  and actor.role == "team"):
            team = _acting_team(tx, actor, issue_id, move)
            details["team_id"] = team
        if move.action == "merge":
            _check_duplicate(tx, actor, issue, move.duplicate_of)
            changes["duplicate_of"] = move.duplicate_of
            details["duplicate_of"] = move.duplicate_of
        if move.action in ("dispatch", "reassign"):
            check_teams(tx, issue, list(move.team_ids), mode_for_dispatch(tx))
            details["team_ids"] = list(move.team_ids)
            details["joint"] = len(move.team_ids) > 1
        if move.action == "check":
            details["passed"] = move.passed
            if not move.passed:
                changes["rework_count"] = issue["rework_count"] + 1
        if move.action == "rate":
            changes["rating"] = move.rating
            details["rating"] = move.rating
        late = int(overdue(as_dt(issue["due_at"]), now))
        sets = ", ".join(f"{c} = :{c}" for c in changes)
        updated = tx.rows(
            "UPDATE issue SET state = :to, version = version + 1, state_since = :now, "
            "due_at = :due, updated_at = :now, closed_at = :closed, "
            f"overdue_steps = overdue_steps + :late{', ' + sets if sets else ''} "
            "WHERE id = :id AND version = :version AND state = :from "
            f"RETURNING {read.issue_columns(tx.dialect, 'issue')}",
            {"to": target, "now": now, "due": due_at(issue["category_code"], target, now),
             "closed": now if target in TERMINAL else None, "late": late, "id": issue_id,
             "version": issue["version"], "from": state, **changes})
        if not updated:
            now_state = read.fetch(tx, actor, issue_id)["state"]
            raise StateConflict(_("issue {issue} changed while you were acting: it is now "
                                  "{state}").format(issue=issue_id,
                                                    state=state_label(now_state)),
                                allowed_actions(now_state), now_state)
        if move.action in ("dispatch", "reassign", "return"):
            tx.run("UPDATE assignment SET active = :no WHERE issue_id = :id AND active = :yes",
                   {"id": issue_id, "yes": True, "no": False})
        if move.action in ("dispatch", "reassign"):
            for n, tid in enumerate(move.team_ids):
                tx.run("INSERT INTO assignment (issue_id, team_id, lead, assigned_at, "
                       "assigned_by, active) VALUES (:id, :t, :lead, :now, :by, :yes)",
                       {"id": issue_id, "t": tid, "lead": n == 0, "now": now,
                        "by": actor.username, "yes": True})
        tx.run("INSERT INTO issue_event (issue_id, at, actor, action, from_state, to_state, "
               "reason, details) VALUES (:id, :now, :actor, :action, :from, :to, :reason, :d)",
               {"id": issue_id, "now": now, "actor": actor.username, "action": move.action,
                "from": state, "to": target, "reason": move.reason, "d": details})
        teams = read.assignments(tx, [issue_id]).get(issue_id, [])
    return read.present(updated[0], now, actor, teams)
