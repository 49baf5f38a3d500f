"""The six-step closed loop (六步接办) as a state machine, with step deadlines and lights.

report → accept (or reject, or merge into a duplicate) → dispatch (one team or a joint
operation) → claim → resolve → check (pass, or rework) → rate → closed. Dispatch can be
returned (wrong team) or reassigned. Each open state has a deadline per category; an issue's
light is green below 80% of its step's time, yellow up to 100%, red past the deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from geo.i18n import N_, _, label
from geo.taxonomy import category

STATES = ("reported", "accepted", "dispatched", "claimed", "resolved", "checked",
          "closed", "rejected", "merged")
TERMINAL = ("closed", "rejected", "merged")
OPEN_STATES = tuple(s for s in STATES if s not in TERMINAL)
BUSY_STATES = ("dispatched", "claimed")  # a team assigned to the issue still has work on it

# Which of the six steps each state is waiting for (the step that the deadline governs).
WAITING_FOR = {
    "reported": "accept",
    "accepted": "dispatch",
    "dispatched": "claim",
    "claimed": "handle",
    "resolved": "supervise",
    "checked": "rate",
}

ROLES = ("grid_worker", "citizen", "operator", "dispatcher", "team", "supervisor", "planner",
         "admin", "device", "mediator", "property", "department")

# The machine values in words, for sentences a person reads (the JSON keeps the values).
STATE_LABELS = {"reported": N_("reported"), "accepted": N_("accepted"),
                "dispatched": N_("dispatched"), "claimed": N_("claimed"),
                "resolved": N_("resolved"), "checked": N_("checked"), "closed": N_("closed"),
                "rejected": N_("rejected"), "merged": N_("merged")}
ACTION_LABELS = {"accept": N_("accept"), "reject": N_("reject"), "merge": N_("merge"),
                 "dispatch": N_("dispatch"), "reassign": N_("reassign"), "return": N_("return"),
                 "claim": N_("claim"), "resolve": N_("resolve"), "check": N_("check"),
                 "rate": N_("rate"), "close": N_("close"), "escalate": N_("escalate"),
                 "whistle": N_("blow the whistle")}
ROLE_LABELS = {"grid_worker": N_("grid worker"), "citizen": N_("citizen"),
               "operator": N_("command-centre operator"), "dispatcher": N_("dispatcher"),
               "team": N_("team member"), "supervisor": N_("supervisor"),
               "planner": N_("planner"), "admin": N_("administrator"), "device": N_("device"),
               "mediator": N_("mediator"), "property": N_("property company"),
               "department": N_("department")}


def state_label(state: str) -> str:
    """An issue state in the reader's language (the value itself if unknown)."""
    return label(STATE_LABELS, state)


def action_label(action: str) -> str:
    """An action in the reader's language (the value itself if unknown)."""
    return label(ACTION_LABELS, action)


def role_label(role: str) -> str:
    """A role in the reader's language (the value itself if unknown)."""
    return label(ROLE_LABELS, role)


def labels(values, word) -> str:
    """Several values in words (`word` of each), as a list in the reader's language."""
    # TRANSLATORS: separates the items of a list in a sentence, as ", " does in English.
    return _(", ").join(word(v) for v in values)


@dataclass(frozen=True)
class Action:
    """A transition: the states it leaves from, the state it enters, who may take it."""

    name: str
    sources: tuple[str, ...]
    target: str | None  # None: the target depends on the request (check: pass or rework)
    roles: tuple[str, ...]
    needs_reason: bool = False
    summary: str = ""


