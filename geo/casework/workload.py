"""The teams' workload, as the ranking policy weighs it: open assignments per team (active
assignments to issues not yet closed), and when the teams shown were last assigned."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from geo.model import Workload
from geo.store.sql import Tx, as_dt
from geo.workflow import TERMINAL

# The policy's defaults (settings GRIDDISPATCH_MAX_OPEN_ASSIGNMENTS and
# GRIDDISPATCH_SECONDS_PER_OPEN_ASSIGNMENT): a team with three open assignments is full; each
# open one costs two minutes of ETA, the time to hand over or park the job it leaves.
MAX_OPEN = 3
PER_OPEN_S = 120.0


@dataclass(frozen=True)
class Policy:
    """How the ranking weighs workload (the service's settings choose it)."""

    max_open: int = MAX_OPEN
    per_open_s: float = PER_OPEN_S


DEFAULT_POLICY = Policy()


def read_workload(tx: Tx, policy: Policy = DEFAULT_POLICY) -> Workload:
    """Every team's open assignments, under the policy (active assignments only, by their
    partial index: a few per team, however long the history)."""
    rows = tx.rows(
        "SELECT a.team_id, count(*) AS open FROM assignment a JOIN issue i ON i.id = a.issue_id "
        f"WHERE a.active AND NOT {tx.dialect.in_list('i.state', 'done')} GROUP BY a.team_id",
        {"done": list(TERMINAL)})
    return Workload({r["team_id"]: int(r["open"]) for r in rows}, policy.max_open,
                    policy.per_open_s)


def last_assigned(tx: Tx, team_ids: list[str]) -> dict[str, datetime]:
    """When each of the teams was last assigned (absent: never)."""
    if not team_ids:
        return {}
    rows = tx.rows("SELECT a.team_id, max(a.assigned_at) AS last FROM assignment a "
                   f"WHERE {tx.dialect.in_list('a.team_id', 'ids')} GROUP BY a.team_id",
                   {"ids": team_ids})
    return {r["team_id"]: as_dt(r["last"]) for r in rows}
