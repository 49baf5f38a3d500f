"""The teams' workload, as the ranking policy (geo.model.Policy) weighs it: a team's open
assignments are its active assignments to issues it still has to work on (dispatched to it
or claimed by it); once it reports the work done, the issue waits on others."""

from __future__ import annotations

from datetime import datetime

from geo.model import Policy, Workload
from geo.store.sql import Tx, as_dt
from geo.workflow import BUSY_STATES

# The issues a team is busy with, through their partial index (migration 010): a handful,
# however long the history; their assignments looked up by issue, never scanned (assignments
# stay active after their issue closes).
_BUSY = "SELECT i.id FROM issue i WHERE i.state IN (" + ", ".join(f"'{s}'" for s in BUSY_STATES) + ")"


def read_workload(tx: Tx, policy: Policy) -> Workload:
    """Every team's open assignments, under the policy."""
    rows = tx.rows("SELECT a.team_id, count(*) AS open FROM assignment a WHERE "
                   f"{tx.dialect.in_few('a.issue_id', _BUSY)} AND a.active GROUP BY a.team_id")
    return Workload({r["team_id"]: int(r["open"]) for r in rows}, policy)


def last_assigned(tx: Tx, team_ids: list[str]) -> dict[str, datetime]:
    """When each of the teams was last assigned (absent: never)."""
    if not team_ids:
        return {}
    rows = tx.rows("SELECT a.team_id, max(a.assigned_at) AS last FROM assignment a "
                   f"WHERE {tx.dialect.in_list('a.team_id', 'ids')} GROUP BY a.team_id",
                   {"ids": team_ids})
    return {r["team_id"]: as_dt(r["last"]) for r in rows}