ACTIONS: dict[str, Action] = {a.name: a for a in (
    Action("accept", ("reported",), "accepted", ("operator", "dispatcher", "supervisor", "admin"),
           summary="the platform accepts the report (平台接单)"),
    Action("reject", ("reported",), "rejected", ("operator", "dispatcher", "supervisor", "admin"),
           needs_reason=True, summary="the report is not a case (reason required)"),
    Action("merge", ("reported", "accepted"), "merged",
           ("operator", "dispatcher", "supervisor", "admin"),
           summary="the report duplicates an open issue of the same category"),
    Action("dispatch", ("accepted",), "dispatched", ("dispatcher", "supervisor", "admin"),
           summary="assign one team, or several for a joint operation (指挥中心派单)"),
    Action("reassign", ("dispatched", "claimed"), "dispatched", ("dispatcher", "supervisor", "admin"),
           needs_reason=True, summary="replace the assigned teams"),
    Action("return", ("dispatched", "claimed"), "accepted", ("team", "dispatcher", "admin"),
           needs_reason=True, summary="send back to dispatch: wrong team"),
    Action("claim", ("dispatched",), "claimed", ("team", "admin"),
           summary="an assigned team takes the work (部门领单)"),
    Action("resolve", ("claimed",), "resolved", ("team", "admin"),
           summary="the team reports the work done"),
    Action("check", ("resolved",), None, ("supervisor", "admin"),
           summary="supervision checks the result: pass, or rework (市委督单)"),
    Action("rate", ("checked",), "closed", ("citizen", "operator", "admin"),
           summary="the reporter rates the result, which closes the case (群众评单)"),
    Action("close", ("checked",), "closed", ("supervisor", "admin"), needs_reason=True,
           summary="close without a rating (the reporter gave none in time)"),
)}

# Minutes allowed in each open state, for any category; `handle` comes from the category.
_STEP_MINUTES = {"reported": 30, "accepted": 30, "dispatched": 30, "resolved": 24 * 60,
                 "checked": 72 * 60}


class TransitionError(Exception):
    """An action that the issue's state does not allow; lists the actions that are allowed."""

    def __init__(self, action: str, state: str):
        self.action, self.state = action, state
        self.allowed = allowed_actions(state)
        message = (_("cannot {action} an issue that is {state}; allowed now: {actions}")
                   if self.allowed else
                   _("cannot {action} an issue that is {state}; allowed now: none (the case is "
                     "finished)"))
        super().__init__(message.format(action=action_label(action), state=state_label(state),
                                        actions=labels(self.allowed, action_label)))


def allowed_actions(state: str) -> list[str]:
    """Actions that may be taken from a state (by someone; roles are checked separately)."""
    return [a.name for a in ACTIONS.values() if state in a.sources]


def target_state(action: str, state: str, passed: bool | None = None) -> str:
    """The state an action leads to from `state`, or TransitionError."""
    a = ACTIONS[action]
    if state not in a.sources:
        raise TransitionError(action, state)
    if a.target is None:  # check: pass → checked, fail → back to the team (rework)
        return "checked" if passed else "claimed"
    return a.target


def step_limit(category_code: str, state: str) -> timedelta | None:
    """How long an issue of this category may stay in `state`; None for finished states."""
    if state in TERMINAL:
        return None
    if state == "claimed":
        return timedelta(hours=category(category_code).handle_hours)
    return timedelta(minutes=_STEP_MINUTES[state])


def due_at(category_code: str, state: str, since: datetime) -> datetime | None:
    limit = step_limit(category_code, state)
    return None if limit is None else since + limit


def expected_close(category_code: str, reported_at: datetime) -> datetime:
    """When a case reported now should be handled if every step keeps its deadline."""
    total = sum((step_limit(category_code, s) for s in ("reported", "accepted", "dispatched",
                                                         "claimed")), timedelta())
    return reported_at + total


WARN_SHARE = 0.8  # a step's light turns yellow once this share of its time is used


def overdue(due: datetime | None, now: datetime) -> bool:
    """Whether a step due at `due` is overdue at `now`: from its deadline on, the deadline's own
    instant included. The one rule for lights, lists, counts and late steps; SQL says it with
    `overdue_sql`."""
    return due is not None and now >= due


def overdue_sql(due: str, now: str) -> str:
    """`overdue` as an SQL condition: `due` a column, `now` a bound parameter (":now")."""
    return f"{due} <= {now}"


def warn_since(category_code: str, state: str, now: datetime) -> datetime | None:
    """The latest step start at which a step of this category in `state` is at least yellow at
    `now` (its warning point passed), for counting lights in SQL with bound parameters."""
    limit = step_limit(category_code, state)
    return None if limit is None else now - limit * WARN_SHARE


def light(state: str, since: datetime, due: datetime | None, now: datetime) -> str | None:
    """green (< 80% of the step's time used), yellow (80-100%), red (overdue); None if finished."""
    if state in TERMINAL or due is None:
        return None
    if overdue(due, now):
        return "red"
    span = (due - since).total_seconds()
    used = (now - since).total_seconds()
    return "yellow" if used >= WARN_SHARE * span else "green"
