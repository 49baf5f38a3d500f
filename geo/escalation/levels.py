"""Owning levels (责任层级) and where an issue starts: "small things stay in the building, big
things stay in the community" (小事不出楼栋、大事不出社区).

An issue is owned at the lowest level that can solve it. The table below says, per category,
where it starts when it lies in a building, in a compound outside any building, or elsewhere:
neighbours', stairwells' and property problems start in the building; vendors, parking and
firms start at the street, whose enforcement team and enterprise service handle them. An
escalation moves it one level up (or more), never down, and never past the city.
"""

from __future__ import annotations

from geo.i18n import N_, label
from geo.taxonomy import CATEGORY_BY_CODE

LEVELS = ("building", "community", "street", "district", "city")
LEVEL_LABELS = {"building": N_("building"), "community": N_("community"),
                "street": N_("street"), "district": N_("district"), "city": N_("city")}

B, C, S = "building", "community", "street"
# category: (in a building, in a compound but no building, elsewhere)
DEFAULT_LEVELS: dict[str, tuple[str, str, str]] = {
    "L01": (S, S, S),  # street vendors: the street's enforcement team
    "L02": (C, C, S),  # sewer blockage: the compound's drains, else the street's
    "L03": (B, C, S),  # noise: neighbours first, street noise is enforcement's
    "L04": (S, S, S),  # illegal parking: enforcement
    "L05": (B, C, C),  # pipe repair
    "L06": (S, S, S),  # parking-space planning: the street plans with the property company
    "L07": (B, C, C),  # property-management problem
    "L08": (C, C, C),  # rubbish dumping
    "S01": (C, C, S),  # manhole cover: the compound's, else the street's
    "S02": (B, C, C),  # dispute between neighbours
    "S03": (C, C, C),  # safety hazard
    "S04": (B, C, C),  # fire hazard in a stairwell
    "E01": (S, S, S),  # enterprise request: the street's enterprise service
    "E02": (S, S, S),  # business environment
    "P01": (C, C, C),  # party members' service (报到) is organised by the community
}
del B, C, S
assert set(DEFAULT_LEVELS) == set(CATEGORY_BY_CODE), "every category needs its levels"


def level_label(level: str | None) -> str | None:
    """A level in the reader's language (the value itself if unknown)."""
    if level is None:
        return None
    return label(LEVEL_LABELS, level)


def default_level(category_code: str, building_code: str | None,
                  compound_code: str | None) -> str:
    """Where an issue of this category at this place starts."""
    in_building, in_compound, elsewhere = DEFAULT_LEVELS[category_code]
    if building_code:
        return in_building
    return in_compound if compound_code else elsewhere


def default_level_sql(alias: str = "i") -> str:
    """`default_level` as an SQL expression over an issue row (the same table)."""
    whens = []
    for place, test in ((0, f"{alias}.building_code IS NOT NULL"),
                        (1, f"{alias}.compound_code IS NOT NULL"), (2, None)):
        for level in LEVELS:
            codes = [c for c, levels in DEFAULT_LEVELS.items() if levels[place] == level]
            if codes:
                inside = f"{alias}.category_code IN ({', '.join(repr(c) for c in codes)})"
                whens.append(f"WHEN {test + ' AND ' if test else ''}{inside} THEN '{level}'")
    return f"CASE {' '.join(whens)} END"


def level_sql(alias: str = "i") -> str:
    """The level owning an issue now: its owner_level, else its default."""
    return f"COALESCE({alias}.owner_level, {default_level_sql(alias)})"


def rank(level: str) -> int:
    return LEVELS.index(level)


def next_level(level: str) -> str | None:
    """The level above, or None above the city."""
    i = rank(level)
    return LEVELS[i + 1] if i + 1 < len(LEVELS) else None
