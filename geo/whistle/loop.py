"""The offline loop on a store: blow the whistle (吹哨), report in (报到), consult (会商),
report a part done (落实/反馈) and evaluate (评价), one audited transaction each.

Each step locks the whistle row first and checks it as it is then, so of two users acting at
once one goes first and the other sees its outcome (a 409 saying what the whistle is now); a
step sent with the version it was decided on (If-Match) is refused with a 412 once the
whistle has another. Calling locks the issue against changes and relies on the unique partial
index `whistle_open_issue`: of two callers racing on one issue exactly one whistle is open."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from geo.casework import read as issues
from geo.casework.errors import (
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    StateConflict,
)
from geo.casework.scope import Actor
from geo.i18n import _
from geo.store import Store
from geo.store.sql import Conflict, Tx, as_dt
from geo.whistle import read, rules
from geo.workflow import TERMINAL, overdue, state_label


@dataclass(frozen=True)
class Call:
    """What a caller asks for: the departments, their deadlines and why."""

    department_ids: tuple[str, ...]
    report_in_minutes: int = rules.REPORT_IN_MINUTES
    part_hours: int = rules.PART_HOURS
    reason: str = ""


@dataclass(frozen=True)
class Evaluation:
    rating: int
    unit_ratings: dict[str, int] = field(default_factory=dict)
    comment: str = ""


def _text(value: str, name: str) -> str:
    if len(value) > rules.MAX_TEXT:
        raise InvalidInput(_("{field} is longer than {n} characters").format(
            field=name, n=rules.MAX_TEXT), code="text_too_long")
    return value


def _check_call(c: Call) -> None:
    if not c.department_ids:
        raise InvalidInput(_("name at least one department to call"), code="no_departments")
    if len(c.department_ids) > rules.MAX_UNITS:
        raise InvalidInput(_("a whistle calls at most {n} departments").format(
            n=rules.MAX_UNITS), code="too_many_departments")
    if len(set(c.department_ids)) != len(c.department_ids):
        raise InvalidInput(_("each department may be named once"), code="duplicate_department")
    if not 1 <= c.report_in_minutes <= rules.MAX_REPORT_IN_MINUTES:
        raise InvalidInput(_("report_in_minutes must be from 1 to {n}").format(
            n=rules.MAX_REPORT_IN_MINUTES), code="deadline_range")
    if not 1 <= c.part_hours <= rules.MAX_PART_HOURS:
        raise InvalidInput(_("part_hours must be from 1 to {n}").format(
            n=rules.MAX_PART_HOURS), code="deadline_range")
    if c.part_hours * 60 < c.report_in_minutes:
        raise InvalidInput(_("the part's deadline must not come before the report-in "
                             "deadline"), code="deadline_range")
    _text(c.reason, "reason")


def _departments(tx: Tx, issue: dict, ids: tuple[str, ...]) -> None:
    """Every department named exists and serves the issue's street or its district."""
    rows = {r["id"]: r for r in tx.rows(
        f"SELECT id, name, area_code FROM department WHERE {tx.dialect.in_list('id', 'ids')}",
        {"ids": list(ids)})}
    unknown = [d for d in ids if d not in rows]
    if unknown:
        raise InvalidInput(_("no department {department}").format(department=unknown[0]),
                           code="unknown_department")
    serving = (issue["street_code"], issue["district_code"])
    for d in ids:
        if rows[d]["area_code"] not in serving:
            names = {r["code"]: r["name"] for r in tx.rows(
                "SELECT code, name FROM street WHERE code = :s UNION ALL "
                "SELECT code, name FROM district WHERE code = :d",
                {"s": issue["street_code"], "d": issue["district_code"]})}
            raise InvalidInput(_(
                "{department} does not serve {street} or {district}, where issue {issue} "
                "lies: call departments of that street or district").format(
                    department=rows[d]["name"], street=names.get(issue["street_code"], ""),
                    district=names.get(issue["district_code"], ""), issue=issue["id"]),
                code="department_outside_area")


