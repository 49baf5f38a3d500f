"""The whistle's rules, pure: its deadlines, the steps a called unit goes through and its light.

A called unit first owes its report-in (报到) by `report_in_due`, then its part (落实/反馈) by
`part_due`; a unit that has reported its part owes nothing. Its light follows the loop's rule
(geo.workflow): green below 80% of the step's time, yellow up to the deadline, red from it on.
A unit still not reported in at its deadline is a missed report-in: red, and counted."""

from __future__ import annotations

from datetime import datetime, timedelta

from geo.i18n import N_, label
from geo.workflow import WARN_SHARE, overdue

REPORT_IN_MINUTES = 120  # default report-in deadline after the whistle (2 h)
PART_HOURS = 48  # default deadline for each unit's part after the whistle
MAX_REPORT_IN_MINUTES = 24 * 60
MAX_PART_HOURS = 30 * 24
MAX_UNITS = 10  # departments one whistle may call
MAX_TEXT = 2000  # reasons, plans, tasks, feedback, evaluations

STATES = ("called", "consulted", "evaluated")
STATE_LABELS = {"called": N_("called"), "consulted": N_("consulted"),
                "evaluated": N_("evaluated")}
# What a unit owes next: its step.
STEP_LABELS = {"report_in": N_("report in"), "act": N_("act and feed back"),
               "done": N_("part reported done")}
ACTION_LABELS = {"call": N_("blow the whistle"), "report_in": N_("report in"),
                 "consult": N_("consult"), "done": N_("report the part done"),
                 "evaluate": N_("evaluate")}


def state_label(state: str) -> str:
    return label(STATE_LABELS, state)


def step_label(step: str) -> str:
    return label(STEP_LABELS, step)


def action_label(action: str) -> str:
    return label(ACTION_LABELS, action)


def deadlines(called_at: datetime, report_in_minutes: int, part_hours: int
              ) -> tuple[datetime, datetime]:
    """(report_in_due, part_due) of a unit called at `called_at`."""
    return (called_at + timedelta(minutes=report_in_minutes),
            called_at + timedelta(hours=part_hours))


def step(reported_in_at: datetime | None, done_at: datetime | None) -> str:
    """What a unit owes next: report_in, act, or done."""
    if reported_in_at is None:
        return "report_in"
    return "act" if done_at is None else "done"


def unit_light(called_at: datetime, report_in_due: datetime, part_due: datetime,
               reported_in_at: datetime | None, done_at: datetime | None,
               now: datetime) -> str | None:
    """green, yellow or red for the step a unit owes at `now`; None once its part is done.
    The part's time runs from the whistle, as its deadline does."""
    owed = step(reported_in_at, done_at)
    if owed == "done":
        return None
    due = report_in_due if owed == "report_in" else part_due
    if overdue(due, now):
        return "red"
    span = (due - called_at).total_seconds()
    used = (now - called_at).total_seconds()
    return "yellow" if used >= WARN_SHARE * span else "green"


def missed_report_in(report_in_due: datetime, reported_in_at: datetime | None,
                     now: datetime) -> bool:
    """Still not reported in at or after the deadline."""
    return reported_in_at is None and overdue(report_in_due, now)


def worst(lights) -> str | None:
    """The whistle's light: its worst unit's (None when every part is done)."""
    order = {"green": 0, "yellow": 1, "red": 2}
    shown = [x for x in lights if x is not None]
    return max(shown, key=order.__getitem__) if shown else None
