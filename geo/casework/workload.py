"""The teams' workload, as the ranking policy weighs it: open assignments per team (active
assignments to issues not yet closed) and when each team was last assigned."""

from __future__ import annotations

from geo.model import Workload
from geo.store.sql import Tx, as_dt
from geo.workflow import TERMINAL

# The policy's defaults (GRIDDISPATCH_MAX_OPEN_ASSIGNMENTS, GRIDDISPATCH_SECONDS_PER_OPEN_ASSIGNMENT):
# a team with three open assignments is full; each open one costs two minutes of ETA, the
# time to hand over or park the job it leaves.
MAX_OPEN = 3
PER_OPEN_S = 120.0


def read_workload(tx: Tx, max_open: int = MAX_OPEN, per_open_s: float = PER_OPEN_S) -> Workload:
    """Every team's open assignments and last assignment time, under the given policy."""
    d = tx.dialect
    rows = tx.rows(
        "SELECT a.team_id, count(*) FILTER (WHERE a.active AND "
        f"NOT {d.in_list('i.state', 'done')}) AS open, max(a.assigned_at) AS last "
        "FROM assignment a JOIN issue i ON i.id = a.issue_id GROUP BY a.team_id",
        {"done": list(TERMINAL)})
    return Workload(open_assignments={r["team_id"]: int(r["open"]) for r in rows if r["open"]},
                    last_assigned_at={r["team_id"]: as_dt(r["last"]) for r in rows},
                    max_open=max_open, per_open_s=per_open_s)