def _event(tx: Tx, whistle_id: int, now: datetime, actor: Actor, action: str,
           department_id: str | None = None, details: dict | None = None) -> None:
    tx.run("INSERT INTO whistle_event (whistle_id, at, actor, action, department_id, details) "
           "VALUES (:w, :at, :actor, :action, :dep, :details)",
           {"w": whistle_id, "at": now, "actor": actor.username, "action": action,
            "dep": department_id, "details": details or {}})


def _already_open(issue_id: int) -> StateConflict:
    return StateConflict(_("issue {issue} already has an open whistle: follow that one").format(
        issue=issue_id), code="whistle_open")


def call(store: Store, actor: Actor, issue_id: int, c: Call, now: datetime) -> dict:
    """Blow the whistle on an open issue the caller may see; the whistle as it is then."""
    _check_call(c)
    try:
        with store.tx() as tx:
            issue = issues.fetch(tx, actor, issue_id, hold=True)
            if issue["state"] in TERMINAL:
                raise StateConflict(_("issue {issue} is {state}: a whistle is for an open "
                                      "issue").format(issue=issue_id,
                                                      state=state_label(issue["state"])),
                                    code="issue_finished")
            if not issue["street_code"]:
                raise InvalidInput(_("issue {issue} lies outside every street").format(
                    issue=issue_id), code="outside_city")
            if not actor.covers_code(issue["community_code"] or issue["street_code"]):
                raise Forbidden(_("issue {issue} lies outside your jurisdiction").format(
                    issue=issue_id), code="outside_jurisdiction")
            if tx.one("SELECT id FROM whistle WHERE issue_id = :i AND open = :yes",
                      {"i": issue_id, "yes": True}):
                raise _already_open(issue_id)
            _departments(tx, issue, c.department_ids)
            now = max(now, as_dt(issue["state_since"]) or now)
            row = tx.one("INSERT INTO whistle (issue_id, district_code, street_code, "
                         "community_code, called_by, called_at, reason) VALUES (:i, :d, :s, :c, "
                         ":by, :now, :reason) RETURNING id",
                         {"i": issue_id, "d": issue["district_code"], "s": issue["street_code"],
                          "c": issue["community_code"], "by": actor.username, "now": now,
                          "reason": c.reason})
            wid = int(row["id"])
            due_in, due_part = rules.deadlines(now, c.report_in_minutes, c.part_hours)
            tx.run_many("INSERT INTO whistle_unit (whistle_id, department_id, report_in_due, "
                        "part_due) VALUES (:w, :d, :due_in, :due_part)",
                        [{"w": wid, "d": d, "due_in": due_in, "due_part": due_part}
                         for d in c.department_ids])
            details = {"whistle_id": wid, "department_ids": list(c.department_ids),
                       "report_in_due": due_in.isoformat(), "part_due": due_part.isoformat()}
            _event(tx, wid, now, actor, "call", details=details)
            tx.run("INSERT INTO issue_event (issue_id, at, actor, action, from_state, to_state, "
                   "reason, details) VALUES (:i, :now, :actor, 'whistle', :s, :s, :reason, :d)",
                   {"i": issue_id, "now": now, "actor": actor.username, "s": issue["state"],
                    "reason": c.reason, "d": details})
            return read.whistle_view(tx, actor, wid, now)
    except Conflict as exc:  # a rival's whistle on the same issue committed first
        if exc.constraint not in (None, "whistle_open_issue"):
            raise
        raise _already_open(issue_id) from None


def _open_whistle(tx: Tx, actor: Actor, whistle_id: int, expected: int | None) -> dict:
    """The whistle, locked, still open and at the version the caller decided on."""
    w = read.fetch(tx, actor, whistle_id, lock=True)
    if expected is not None and int(w["version"]) != expected:
        raise PreconditionFailed(_(
            "whistle {whistle} changed since you loaded it (version {expected}): it is now "
            "version {version}, {state}; reload it and decide again").format(
                whistle=whistle_id, expected=expected, version=w["version"],
                state=rules.state_label(w["state"])))
    if not w["open"]:
        raise StateConflict(_("whistle {whistle} is closed: it was evaluated").format(
            whistle=whistle_id), [], w["state"], code="whistle_closed")
    return w


