"""Writing a generated city's escalations (fixtures.escalations) into a store, after its
issues: each becomes the issue's owner_level and an `escalate` entry in its audit trail at
its place in time. The levels come from where the store located the issue (its default
level, geo.escalation.levels) and how many levels up the escalation went; the actor is the
level that gave the issue up (the grid's worker below the street, then the dispatcher and
the supervisor). The trails of the escalated issues are written again in time order, so that
read in id order they stay in the order things happened."""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo.escalation import trail
from geo.escalation.levels import LEVELS, default_level, rank
from geo.store.base import time_order
from geo.store.sql import as_dt, as_json

ACTOR_OF = {"building": None, "community": None, "street": "dispatcher",
            "district": "supervisor"}  # None: the grid's worker, gw + grid code
EVENT_COLUMNS = ("issue_id", "at", "actor", "action", "from_state", "to_state", "reason",
                 "details")


def stored_ids(store, issues: pd.DataFrame) -> np.ndarray:
    """The ids the store gave the city's issues (rows → ids): the last len(issues) ids, in
    time of report, as add_issues gives them."""
    with store.snapshot() as tx:
        top = int(tx.one("SELECT coalesce(max(id), 0) AS n FROM issue")["n"])
    n = len(issues)
    ids = np.empty(n, np.int64)
    ids[time_order(issues)] = top - n + 1 + np.arange(n)
    return ids


def _escalation(row: dict, when, reason: str, steps: int, red: bool, state: str):
    start = default_level(row["category_code"], row["building_code"], row["compound_code"])
    if start == LEVELS[-1]:
        return None
    target = LEVELS[min(rank(start) + steps, len(LEVELS) - 1)]
    actor = ACTOR_OF[start] or f"gw{row['grid_code']}"
    return {"issue_id": row["id"], "at": when, "actor": actor, "action": trail.ACTION,
            "from_state": state, "to_state": state, "reason": reason,
            "details": {"from_level": start, "to_level": target,
                        "suggested": bool(red) and steps == 1}}


def load(store, city) -> None:
    """Write the city's escalations; nothing when it has none."""
    table = getattr(city, "escalations", None)
    if table is None or not len(table):
        return
    ids = stored_ids(store, city.issues)
    wanted = ids[table.issue.to_numpy(dtype=np.int64)]
    with store.tx() as tx:
        d = tx.dialect
        params = {"ids": wanted.tolist()}
        rows = {r["id"]: r for r in tx.rows(
            "SELECT id, category_code, reported_at, building_code, compound_code, grid_code "
            f"FROM issue WHERE {d.in_list('id', 'ids')}", params)}
        events: dict[int, list[dict]] = {}
        for e in tx.rows(f"SELECT {', '.join(EVENT_COLUMNS)} FROM issue_event WHERE "
                         f"{d.in_list('issue_id', 'ids')} ORDER BY issue_id, id", params):
            events.setdefault(e["issue_id"], []).append(
                {**e, "at": as_dt(e["at"]), "details": as_json(e["details"])})
        rewritten, levels = [], []
        for issue_id, e in zip(wanted.tolist(), table.itertuples(index=False), strict=True):
            row = rows[issue_id]
            entries = sorted(events[issue_id], key=lambda x: x["at"])  # other rooms' appended too
            if row["category_code"] != city.issues.category_code.iat[e.issue]:
                raise ValueError(f"issue {issue_id} is not the city's issue row {e.issue}: "
                                 "load escalations right after the city's issues")
            when = e.at.to_pydatetime()
            before = [x for x in entries if x["at"] < when]
            move = _escalation(row, when, e.reason, int(e.steps), bool(e.red),
                               before[-1]["to_state"])
            if move is None:
                continue
            rewritten += sorted(entries + [move], key=lambda x: x["at"])
            levels.append({"id": issue_id, "level": move["details"]["to_level"]})
        if not levels:
            return
        done = [x["id"] for x in levels]
        tx.run(f"DELETE FROM issue_event WHERE {d.in_list('issue_id', 'ids')}", {"ids": done})
        tx.run_many(f"INSERT INTO issue_event ({', '.join(EVENT_COLUMNS)}) VALUES "
                    f"({', '.join(':' + c for c in EVENT_COLUMNS)})", rewritten)
        tx.run_many("UPDATE issue SET owner_level = :level WHERE id = :id", levels)
