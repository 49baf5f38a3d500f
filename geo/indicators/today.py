"""Today's flow through the loop (Asia/Shanghai day): reports, acceptances, dispatches, closures.

- reported: issues reported since today's midnight (what `GET /issues?since=` counts);
- accepted: issues the platform accepted today (平台接单: an `accept` step in the audit trail);
- dispatched: issues first sent to a team today (指挥中心派单: a `dispatch` step today and none
  before; a reassignment, or a dispatch again after a team returned the issue, is not a new
  dispatch);
- closed: issues closed today (结案: state `closed`, `closed_at` today; rejected and merged
  reports are not closures).
"""

from __future__ import annotations

from datetime import datetime

from geo.casework.scope import Actor, visible_issues
from geo.indicators.days import day_start
from geo.store.sql import Tx


def today_counts(tx: Tx, actor: Actor, now: datetime) -> dict:
    where, params = visible_issues(actor, tx.dialect)
    params = {**params, "start": day_start(now)}
    reported = tx.one(f"SELECT count(*) AS n FROM issue i WHERE {where} "
                      "AND i.reported_at >= :start", params)["n"]
    closed = tx.one(f"SELECT count(*) AS n FROM issue i WHERE {where} AND i.state = 'closed' "
                    "AND i.closed_at >= :start", params)["n"]
    steps = {r["action"]: r["n"] for r in tx.rows(
        # An issue with a step today was updated today: only those issues' trails are read
        # (by the trail's issue index), not the whole trail of every issue. An issue sent to a
        # team before today (returned and sent again today) is not dispatched today; accept
        # is taken once, from `reported`, so the same test leaves acceptances as they are.
        "SELECT e.action, count(DISTINCT e.issue_id) AS n FROM issue_event e "
        f"WHERE e.issue_id IN (SELECT i.id FROM issue i WHERE {where} "
        "AND i.updated_at >= :start) AND e.at >= :start AND e.action IN ('accept', 'dispatch') "
        "AND NOT EXISTS (SELECT 1 FROM issue_event p WHERE p.issue_id = e.issue_id "
        "AND p.action = e.action AND p.at < :start) "
        "GROUP BY e.action", params)}
    return {"since": params["start"], "reported": int(reported),
            "accepted": int(steps.get("accept", 0)), "dispatched": int(steps.get("dispatch", 0)),
            "closed": int(closed)}
