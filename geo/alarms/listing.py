"""The alarms a reader may see: those whose issue lies in their jurisdiction (the issue rule
of geo.casework.scope), newest first. "open" ones are those whose issue still waits to be
accepted: the live map and the big screen flash them."""

from __future__ import annotations

from geo.alarms.raising import ALARM_COLUMNS, alarm_fields
from geo.casework.errors import InvalidInput
from geo.casework.scope import Actor, visible_issues
from geo.i18n import _
from geo.store import Store

STATUSES = ("open", "all")
MAX_ALARMS = 1000


def list_alarms(store: Store, actor: Actor, status: str = "open", limit: int = 500) -> list[dict]:
    """Alarms (see raising.alarm_fields) under `actor`'s jurisdiction, the latest raised first;
    `status` "open" keeps those whose issue is still reported (not yet accepted)."""
    if status not in STATUSES:
        raise InvalidInput(_("status must be one of {known}").format(known=", ".join(STATUSES)))
    if not 1 <= limit <= MAX_ALARMS:
        raise InvalidInput(_("limit must be from 1 to {n}").format(n=MAX_ALARMS))
    with store.snapshot() as tx:
        d = tx.dialect
        where, params = visible_issues(actor, d)
        only_open = " AND i.state = 'reported'" if status == "open" else ""
        rows = tx.rows(
            f"SELECT {ALARM_COLUMNS}, i.state AS issue_state, {d.lon('i')} AS lon, "
            f"{d.lat('i')} AS lat, s.name AS site_name FROM alarm a "
            "JOIN issue i ON i.id = a.issue_id LEFT JOIN site s ON s.id = a.site_id "
            f"WHERE {where}{only_open} ORDER BY a.last_raised_at DESC, a.id DESC LIMIT :limit",
            {**params, "limit": limit})
    return [alarm_fields(r) for r in rows]