def _bump(tx: Tx, w: dict, sets: str, params: dict) -> None:
    """Write the whistle's change on the version it was read at (locked: it holds)."""
    changed = tx.run(f"UPDATE whistle SET version = version + 1{sets} WHERE id = :w AND "
                     "version = :v", {**params, "w": w["id"], "v": w["version"]})
    if not changed:
        raise StateConflict(_("whistle {whistle} changed while you were acting").format(
            whistle=w["id"]), code="whistle_changed")


def _unit(tx: Tx, actor: Actor, w: dict, department_id: str) -> dict:
    """The called unit a department account (or an admin) acts for."""
    if actor.role != "admin" and actor.department_id != department_id:
        raise Forbidden(_("you act for {own}, not for {department}: each unit reports for "
                          "itself").format(own=actor.department_id or "-",
                                           department=department_id), code="not_your_unit")
    u = tx.one("SELECT department_id, report_in_due, part_due, reported_in_at, done_at "
               "FROM whistle_unit WHERE whistle_id = :w AND department_id = :d",
               {"w": w["id"], "d": department_id})
    if u is None:
        raise NotFound(_("whistle {whistle} did not call {department}").format(
            whistle=w["id"], department=department_id), code="unit_not_called")
    return u


def _after(now: datetime, *times) -> datetime:
    """`now`, or the latest of the whistle's earlier times if this clock runs behind them."""
    return max([now, *[t for t in map(as_dt, times) if t is not None]])


def report_in(store: Store, actor: Actor, whistle_id: int, department_id: str,
              now: datetime, note: str = "") -> dict:
    """A called unit reports in (报到); after its deadline it is recorded as late."""
    _text(note, "note")
    with store.tx() as tx:
        w = _open_whistle(tx, actor, whistle_id, None)
        u = _unit(tx, actor, w, department_id)
        if u["reported_in_at"] is not None:
            raise StateConflict(_("{department} has already reported in").format(
                department=department_id), code="already_reported_in")
        now = _after(now, w["called_at"])
        late = overdue(as_dt(u["report_in_due"]), now)
        tx.run("UPDATE whistle_unit SET reported_in_at = :now, reported_in_by = :by, "
               "reported_in_late = :late WHERE whistle_id = :w AND department_id = :d",
               {"now": now, "by": actor.username, "late": late, "w": whistle_id,
                "d": department_id})
        _bump(tx, w, "", {})
        _event(tx, whistle_id, now, actor, "report_in", department_id,
               {"late": late, "note": note})
        return read.whistle_view(tx, actor, whistle_id, now)


def consult(store: Store, actor: Actor, whistle_id: int, plan: str, tasks: dict[str, str],
            now: datetime, expected_version: int | None = None) -> dict:
    """The caller records the consultation (会商): the plan and each unit's task."""
    if not plan.strip():
        raise InvalidInput(_("the consultation needs a plan"), code="plan_required")
    _text(plan, "plan")
    for task in tasks.values():
        _text(task, "task")
    with store.tx() as tx:
        w = _open_whistle(tx, actor, whistle_id, expected_version)
        if w["state"] != "called":
            raise StateConflict(_("whistle {whistle} was already consulted on").format(
                whistle=whistle_id), read.allowed(w["state"]), w["state"],
                code="already_consulted")
        units = {u["department_id"]: u for u in tx.rows(
            "SELECT department_id, reported_in_at FROM whistle_unit WHERE whistle_id = :w",
            {"w": whistle_id})}
        stray = sorted(set(tasks) - set(units))
        if stray:
            raise InvalidInput(_("whistle {whistle} did not call {department}").format(
                whistle=whistle_id, department=stray[0]), code="unit_not_called")
        if all(u["reported_in_at"] is None for u in units.values()):
            raise StateConflict(_("no unit has reported in yet: consult with those who "
                                  "came"), read.allowed(w["state"]), w["state"],
                                code="nobody_reported_in")
        now = _after(now, w["called_at"])
        _bump(tx, w, ", state = 'consulted', plan = :plan, consulted_by = :by, "
                     "consulted_at = :now", {"plan": plan, "by": actor.username, "now": now})
        tx.run_many("UPDATE whistle_unit SET task = :task WHERE whistle_id = :w AND "
                    "department_id = :d",
                    [{"task": t, "w": whistle_id, "d": d} for d, t in sorted(tasks.items())])
        _event(tx, whistle_id, now, actor, "consult", details={"plan": plan, "tasks": tasks})
        return read.whistle_view(tx, actor, whistle_id, now)


