"""Resolution rates (化解率) per community, street or district, as the seed reports them
("排查矛盾纠纷1254起，化解1232起，化解率98.2%"): of the disputes found in a period, the share
resolved by agreement by the period's end. Referred, withdrawn and still open disputes count as
found but not resolved. Counted in SQL under the reader's jurisdiction: a reader of one street
sees its district's row made of that street's disputes only."""

from __future__ import annotations

from datetime import datetime, timedelta

from geo.casework.errors import InvalidInput
from geo.casework.scope import Actor
from geo.i18n import _
from geo.mediation.access import visible_disputes
from geo.store import Store

LEVELS = {"community": "community", "street": "street", "district": "district"}  # level → table
DEFAULT_PERIOD = timedelta(days=365)
MAX_PERIOD = timedelta(days=10 * 366)
COUNTS = ("found", "resolved", "referred", "withdrawn", "open")


def period(now: datetime, since: datetime | None, until: datetime | None
           ) -> tuple[datetime, datetime]:
    """[since, until): by default the year up to now."""
    until = until or now
    since = since or until - DEFAULT_PERIOD
    if since >= until:
        raise InvalidInput(_("since must come before until"), code="bad_period")
    if until - since > MAX_PERIOD:
        raise InvalidInput(_("the period may be at most ten years long"), code="bad_period")
    return since, until


def _rate(row: dict) -> dict:
    found = row["found"]
    return {**row, "rate": round(row["resolved"] / found, 4) if found else None}


def resolution_rates(store: Store, actor: Actor, level: str, now: datetime,
                     since: datetime | None = None, until: datetime | None = None) -> dict:
    """Per area of `level` with disputes found in [since, until): found, resolved (by
    agreement before `until`), referred, withdrawn, open (at `until`) and the rate
    resolved / found; `total` over them all."""
    if level not in LEVELS:
        raise InvalidInput(_("level must be one of {known}").format(known=", ".join(LEVELS)),
                           code="bad_level")
    since, until = period(now, since, until)
    with store.snapshot() as tx:
        where, params = visible_disputes(actor, tx.dialect)
        closed = "d.closed_at < :until"
        rows = tx.rows(
            f"SELECT d.{level}_code AS code, a.name, count(*) AS found, "
            f"sum(CASE WHEN d.state = 'resolved' AND {closed} THEN 1 ELSE 0 END) AS resolved, "
            f"sum(CASE WHEN d.state = 'referred' AND {closed} THEN 1 ELSE 0 END) AS referred, "
            f"sum(CASE WHEN d.state = 'withdrawn' AND {closed} THEN 1 ELSE 0 END) AS withdrawn "
            f"FROM dispute d JOIN {LEVELS[level]} a ON a.code = d.{level}_code "
            f"WHERE {where} AND d.found_at >= :since AND d.found_at < :until "
            f"GROUP BY d.{level}_code, a.name ORDER BY d.{level}_code",
            {**params, "since": since, "until": until})
    items = []
    for r in rows:
        counts = {k: int(r[k]) for k in ("found", "resolved", "referred", "withdrawn")}
        counts["open"] = counts["found"] - counts["resolved"] - counts["referred"] \
            - counts["withdrawn"]
        items.append(_rate({"code": r["code"], "name": r["name"], **counts}))
    total = _rate({k: sum(i[k] for i in items) for k in COUNTS})
    return {"level": level, "since": since, "until": until, "items": items, "total": total}
