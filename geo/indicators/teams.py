"""Teams by status (available, busy, off duty) and roster, of the teams the viewer may see
(those serving a street of their jurisdiction, as `GET /teams` lists them)."""

from __future__ import annotations

from geo.casework.scope import Actor, visible_teams
from geo.store.sql import Tx
from geo.taxonomy import ROSTERS, TEAM_STATUSES


def team_status(tx: Tx, actor: Actor) -> dict:
    where, params = visible_teams(actor, tx.dialect)
    out = {"total": 0, "by_status": dict.fromkeys(TEAM_STATUSES, 0),
           "by_roster": dict.fromkeys(ROSTERS, 0)}
    for r in tx.rows(f"SELECT t.status, t.roster, count(*) AS n FROM team t WHERE {where} "
                     "GROUP BY t.status, t.roster", params):
        n = int(r["n"])
        out["total"] += n
        out["by_status"][r["status"]] += n
        out["by_roster"][r["roster"]] += n
    return out
