"""Writing a generated city's departments and whistles into a store (geo.store.cityparts).

A city's whistles name their issues by row of `city.issues`; bulk-loaded ids follow the time
of report (geo.store.base.time_order) and run on without a gap, so a row's id is found from
the id of the earliest report. Each whistle's audit trail (whistle_event) and the `whistle`
entry on its issue's trail are written from its times, as a whistle called through the API
leaves them."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from geo.store.base import time_order
from geo.workflow import overdue


def load_departments(store, city) -> None:
    """Write the city's departments; nothing when it has none."""
    frame = getattr(city, "departments", None)
    if frame is None or not len(frame):
        return
    with store.tx() as tx:
        tx.run_many("INSERT INTO department (id, name, kind, area_code, phone) VALUES "
                    "(:id, :name, :kind, :area_code, :phone)",
                    frame[["id", "name", "kind", "area_code", "phone"]].to_dict("records"))


def _value(v):
    """A frame's cell as a plain value: NaN/NaT as None, pandas times as datetimes."""
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    if isinstance(v, np.integer | np.floating):
        return int(v) if float(v).is_integer() else float(v)
    return v


def _records(frame: pd.DataFrame) -> list[dict]:
    return [{k: _value(v) for k, v in row.items()} for row in frame.to_dict("records")]


def issue_ids(tx, issues: pd.DataFrame) -> np.ndarray:
    """The ids the store gave the city's issue rows (consecutive, in time order)."""
    order = time_order(issues)
    earliest = issues.iloc[int(order[0])]
    first = tx.one("SELECT min(id) AS id FROM issue WHERE reported_at = :t AND "
                   "category_code = :c", {"t": earliest.reported_at.to_pydatetime(),
                                         "c": earliest.category_code})["id"]
    ids = np.empty(len(issues), np.int64)
    ids[order] = int(first) + np.arange(len(issues))
    return ids


def load_whistles(store, city) -> None:
    """Write the city's whistles (after its issues); nothing when it has none."""
    whistles = getattr(city, "whistles", None)
    units = getattr(city, "whistle_units", None)
    if whistles is None or not len(whistles):
        return
    with store.tx() as tx:
        ids = issue_ids(tx, city.issues)
        by_whistle = {}
        for u in _records(units):
            by_whistle.setdefault(u["whistle"], []).append(u)
        for k, w in enumerate(_records(whistles)):
            _write(tx, int(ids[w["issue_row"]]), w, by_whistle.get(k, []))


def _write(tx, issue_id: int, w: dict, units: list[dict]) -> None:
    issue = tx.one("SELECT district_code, street_code, community_code, state FROM issue "
                   "WHERE id = :i", {"i": issue_id})
    state = ("evaluated" if w["evaluated_at"] else
             "consulted" if w["consulted_at"] else "called")
    wid = int(tx.one(
        "INSERT INTO whistle (issue_id, district_code, street_code, community_code, state, open, "
        "called_by, called_at, reason, plan, consulted_by, consulted_at, rating, evaluation, "
        "evaluated_by, evaluated_at) VALUES (:i, :d, :s, :c, :state, :open, :called_by, "
        ":called_at, :reason, :plan, :consulted_by, :consulted_at, :rating, :evaluation, "
        ":evaluated_by, :evaluated_at) RETURNING id",
        {**{k: w[k] for k in ("called_by", "called_at", "reason", "rating", "evaluation",
                              "evaluated_by", "evaluated_at")},
         "plan": w["plan"] if w["consulted_at"] else None,
         "consulted_by": w["consulted_by"] if w["consulted_at"] else None,
         "consulted_at": w["consulted_at"], "i": issue_id, "d": issue["district_code"],
         "s": issue["street_code"], "c": issue["community_code"], "state": state,
         "open": state != "evaluated"})["id"])
    events: list[tuple[datetime, str, str, str | None, dict]] = []
    deps = [u["department_id"] for u in units]
    due_in, due_part = (units[0]["report_in_due"], units[0]["part_due"]) if units else (None,
                                                                                      None)
    call = {"whistle_id": wid, "department_ids": deps,
            "report_in_due": due_in.isoformat() if due_in else None,
            "part_due": due_part.isoformat() if due_part else None}
    events.append((w["called_at"], w["called_by"], "call", None, call))
    for u in units:
        late_in = None if u["reported_in_at"] is None else overdue(u["report_in_due"],
                                                                   u["reported_in_at"])
        late_done = None if u["done_at"] is None else overdue(u["part_due"], u["done_at"])
        tx.run("INSERT INTO whistle_unit (whistle_id, department_id, report_in_due, part_due, "
               "reported_in_at, reported_in_by, reported_in_late, task, done_at, done_by, "
               "done_late, feedback, rating) VALUES (:w, :d, :due_in, :due_part, :rin, :rby, "
               ":rlate, :task, :done, :dby, :dlate, :feedback, :rating)",
               {"w": wid, "d": u["department_id"], "due_in": u["report_in_due"],
                "due_part": u["part_due"], "rin": u["reported_in_at"],
                "rby": u["reported_in_by"], "rlate": late_in,
                "task": u["task"] if w["consulted_at"] else "", "done": u["done_at"],
                "dby": u["done_by"], "dlate": late_done, "feedback": u["feedback"] or "",
                "rating": u["rating"]})
        if u["reported_in_at"] is not None:
            events.append((u["reported_in_at"], u["reported_in_by"], "report_in",
                           u["department_id"], {"late": late_in, "note": ""}))
        if u["done_at"] is not None:
            events.append((u["done_at"], u["done_by"], "done", u["department_id"],
                           {"late": late_done, "feedback": u["feedback"]}))
    if w["consulted_at"]:
        events.append((w["consulted_at"], w["consulted_by"], "consult", None,
                       {"plan": w["plan"], "tasks": {u["department_id"]: u["task"]
                                                      for u in units}}))
    if w["evaluated_at"]:
        events.append((w["evaluated_at"], w["evaluated_by"], "evaluate", None,
                       {"rating": w["rating"],
                        "unit_ratings": {u["department_id"]: u["rating"] for u in units},
                        "comment": w["evaluation"] or ""}))
    order = {"call": 0, "report_in": 1, "consult": 2, "done": 3, "evaluate": 4}
    events.sort(key=lambda e: (e[0], order[e[2]]))
    tx.run_many("INSERT INTO whistle_event (whistle_id, at, actor, action, department_id, "
                "details) VALUES (:w, :at, :actor, :action, :d, :details)",
                [{"w": wid, "at": at, "actor": actor, "action": action, "d": dep,
                  "details": details} for at, actor, action, dep, details in events])
    tx.run("INSERT INTO issue_event (issue_id, at, actor, action, from_state, to_state, reason, "
           "details) VALUES (:i, :at, :actor, 'whistle', :s, :s, :reason, :d)",
           {"i": issue_id, "at": w["called_at"], "actor": w["called_by"], "s": _state_at(
               tx, issue_id, w["called_at"], issue["state"]), "reason": w["reason"], "d": call})


def _state_at(tx, issue_id: int, at: datetime, now_state: str) -> str:
    """The issue's state at a moment of its trail (its state now if the trail ends before)."""
    row = tx.one("SELECT to_state FROM issue_event WHERE issue_id = :i AND at <= :at "
                 "ORDER BY at DESC, id DESC LIMIT 1", {"i": issue_id, "at": at})
    return row["to_state"] if row else now_state
