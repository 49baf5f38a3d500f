"""The national indicators of digital urban management (GB/T 30428.4), over the issues
reported in a window (today, the last 7 or 30 Shanghai days, today included).

Counts, of the issues `actor` may see reported since the window's start:
- reported: all reports;
- filed (立案): reports the platform took on, i.e. not waiting for acceptance any more and
  neither rejected nor merged (state not in reported, rejected, merged);
- closed (结案): state `closed` (after the citizen's rating, or closed by supervision);
- closed_on_time (按期结案): closed with no step past its deadline (`overdue_steps = 0`, each
  late step is counted when it is taken);
- reworked (返工): closed after at least one failed check: supervision sent the team's result
  back (check with passed false: resolved → claimed, counted in `rework_count`). A dispatch
  returned by its team (wrong team) is a routing correction, not rework;
- rated: closed with a citizen's rating (1-5); satisfied: rated 4 or 5 (满意, 基本满意).

Rates (None when the denominator is 0), as fractions, over the issues reported in the window:
- closure_rate 结案率 = closed / filed
- on_time_rate 按期结案率 = closed_on_time / closed
- rework_rate 返工率 = reworked / closed
- satisfaction 满意率 = satisfied / rated

Source: these are our own definitions over the window's reports. The text of GB/T 30428.4
(and of CJ/T 292, which it replaced) could not be consulted. The cities' published bulletins
divide 结案率, 按期结案率 and 返工率 by 应结案数 (the cases due in the period, which may have
been filed before it) instead: for example Zhengzhou's weekly report of 8-14 April 2019
(52434 应结案, 43523 结案 = 83.01%, 40394 按期结案 = 77.04%, 276 返工 = 0.53%) and Tianmen's
report for December 2016. So our on-time and rework rates are shares of the closed cases,
not of the cases due, and they are not comparable with those bulletins' figures.

on_time_rate and rework_rate are `GET /stats`'s own (summed over its areas), so the screen and
the summary never disagree.
"""

from __future__ import annotations

from datetime import datetime

from geo.casework.scope import Actor, visible_issues
from geo.indicators.days import WINDOWS, window_start
from geo.store.sql import Tx

SATISFIED = 4  # ratings of 4 and 5 count as satisfied


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def indicators(tx: Tx, actor: Actor, since: datetime) -> dict:
    """The counts and rates above for the issues reported since `since`."""
    where, params = visible_issues(actor, tx.dialect)
    r = tx.one(
        "SELECT count(*) AS reported, "
        "sum(CASE WHEN i.state NOT IN ('reported', 'rejected', 'merged') THEN 1 ELSE 0 END) "
        "AS filed, "
        "sum(CASE WHEN i.state = 'closed' THEN 1 ELSE 0 END) AS closed, "
        "sum(CASE WHEN i.state = 'closed' AND i.overdue_steps = 0 THEN 1 ELSE 0 END) "
        "AS closed_on_time, "
        "sum(CASE WHEN i.state = 'closed' AND i.rework_count > 0 THEN 1 ELSE 0 END) AS reworked, "
        "sum(CASE WHEN i.state = 'closed' AND i.rating IS NOT NULL THEN 1 ELSE 0 END) AS rated, "
        "sum(CASE WHEN i.state = 'closed' AND i.rating >= :satisfied THEN 1 ELSE 0 END) "
        f"AS satisfied FROM issue i WHERE {where} AND i.reported_at >= :since",
        {**params, "since": since, "satisfied": SATISFIED})
    n = {k: int(r[k] or 0) for k in ("reported", "filed", "closed", "closed_on_time", "reworked",
                                     "rated", "satisfied")}
    return {"since": since, **n,
            "closure_rate": _rate(n["closed"], n["filed"]),
            "on_time_rate": _rate(n["closed_on_time"], n["closed"]),
            "rework_rate": _rate(n["reworked"], n["closed"]),
            "satisfaction": _rate(n["satisfied"], n["rated"])}


def national(tx: Tx, actor: Actor, now: datetime) -> dict:
    """The indicators for each window of `days.WINDOWS`."""
    return {name: indicators(tx, actor, window_start(now, days)) for name, days in WINDOWS.items()}