def done(store: Store, actor: Actor, whistle_id: int, department_id: str, feedback: str,
         now: datetime) -> dict:
    """A unit reports its part done (落实) with its feedback (反馈)."""
    _text(feedback, "feedback")
    with store.tx() as tx:
        w = _open_whistle(tx, actor, whistle_id, None)
        u = _unit(tx, actor, w, department_id)
        if u["reported_in_at"] is None:
            raise StateConflict(_("{department} has not reported in: report in first").format(
                department=department_id), code="not_reported_in")
        if w["state"] == "called":
            raise StateConflict(_("whistle {whistle} has no plan yet: parts are done after "
                                  "the consultation").format(whistle=whistle_id),
                                read.allowed(w["state"]), w["state"], code="not_consulted")
        if u["done_at"] is not None:
            raise StateConflict(_("{department} has already reported its part done").format(
                department=department_id), code="already_done")
        now = _after(now, w["consulted_at"], u["reported_in_at"])
        late = overdue(as_dt(u["part_due"]), now)
        tx.run("UPDATE whistle_unit SET done_at = :now, done_by = :by, done_late = :late, "
               "feedback = :feedback WHERE whistle_id = :w AND department_id = :d",
               {"now": now, "by": actor.username, "late": late, "feedback": feedback,
                "w": whistle_id, "d": department_id})
        _bump(tx, w, "", {})
        _event(tx, whistle_id, now, actor, "done", department_id,
               {"late": late, "feedback": feedback})
        return read.whistle_view(tx, actor, whistle_id, now)


def _check_ratings(e: Evaluation) -> None:
    for value in (e.rating, *e.unit_ratings.values()):
        if not isinstance(value, int) or not 1 <= value <= 5:
            raise InvalidInput(_("ratings are whole numbers from 1 to 5"), code="rating_range")
    _text(e.comment, "comment")


def evaluate(store: Store, actor: Actor, whistle_id: int, e: Evaluation, now: datetime,
             expected_version: int | None = None) -> dict:
    """The caller evaluates (评价) each unit and the whole once every part is done; this
    closes the whistle."""
    _check_ratings(e)
    with store.tx() as tx:
        w = _open_whistle(tx, actor, whistle_id, expected_version)
        units = tx.rows("SELECT department_id, done_at FROM whistle_unit WHERE whistle_id = :w "
                        "ORDER BY department_id", {"w": whistle_id})
        outstanding = [u["department_id"] for u in units if u["done_at"] is None]
        if outstanding or w["state"] != "consulted":
            raise StateConflict(_("not every part is done yet (outstanding: {units}): "
                                  "evaluate once each unit has reported its part").format(
                                      units=", ".join(outstanding) or "-"),
                                read.allowed(w["state"]), w["state"], code="parts_not_done")
        called = {u["department_id"] for u in units}
        if set(e.unit_ratings) != called:
            raise InvalidInput(_("rate every called unit, and only those: {units}").format(
                units=", ".join(sorted(called))), code="unit_ratings")
        now = _after(now, *(u["done_at"] for u in units))
        _bump(tx, w, ", state = 'evaluated', open = :no, rating = :rating, evaluation = :c, "
                     "evaluated_by = :by, evaluated_at = :now",
              {"no": False, "rating": e.rating, "c": e.comment, "by": actor.username,
               "now": now})
        tx.run_many("UPDATE whistle_unit SET rating = :r WHERE whistle_id = :w AND "
                    "department_id = :d",
                    [{"r": r, "w": whistle_id, "d": d} for d, r in sorted(e.unit_ratings.items())])
        _event(tx, whistle_id, now, actor, "evaluate",
               details={"rating": e.rating, "unit_ratings": e.unit_ratings,
                        "comment": e.comment})
        return read.whistle_view(tx, actor, whistle_id, now)
