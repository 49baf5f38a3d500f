"""The monthly ranking's rule, written down once: what decides a place, in order.

Teams, streets and communities: the on-time closure rate (higher first), then the rework rate
(lower first), then the mean rating (higher first), then the number closed (more first).
Departments: the on-time report-in rate (higher first), then the on-time rate of their parts,
then the mean rating, then the number of times called. A figure that cannot be computed
(nothing closed, nothing due) ranks after every figure that can; ties keep the code order."""

from __future__ import annotations

from geo.i18n import N_, _

RULES = {
    "casework": N_("Ranked by on-time closure rate (higher first), then rework rate (lower "
                   "first), then mean rating (higher first), then cases closed (more first)."),
    "departments": N_("Ranked by on-time report-in rate (higher first), then the on-time rate "
                      "of their parts, then mean rating, then times called (more first)."),
}
KEYS = {
    "casework": (("on_time_rate", -1), ("rework_rate", 1), ("mean_rating", -1), ("closed", -1)),
    "departments": (("on_time_report_in_rate", -1), ("on_time_part_rate", -1),
                    ("mean_rating", -1), ("called", -1)),
}


def _key(row: dict, keys) -> tuple:
    out = []
    for name, sign in keys:
        value = row.get(name)
        out.append((value is None, 0.0 if value is None else sign * value))
    return (*out, row["code"])


def ranked(rows: list[dict], rule: str) -> list[dict]:
    """`rows` in ranking order, each with its `rank` (1 = best)."""
    keys = KEYS[rule]
    ordered = sorted(rows, key=lambda r: _key(r, keys))
    return [{**row, "rank": n} for n, row in enumerate(ordered, start=1)]


def rule_text(rule: str) -> str:
    return _(RULES[rule])
