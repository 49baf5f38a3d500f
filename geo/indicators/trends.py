"""Reports and closures per Shanghai day over the last 30 days (today last).

One scan of the window: a sum per day, with the days' bounds worked out here (Asia/Shanghai
midnights) and compared as timestamps, the same on both backends."""

from __future__ import annotations

from datetime import datetime

from geo.casework.scope import Actor, visible_issues
from geo.i18n import local
from geo.indicators.days import TREND_DAYS, day_bounds
from geo.store.sql import Tx


def _sums(column: str, n: int, extra: str = "") -> str:
    return ", ".join(f"sum(CASE WHEN {extra}{column} >= :d{k} AND {column} < :d{k + 1} "
                     f"THEN 1 ELSE 0 END) AS n{k}" for k in range(n))


def daily(tx: Tx, actor: Actor, now: datetime, days: int = TREND_DAYS) -> list[dict]:
    """[{day: 'YYYY-MM-DD' (Shanghai), reported, closed}], oldest first."""
    bounds = day_bounds(now, days)
    where, params = visible_issues(actor, tx.dialect)
    params = {**params, **{f"d{k}": start for k, (start, _end) in enumerate(bounds)},
              f"d{days}": bounds[-1][1]}
    reported = tx.one(f"SELECT {_sums('i.reported_at', days)} FROM issue i WHERE {where} "
                      "AND i.reported_at >= :d0", params)
    sums = _sums("i.closed_at", days, "i.state = 'closed' AND ")
    closed = tx.one(f"SELECT {sums} FROM issue i WHERE {where} AND i.closed_at >= :d0", params)
    return [{"day": local(start).date().isoformat(), "reported": int(reported[f"n{k}"] or 0),
             "closed": int(closed[f"n{k}"] or 0)} for k, (start, _end) in enumerate(bounds)]
