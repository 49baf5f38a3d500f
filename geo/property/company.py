"""One company as a viewer may see it (its compounds, figures, standing and talks), and the
compounds of every company a viewer may see, for the map coloured by standing."""

from __future__ import annotations

import shapely

from geo.casework.scope import Actor
from geo.property import ranking, rule, talks
from geo.property.figures import compounds, known_company
from geo.property.period import Period

TALKS_SHOWN = 50  # a company's latest talks on its page


def _rates(row: dict) -> dict:
    f = rule.Figures(row["code"], row["name"], 1, row["households"],
                     *(row[k] for k in ("complaints", "closed", "closed_on_time", "reworked",
                                        "rated", "rating_sum")))
    return {"per_1000": ranking.rounded(f.per_1000, 2),
            "on_time_rate": ranking.rounded(f.on_time_rate, 4),
            "rework_rate": ranking.rounded(f.rework_rate, 4), "rating": ranking.rounded(f.rating, 2)}


def company(store, actor: Actor, company_id: str, period: Period) -> dict:
    """The company's line on the list, its compounds that `actor` may see with their own
    figures, and its latest talks; NotFound when `actor` may not see the company."""
    ranking.check_reader(actor)
    with store.snapshot() as tx:
        row = known_company(tx, actor, company_id)
        now, before = ranking.standings(tx, period)
        line = next(ranking.entry(s, before.get(company_id)) for s in now
                    if s.figures.company_id == company_id)
        own = compounds(tx, actor, period, company_id)
        recorded = talks.latest(tx, company_id, TALKS_SHOWN)
    for c in own:
        c.update(_rates(c))
        c.pop("rating_sum")
    return {"period": period.label, "start": period.start, "end": period.end,
            "previous_period": period.previous().label, "company": row, "figures": line,
            "compound_list": own, "talks": recorded}


def compound_map(store, actor: Actor, period: Period) -> list[dict]:
    """The compounds `actor` may see with their company's standing in `period`: dicts with
    `code`, `geometry` (shapely) and the properties the map shows."""
    ranking.check_reader(actor)
    with store.snapshot() as tx:
        now, _before = ranking.standings(tx, period)
        rows = compounds(tx, actor, period, with_geometry=True)
    by_company = {s.figures.company_id: s for s in now}
    geoms = shapely.from_wkb([r.pop("geom") for r in rows])
    out = []
    for r, g in zip(rows, geoms, strict=True):
        s = by_company[r["company_id"]]
        out.append({"code": r["code"], "geometry": g, "properties": {
            "code": r["code"], "name": r["name"], "community_name": r["community_name"],
            "households": r["households"], "complaints": r["complaints"],
            "company_id": r["company_id"], "company_name": s.figures.name,
            "standing": s.standing, "rank": s.rank}})
    return out
