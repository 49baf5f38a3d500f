"""Issues solved at each owning level (小事不出楼栋、大事不出社区): how many cases closed in a
period were closed while the building, the community, the street, the district or the city
owned them, and how many of those had been escalated there. Closed means solved (结案):
rejected and merged reports are not counted. Under the caller's jurisdiction, in SQL."""

from __future__ import annotations

from datetime import datetime

from geo.casework.errors import InvalidInput
from geo.casework.scope import Actor, visible_issues
from geo.escalation.levels import LEVELS, level_label, level_sql
from geo.i18n import _
from geo.store import Store
from geo.store.sql import Tx


def solved_by_level_tx(tx: Tx, actor: Actor, since: datetime, until: datetime) -> dict:
    """`solved_by_level` inside a caller's transaction (the big screen's snapshot)."""
    if since >= until:
        raise InvalidInput(_("since must be earlier than until"))
    where, params = visible_issues(actor, tx.dialect)
    rows = tx.rows(
        f"SELECT {level_sql('i')} AS level, count(*) AS solved, "
        "sum(CASE WHEN i.owner_level IS NULL THEN 0 ELSE 1 END) AS escalated "
        f"FROM issue i WHERE {where} AND i.state = 'closed' AND i.closed_at >= :since "
        f"AND i.closed_at < :until GROUP BY {level_sql('i')}",
        {**params, "since": since, "until": until})
    found = {r["level"]: r for r in rows}
    levels = [{"level": lv, "name": level_label(lv),
               "solved": int(found[lv]["solved"]) if lv in found else 0,
               "escalated": int(found[lv]["escalated"] or 0) if lv in found else 0}
              for lv in LEVELS]
    total = sum(lv["solved"] for lv in levels)
    for lv in levels:
        lv["share"] = lv["solved"] / total if total else 0.0
    return {"since": since, "until": until, "total": total, "levels": levels}


def solved_by_level(store: Store, actor: Actor, since: datetime, until: datetime) -> dict:
    """Per owning level, the issues closed in [since, until) that the caller may see:
    {since, until, total, levels: [{level, name, solved, escalated, share}]}."""
    with store.snapshot() as tx:
        return solved_by_level_tx(tx, actor, since, until)
